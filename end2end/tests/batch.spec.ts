import { expect, Page, test } from "@playwright/test";
import { login, open } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

/** Launch from the form with the built-in simulator and the demo dataset; returns the run id. */
async function launch(page: Page, kind: string, name: string) {
  await open(page, "/launch");
  await page.getByLabel("Kind", { exact: true }).selectOption(kind);
  await page.getByLabel("Model", { exact: true }).selectOption("sim-llama-3.2-1b");
  await page.getByLabel("Requests", { exact: true }).fill("24");
  await page.getByLabel("Name (optional)").fill(name);
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page).toHaveURL(/\/runs\/\d+$/);
  return page.url().split("/").pop()!;
}

test("a provider batch from the launch form: live lines, the job's times, no per-request timing, side by side with a server run", async ({ page }) => {
  await login(page);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`${page.url()}: ${String(e)}`));
  // Hydration problems are logged to the console before the panic: keep their text.
  page.on("console", (m) => {
    if (m.type() === "error" && /hydrat|panicked/.test(m.text())) errors.push(`${page.url()} console: ${m.text().slice(0, 600)}`);
  });

  // A batch kind refuses what does not apply, with the field's message, and keeps the form.
  await open(page, "/launch");
  await page.getByLabel("Kind", { exact: true }).selectOption("provider-batch");
  await page.getByLabel("Model", { exact: true }).selectOption("sim-llama-3.2-1b");
  await page.getByLabel("Requests", { exact: true }).fill("24");
  await page.getByText("Load shape, sampling and engine settings").click();
  await page.getByLabel("Warm-up requests").fill("3");
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page.getByText("no warm-up")).toBeVisible();
  await expect(page.getByLabel("Kind", { exact: true })).toHaveValue("provider-batch");

  const server = await (async () => {
    await open(page, "/launch");
    await page.getByLabel("Model", { exact: true }).selectOption("sim-llama-3.2-1b");
    await page.getByLabel("Requests", { exact: true }).fill("24");
    await page.getByLabel("Concurrency", { exact: true }).fill("8");
    await page.getByLabel("Name (optional)").fill("batch e2e server");
    await page.getByRole("button", { name: "Launch run" }).click();
    await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 60_000 });
    return page.url().split("/").pop()!;
  })();

  const id = await launch(page, "provider-batch", "batch e2e provider");
  const job = page.getByRole("region", { name: "Batch job" });
  await expect(job).toBeVisible();
  // Lines, not requests; then the job's end, on the same page.
  await expect(page.locator(".progress-text")).toContainText("lines", { timeout: 30_000 });
  await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 60_000 });
  await expect(job).toContainText("Turnaround");
  await expect(job).toContainText(/batch_\d+/);
  await expect(page.getByText("No per-request timing").first()).toBeVisible();
  await page.screenshot({ path: "test-results/provider-batch-1366.png", fullPage: true });

  // The runs list tags it; compare puts the two kinds in one table, each with its figure.
  await open(page, "/");
  await expect(page.locator(`tr[data-run="${id}"]`)).toContainText("provider batch");
  await open(page, `/compare?run=${server}&run=${id}`);
  const modes = page.locator("table.modes");
  await expect(modes).toHaveCount(1);
  await expect(modes.locator("tbody tr")).toHaveCount(2);
  await expect(modes).toContainText("provider batch");
  await expect(modes).toContainText("server mode");
  await page.screenshot({ path: "test-results/modes-compare-1366.png", fullPage: true });
  expect(errors).toEqual([]);
});
