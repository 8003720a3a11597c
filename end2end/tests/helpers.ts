import { expect, Page } from "@playwright/test";

export const ADMIN = process.env.E2E_ADMIN ?? "e2e-admin";
export const REVIEWER = process.env.E2E_REVIEWER ?? "e2e-reviewer";
export const VIEWER = process.env.E2E_VIEWER ?? "e2e-viewer";
const PASSWORD = process.env.E2E_PASSWORD ?? "e2e password 123";

/** Wait until the wasm has hydrated the page (so clicks reach Rust). */
export async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** Log in through the form as `user` (from `/login`, or the log-in page at `from`). */
export async function login(page: Page, user: string = ADMIN, from: string = "/login") {
  await page.goto(from);
  await hydrated(page);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(PASSWORD);
  // A log-in loads the next page afresh (a full load after the client-side one): wait for that
  // load, so the test's next navigation is not cut short by it.
  const loaded = page.waitForEvent("load");
  await page.getByRole("button", { name: "Log in" }).click();
  await loaded;
  await expect(page).not.toHaveURL(/\/login/);
}

/** Open a page (after logging in) and wait for hydration; returns the page errors seen. */
export async function open(page: Page, path: string) {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(path);
  await hydrated(page);
  return errors;
}

/** Launch a run long enough to be seen going (300 requests one at a time on the simulator)
 * through the REST API; returns its id. The caller cancels it when done. */
export async function launchLongRun(page: Page): Promise<number> {
  const origin = new URL(page.url()).origin;
  const launched = await page.request.post("/api/runs", {
    headers: { Origin: origin },
    data: { endpoint_id: 1, dataset_id: 1, model: "sim-gemma-3-4b", requests: 300, concurrency: 1 },
  });
  expect(launched.status(), await launched.text()).toBe(201);
  return (await launched.json()).run_ids[0];
}

/** A small finished run on the demo dataset (five requests at once by default), launched from
 * the form; returns its id. */
export async function smallRun(page: Page, name: string, { model = "sim-llama-3.2-1b", requests = 5 } = {}) {
  await open(page, "/launch");
  await page.getByLabel("Model", { exact: true }).selectOption(model);
  await page.getByLabel("Requests", { exact: true }).fill(String(requests));
  await page.getByLabel("Concurrency", { exact: true }).fill(String(requests));
  await page.getByLabel("Name (optional)").fill(name);
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page.getByRole("progressbar", { name: "Run progress" })).toHaveAttribute("aria-valuenow", "100", { timeout: 60_000 });
  // 100% comes a moment before the run is stored as ended (summary, quality checks).
  await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 30_000 });
  return page.url().split("/").pop()!;
}
