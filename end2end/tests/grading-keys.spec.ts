import { expect, Page, Route, test } from "@playwright/test";
import { ADMIN, REVIEWER, login, open, smallRun } from "./helpers";

/** As admin: a blind queue of 5 items over the runs named; returns the grader's address. */
async function makeQueue(page: Page, name: string, kind: "grade" | "pairwise", runs: string[]) {
  await open(page, "/grade");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Kind").selectOption(kind);
  await page.getByLabel(/Sample size/).fill("5");
  for (const r of runs) await page.getByRole("checkbox", { name: new RegExp(`#${r} `) }).check();
  await page.getByRole("button", { name: "Make queue" }).click();
  const start = page.getByRole("status").getByRole("link", { name: "Start grading" });
  await expect(start).toBeVisible();
  return (await start.getAttribute("href"))!;
}

/**
 * Hold every call to the server function `name` (`/api/NAME<hash>`) until `release()`; `count()`
 * says how many were sent.
 */
async function hold(page: Page, name: string) {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let sent = 0;
  const pattern = new RegExp(`/api/${name}\\d*$`);
  await page.route(pattern, async (route: Route) => {
    sent += 1;
    await gate;
    await route.continue();
  });
  return {
    count: () => sent,
    // From here on, calls pass at once (the held one too).
    release: () => open(),
  };
}

/** As admin, close the queue; then, as the reviewer, the reveal's rows: item number -> judgement. */
async function closeAndReveal(page: Page, queue: string, href: string) {
  await page.context().clearCookies();
  await login(page, ADMIN);
  await open(page, "/grade");
  await page.getByRole("button", { name: `Close ${queue}` }).click();
  await page.getByRole("button", { name: "Close and reveal" }).click();
  await expect(page.getByRole("row", { name: new RegExp(queue) })).toContainText("closed");
  await page.context().clearCookies();
  await login(page, REVIEWER);
  await open(page, href);
  const table = page.getByRole("table", { name: "Who wrote what" });
  await expect(table).toBeVisible();
  const rows = await table.locator("tbody tr").evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll("td")].slice(0, 2).map((td) => td.textContent?.trim() ?? "")),
  );
  return Object.fromEntries(rows);
}

test("keys typed fast while a grade is saved never land on the item shown before", async ({ page }) => {
  await login(page, ADMIN);
  const run = await smallRun(page, "fast keys", { model: "sim-qwen3-4b", requests: 20 });
  const href = await makeQueue(page, "fast keys queue", "grade", [run]);

  await page.context().clearCookies();
  await login(page, REVIEWER);
  await open(page, href);
  const progress = page.locator(".progress-text");
  const overall = page.getByRole("radiogroup", { name: "Overall grade" });
  await expect(progress).toContainText("Item 1 of 5");

  // The QA's keys, with no pause, while the first save is held in flight.
  const save = await hold(page, "save_grade");
  for (const k of ["3", "Enter", "4", "Enter", "5", "Enter"]) await page.keyboard.press(k);
  // The page says it is saving, the item keeps the grade given, and one save went out.
  await expect(page.getByRole("status").filter({ hasText: "Saving…" })).toBeVisible();
  await expect(overall).toContainText("overall 3/5");
  await expect(page.getByRole("button", { name: "Save grade (Enter)" })).toBeDisabled();
  expect(save.count()).toBe(1);

  // The save is stored; the next item is held on its way: keys still touch nothing.
  const load = await hold(page, "grading_item");
  save.release();
  await expect(page.getByRole("status").filter({ hasText: "Loading the next item…" })).toBeVisible();
  for (const k of ["4", "Enter", "g"]) await page.keyboard.press(k);
  expect(load.count()).toBe(1);
  load.release();

  // Item 2 comes with a clean form, and keys act on it.
  await expect(progress).toContainText("Item 2 of 5");
  await expect(progress).toContainText("1 judged by you");
  await expect(overall).toContainText("press 1-5");
  await expect(page.getByRole("checkbox", { name: /Gold star/ })).not.toBeChecked();
  await page.keyboard.press("4");
  await expect(overall).toContainText("overall 4/5");
  await page.keyboard.press("Enter");
  await expect(progress).toContainText("Item 3 of 5");
  await expect(page.getByText("Saved.", { exact: true })).toBeVisible();

  // What was stored: item 1 got the first grade only, item 2 the grade given on it, no other.
  const judged = await closeAndReveal(page, "fast keys queue", href);
  expect(judged).toEqual({ "1": "3/5", "2": "4/5" });
});

test("votes typed fast in a pairwise queue count once, on the pair shown", async ({ page }) => {
  await login(page, ADMIN);
  const a = await smallRun(page, "fast votes left", { model: "sim-gemma-3-4b", requests: 20 });
  const b = await smallRun(page, "fast votes right", { model: "sim-llama-3.2-1b", requests: 20 });
  const href = await makeQueue(page, "fast votes queue", "pairwise", [a, b]);

  await page.context().clearCookies();
  await login(page, REVIEWER);
  await open(page, href);
  const progress = page.locator(".progress-text");
  await expect(progress).toContainText("Item 1 of 5");

  const vote = await hold(page, "save_vote");
  for (const k of ["a", "b", "t", "x"]) await page.keyboard.press(k);
  await expect(page.getByRole("status").filter({ hasText: "Saving…" })).toBeVisible();
  await expect(page.getByRole("button", { name: "B is better (b)" })).toBeDisabled();
  expect(vote.count()).toBe(1);
  vote.release();
  await expect(progress).toContainText("Item 2 of 5");
  await expect(progress).toContainText("1 judged by you");

  const judged = await closeAndReveal(page, "fast votes queue", href);
  expect(judged).toEqual({ "1": "A is better" });
});
