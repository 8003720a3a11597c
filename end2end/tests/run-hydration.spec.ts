import { expect, Page, test } from "@playwright/test";
import { hydrated, launchLongRun, login, REVIEWER } from "./helpers";

// A running run's page, opened afresh (a bookmark, a reload) while the run goes, must hydrate
// like any other page. It used to fail in about 6 loads out of 10 ("The framework expected a
// marker node" at the quality checks, then "Unrecoverable hydration error"), leaving the menu's
// links dead: the server and the browser numbered the page's resources and Suspense boundaries
// in a different order when the run's details (with their Cancel button) arrived late on the
// server, so the browser read another resource's data.

/** Console errors and uncaught page errors, from now on. */
function watch(page: Page) {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e}`));
  return problems;
}

/** Open `path` afresh and wait until it has hydrated, or failed to. */
async function loadFresh(page: Page, path: string, problems: string[]) {
  await page.goto(path);
  await expect
    .poll(async () => problems.length > 0 || (await page.locator("body").getAttribute("data-hydrated")) === "true", {
      message: `${path} neither hydrated nor reported an error`,
    })
    .toBe(true);
}

/** `loads` fresh loads of the run's page while it runs; none may log an error. `reads`: the
 * user may cancel runs and read answers (a runner), or neither (a reviewer). */
async function loadWhileRunning(page: Page, id: number, loads: number, problems: string[], reads: boolean) {
  const progress = page.locator(".progress-text");
  for (let i = 1; i <= loads; i++) {
    await loadFresh(page, `/runs/${id}`, problems);
    // The checks section (where the mismatch showed) is drawn with the run's state.
    await expect(page.getByRole("region", { name: "Quality checks" })).toContainText("checked when it ends");
    await expect(progress, "the run must still be running (launch a longer one)").toContainText("running");
    expect(problems, `load ${i} of /runs/${id} while it runs`).toEqual([]);
  }
  // The controls that depend on the role are drawn after hydration as they were served.
  const checks = page.getByRole("region", { name: "Quality checks" });
  if (reads) {
    await expect(page.getByRole("button", { name: "Cancel run" })).toBeVisible();
    await expect(checks.getByLabel("Recommendation")).toBeVisible();
    await expect(checks.getByRole("link", { name: "JSON lines" })).toBeVisible();
  } else {
    await expect(page.getByRole("button", { name: "Cancel run" })).toHaveCount(0);
    await expect(checks.getByLabel("Recommendation")).toHaveCount(0);
    await expect(checks.getByRole("link", { name: "JSON lines" })).toHaveCount(0);
  }
}

/** A menu link opens its page: one full load (each page is rendered on the server, its island
 * hydrated), and that page hydrates without an error. */
async function menuNavigates(page: Page, problems: string[]) {
  let loads = 0;
  const count = () => loads++;
  page.on("load", count);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Runs", exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { level: 1, name: "Runs" })).toBeVisible();
  await hydrated(page);
  page.off("load", count);
  expect(loads, "the menu link loaded its page once").toBe(1);
  expect(problems).toEqual([]);
}

test("a running run's page hydrates on every fresh load, for a runner and a reviewer, and the menu still navigates", async ({ page }) => {
  await login(page);
  const origin = new URL(page.url()).origin;
  const id = await launchLongRun(page);

  try {
    const problems = watch(page);
    await loadWhileRunning(page, id, 8, problems, true);
    await menuNavigates(page, problems);

    // A reviewer's page has fewer parts (no answers), and was hit too.
    await page.context().clearCookies();
    await login(page, REVIEWER);
    await loadWhileRunning(page, id, 4, problems, false);
    await menuNavigates(page, problems);
  } finally {
    // Do not leave a long run holding the simulator's GPU lock for the next tests.
    await page.context().clearCookies();
    await login(page);
    await page.request.post(`/api/runs/${id}/cancel`, { headers: { Origin: origin } });
  }
});
