import { expect, Page, test } from "@playwright/test";
import { ADMIN, REVIEWER, login } from "./helpers";

// A queue with reviewers, opened directly (a bookmark, a reload) by its maker or an admin while it
// is open: the page must hydrate, and removing a reviewer must show at once. It used to fail with
// "Unrecoverable hydration error" at the progress table's Remove column (the server and the
// browser drew the reviewer panel differently), leaving a page whose Remove button changed the
// server but not the page.

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

test("the maker of a queue with reviewers opens it directly, it hydrates, and Remove updates the table", async ({ page }) => {
  await login(page, ADMIN);
  const origin = new URL(page.url()).origin;
  const headers = { Origin: origin };

  // A second reviewer, from the Users page.
  const rev2 = `qp-rev-${Date.now() % 100000}`;
  await page.goto("/users");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const form = page.getByRole("form", { name: "Add a user" });
  // A new user starts with the least: viewer, and the form says so.
  await expect(form.getByLabel(/^Role/)).toHaveValue("viewer");
  await expect(form.getByText("starts at viewer")).toBeVisible();
  await form.getByLabel("Name").fill(rev2);
  await form.getByLabel(/^Role/).selectOption("reviewer");
  await form.getByLabel("Password").fill("qp password 123");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("combobox", { name: `role of ${rev2}` })).toHaveValue("reviewer");

  // A small finished run to sample from.
  const launched = await page.request.post("/api/runs", {
    headers,
    data: { endpoint_id: 1, dataset_id: 1, model: "sim-qwen3-4b", requests: 8, concurrency: 8, name: "queue progress e2e" },
  });
  expect(launched.status(), await launched.text()).toBe(201);
  const runId: number = (await launched.json()).run_ids[0];
  await expect
    .poll(async () => (await (await page.request.get(`/api/runs/${runId}`)).json()).run.status, { timeout: 60_000 })
    .toBe("completed");

  // The queue, one grade per item, dealt to the two reviewers (not to the admin who makes it).
  await page.goto("/grade");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const name = `progress ${rev2}`;
  await page.getByLabel("Name", { exact: true }).fill(name);
  // The size counts prompts; the form says how many items that makes with the runs ticked.
  await page.getByLabel(/Sample size/).fill("4");
  const total = page.locator("#q-size-total");
  await expect(total).toContainText("tick one run or more");
  await page.getByRole("checkbox", { name: new RegExp(`#${runId} queue progress e2e`) }).check();
  await expect(total).toContainText("4 prompts × 1 run = 4 items");
  await page.getByLabel("Grades per item").fill("1");
  await page.getByRole("checkbox", { name: REVIEWER, exact: true }).check();
  await page.getByRole("checkbox", { name: rev2, exact: true }).check();
  await page.getByRole("button", { name: "Make queue" }).click();
  const made = page.getByRole("status").getByRole("link", { name: "Start grading" });
  await expect(made).toBeVisible();
  const href = (await made.getAttribute("href"))!;

  // Opened directly by its maker: no hydration error, and the reviewers' table with its buttons.
  const problems = watch(page);
  await loadFresh(page, href, problems);
  const table = page.getByRole("table", { name: "Progress per reviewer" });
  await expect(table.getByRole("row", { name: new RegExp(rev2) })).toBeVisible();
  await expect(page.getByLabel("Add a reviewer")).toBeVisible();
  expect(problems, `a fresh load of ${href}`).toEqual([]);

  // Remove a reviewer: the table follows without a reload.
  let loads = 0;
  page.on("load", () => loads++);
  await page.getByRole("button", { name: `Remove ${rev2}` }).click();
  await expect(page.getByRole("button", { name: `Remove ${rev2}` })).toHaveCount(0);
  await expect(page.getByRole("button", { name: `Remove ${REVIEWER}` })).toBeVisible();
  // The one left has every item now.
  await expect(table.getByRole("row", { name: new RegExp(`^${REVIEWER} `) })).toContainText("4");
  expect(loads, "the page changed in place, not by a reload").toBe(0);
  expect(problems).toEqual([]);

  // And a reload still hydrates.
  await loadFresh(page, href, problems);
  await expect(page.getByRole("button", { name: `Remove ${REVIEWER}` })).toBeVisible();
  expect(problems, `a second fresh load of ${href}`).toEqual([]);

  // The Users page: a change of role asks first, says what the user still has to judge in open
  // queues, and says what happened. REVIEWER now has all four items: keeping the role changes
  // nothing.
  await page.goto("/users");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const reviewerRole = page.getByRole("combobox", { name: `role of ${REVIEWER}` });
  await reviewerRole.selectOption("viewer");
  const ask = page.getByRole("alertdialog", { name: `Change the role of ${REVIEWER}?` });
  // (Other tests' queues may have dealt REVIEWER items too.)
  await expect(ask).toContainText(`${REVIEWER} still has`);
  await expect(ask).toContainText(`'${name}' (4 left)`);
  await expect(ask).toContainText("As a viewer (read only) they cannot grade them");
  await ask.getByRole("button", { name: "Keep reviewer" }).click();
  await expect(ask).toHaveCount(0);
  await expect(reviewerRole).toHaveValue("reviewer");
  await loadFresh(page, "/users", problems);
  await expect(reviewerRole, "nothing changed on the server").toHaveValue("reviewer");

  // rev2 has nothing left to judge (removed above): no warning; confirmed, then said.
  await page.getByRole("combobox", { name: `role of ${rev2}` }).selectOption("runner");
  const ask2 = page.getByRole("alertdialog", { name: `Change the role of ${rev2}?` });
  await expect(ask2.getByRole("button", { name: "Make them runner" })).toBeEnabled();
  await expect(ask2).not.toContainText("still has");
  await ask2.getByRole("button", { name: "Make them runner" }).click();
  await expect(page.getByRole("status").filter({ hasText: `${rev2} is now a runner` })).toBeVisible();
  await expect(page.getByRole("combobox", { name: `role of ${rev2}` })).toHaveValue("runner");
  expect(problems).toEqual([]);
});
