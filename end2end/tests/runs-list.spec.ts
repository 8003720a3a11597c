import { expect, test } from "@playwright/test";
import { login, open } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

test("the runs list follows a run as it goes, without a reload", async ({ page, context }) => {
  await login(page);
  // Launched from another tab, while the list is open in this one.
  await open(page, "/");
  await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  const launcher = await context.newPage();
  await open(launcher, "/launch");
  await launcher.getByLabel("Model", { exact: true }).selectOption("sim-gemma-3-4b");
  await launcher.getByLabel("Requests", { exact: true }).fill("120");
  await launcher.getByLabel("Concurrency", { exact: true }).fill("4");
  await launcher.getByLabel("Name (optional)").fill("live list e2e");
  await launcher.getByRole("button", { name: "Launch run" }).click();
  await expect(launcher).toHaveURL(/\/runs\/\d+$/);
  const id = launcher.url().split("/").pop();
  await launcher.close();

  // The list picks the new run up by itself (within its idle refresh), then follows it.
  const row = page.locator(`tr[data-run="${id}"]`);
  await expect(row).toBeVisible({ timeout: 20_000 });
  const requests = row.locator("td.num").first();
  const seen = new Set<string>();
  seen.add((await requests.textContent()) ?? "");
  await expect(async () => {
    seen.add((await requests.textContent()) ?? "");
    expect(seen.size).toBeGreaterThan(2);
  }).toPass({ timeout: 60_000, intervals: [500] });
  await expect(row.locator(".status")).toHaveText("completed", { timeout: 120_000 });
  await expect(requests).toHaveText("120/120");
  expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  await page.screenshot({ path: "test-results/runs-list-1366.png", fullPage: true });
});

test("the runs list filters by status, text and origin in the address", async ({ page }) => {
  await login(page);
  await open(page, "/");
  await page.getByLabel("Name or model contains").fill("live list");
  await page.getByLabel("Origin").selectOption("simulated");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/q=live(\+|%20)list/);
  await expect(page.locator("table.runs tbody tr").first()).toContainText("live list e2e");
  for (const name of await page.locator("table.runs tbody tr td:nth-child(3) a").allTextContents()) {
    expect(name.toLowerCase()).toContain("live list");
  }
  await expect(page.locator(".pager")).toContainText(/Runs 1-\d+ of \d+/);
  await open(page, "/?q=no+run+is+called+this");
  await expect(page.getByText("No run matches.")).toBeVisible();
  await open(page, "/?origin=real&status=running");
  await expect(page.getByLabel("Origin")).toHaveValue("real");
  await expect(page.getByLabel("Status")).toHaveValue("running");
});
