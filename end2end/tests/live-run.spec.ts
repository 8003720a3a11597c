import { expect, test } from "@playwright/test";
import { hydrated, login, open } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

test("the run page draws its charts while the run goes and fills its quality checks at the end, without a reload", async ({ page }) => {
  await login(page);
  const errors = await open(page, "/launch");
  await page.getByLabel("Model", { exact: true }).selectOption("sim-gemma-3-4b");
  // About 20 s on the simulator: long enough to see the page move before the end.
  await page.getByLabel("Requests", { exact: true }).fill("400");
  await page.getByLabel("Concurrency", { exact: true }).fill("4");
  await page.getByLabel("Max tokens").fill("64");
  let reloads = 0;
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page).toHaveURL(/\/runs\/\d+$/);
  // The run page is loaded from the server once; from then on it moves without a reload.
  await page.waitForLoadState("load");
  await hydrated(page);
  page.on("load", () => reloads++);

  const progress = page.locator(".progress-text");
  const charts = page.getByRole("region", { name: "Charts" });
  const checks = page.getByRole("region", { name: "Quality checks" });
  await expect(progress).toContainText("running");
  // While it runs: the throughput timeline and the histograms are drawn from the requests
  // finished so far, and the answers are not checked yet.
  await expect(charts.locator("svg").first()).toContainText("Throughput over time", { timeout: 20_000 });
  await expect(charts.locator("svg").nth(1)).toContainText("TTFT distribution");
  await expect(progress).toContainText("running");
  await expect(checks).toContainText("checked when it ends");

  // At the end, on the same page: the summary, and the quality checks of every answer.
  await expect(page.getByRole("progressbar", { name: "Run progress" })).toHaveAttribute("aria-valuenow", "100", { timeout: 90_000 });
  await expect(progress).toContainText("completed");
  await expect(checks.getByRole("row", { name: /JSON found/ })).toContainText("/400", { timeout: 15_000 });
  expect(reloads).toBe(0);
  expect(errors).toEqual([]);
});
