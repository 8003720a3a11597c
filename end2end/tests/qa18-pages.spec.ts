import { expect, Page, test } from "@playwright/test";
import { login, open } from "./helpers";

// QA findings of issue 18 on the pages: the runs list refreshes without reading its data outside
// a Suspense (a console warning on every 2 s tick), a queued run's page shows the endpoint's
// conditions once the run starts (they are stored then; the page used to read the run again
// only at its end), and the charts drawn from real runs.

test.use({ viewport: { width: 1366, height: 900 } });

/** Launch through REST (the page's own origin); returns the run ids. */
async function launch(page: Page, body: Record<string, unknown>): Promise<number[]> {
  const origin = new URL(page.url()).origin;
  const res = await page.request.post("/api/runs", {
    headers: { Origin: origin },
    data: { endpoint_id: 1, dataset_id: 1, model: "sim-gemma-3-4b", max_tokens: 64, ...body },
  });
  expect(res.status(), await res.text()).toBe(201);
  return (await res.json()).run_ids;
}

async function cancel(page: Page, id: number) {
  const origin = new URL(page.url()).origin;
  await page.request.post(`/api/runs/${id}/cancel`, { headers: { Origin: origin } });
}

/** Leptos' "reading a resource ... outside a <Suspense/>" warnings, from now on. */
function resourceWarnings(page: Page) {
  const seen: string[] = [];
  page.on("console", (m) => {
    if (m.text().includes("outside a <Suspense/>")) seen.push(m.text().slice(0, 200));
  });
  return seen;
}

test("the runs list follows a run to its end without reading its data outside a Suspense", async ({ page }) => {
  await login(page);
  const [id] = await launch(page, { requests: 60, concurrency: 2, name: "qa18 list refresh" });
  const warnings = resourceWarnings(page);
  await open(page, "/");
  const row = page.locator(`tr[data-run="${id}"]`);
  await expect(row).toBeVisible();
  // The 2 s refresh ticks until the run is over (several ticks: it runs for some seconds).
  await expect(row.locator(".status")).toHaveText("completed", { timeout: 90_000 });
  await expect(row.locator("td.num").first()).toHaveText("60/60");
  expect(warnings, "the timer reads no resource outside a Suspense").toEqual([]);
});

test("a queued run's page shows the endpoint's conditions once the run starts, without a reload", async ({ page }) => {
  await login(page);
  // The first run holds the simulator's GPU lock; the second waits behind it.
  const [first] = await launch(page, { requests: 300, concurrency: 1, name: "qa18 holds the GPU" });
  // Long enough that its end (when the page reads the run anyway) comes well after its start.
  const [second] = await launch(page, { requests: 200, concurrency: 1, name: "qa18 queued behind" });
  try {
    await open(page, `/runs/${second}`);
    await page.evaluate(() => ((window as unknown as { samePage: boolean }).samePage = true));
    const conditions = page.getByRole("region", { name: "Conditions" });
    await expect(page.locator(".progress-text")).toContainText("queued");
    await expect(conditions).toContainText("when the run starts measuring");

    await cancel(page, first);
    // Stored as measuring begins, read again by the page when the run starts.
    await expect(conditions.getByRole("rowheader", { name: "Version (/version)" })).toBeVisible({ timeout: 60_000 });
    await expect(conditions).not.toContainText("Not captured");
    await expect(page.locator(".progress-text"), "shown while it runs, not only at its end").toContainText("running");
    expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
  } finally {
    await cancel(page, first);
    await cancel(page, second);
  }
});

test("the launch form's cost preview names what is wrong, and the percentile rule is stated", async ({ page }) => {
  await login(page);
  const errors = await open(page, "/launch");
  const preview = page.locator(".cost-preview");
  await expect(preview).toContainText("Cost preview");
  await page.getByText("Load shape, sampling and engine settings").click();
  await page.getByLabel("Concurrency sweep").fill("auto:1");
  // The sweep's own message, not "fill in the endpoint, dataset, model and requests".
  await expect(preview).toContainText("An automatic sweep is 'auto' or 'auto:N'");
  await expect(preview).not.toContainText("fill in");
  await page.getByLabel("Requests", { exact: true }).fill("");
  await expect(preview).toContainText("fill in the requests");
  await expect(page.locator("fieldset.slo")).toContainText("a number from 1 to 100 (both included; decimals allowed, e.g. 99.9)");
  await page.locator("fieldset.slo").screenshot({ path: "test-results/qa18-targets.png" });
  expect(errors).toEqual([]);
});

test("the run page's timeline and the runs chart, drawn from real runs", async ({ page }) => {
  await login(page);
  // Fourteen finished runs in one launch (a sweep over concurrency levels).
  const ids = await launch(page, { requests: 12, concurrency: 1, sweep: "1,2,3,4,5,6,7,8,9,10,11,12,13,14", name: "qa18 chart" });
  expect(ids.length).toBe(14);
  await open(page, "/?q=qa18+chart");
  for (const id of ids) {
    await expect(page.locator(`tr[data-run="${id}"] .status`)).toHaveText("completed", { timeout: 120_000 });
  }
  // Every run named under its bars (more than twelve used to leave every label off).
  const chart = page.getByRole("region", { name: "Throughput" });
  const svg = chart.locator("svg");
  for (const id of ids) {
    await expect(svg.locator("text", { hasText: new RegExp(`^\\s*#${id} `) })).toHaveCount(1);
  }
  await chart.screenshot({ path: "test-results/qa18-runs-chart.png" });

  const [long] = await launch(page, { requests: 200, concurrency: 4, name: "qa18 timeline" });
  await open(page, `/runs/${long}`);
  await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 90_000 });
  const charts = page.getByRole("region", { name: "Charts" });
  await expect(charts.locator("svg").first()).toContainText("Throughput over time");
  await expect(charts).toContainText("in the second they arrived");
  await charts.screenshot({ path: "test-results/qa18-run-timeline.png" });
});
