import { expect, test } from "@playwright/test";
import { hydrated, login } from "./helpers";

// A sweep's page reads itself again every 2 s while a step is queued or running (a `Live` part,
// swapped in from the page rendered afresh on the server). The timer used to read a resource
// outside a <Suspense/> (a warning at every tick) and kept ticking on a finished sweep. Now it
// reads only while the sweep goes on, warns never, and stops once nothing more will be measured.

test("a sweep's page refreshes while the sweep goes on, then stops, with no resource read outside Suspense", async ({ page }) => {
  await login(page);
  const origin = new URL(page.url()).origin;
  // Two levels one after the other, long enough for the page to refresh while they run.
  const launched = await page.request.post("/api/runs", {
    headers: { Origin: origin },
    data: { endpoint_id: 1, dataset_id: 1, model: "sim-gemma-3-4b", requests: 120, concurrency: 1, max_tokens: 32, sweep: "1,2" },
  });
  expect(launched.status(), await launched.text()).toBe(201);
  const sweep: number = (await launched.json()).sweep_id;

  const warnings: string[] = [];
  page.on("console", (m) => {
    if (m.text().includes("outside a <Suspense/>")) warnings.push(m.text());
  });
  let reads = 0;
  page.on("request", (r) => {
    // The page's own address, fetched by the page (not the navigation to it).
    if (new URL(r.url()).pathname === `/sweeps/${sweep}` && r.resourceType() === "fetch") reads++;
  });
  await page.goto(`/sweeps/${sweep}`);
  await hydrated(page);
  const progress = page.getByText(/^In progress: run #/);
  await expect(progress, "the sweep must still be running (launch a longer one)").toBeVisible();

  // While it goes on, the page reads it again, and shows each level as it ends.
  await expect.poll(() => reads, { message: "the page reads the sweep again while it runs" }).toBeGreaterThan(0);
  await expect(progress).toHaveCount(0, { timeout: 110_000 });
  await expect(page.locator("table.sweep tbody tr")).toHaveCount(2);
  await expect(page.locator("table.sweep")).not.toContainText("running");

  // Finished: three refresh periods pass without a read (the timer is cleared, not idle).
  const after = reads;
  await page.waitForTimeout(6_500);
  expect(reads, "no read once the sweep has finished").toBe(after);
  expect(warnings, "no resource read outside <Suspense/>").toEqual([]);
});
