import { expect, test } from "@playwright/test";
import { login, open, smallRun } from "./helpers";

// Pages rendered on the server only: their buttons are forms the Enhance island posts, a form
// that cannot be undone asks first in a dialog it draws, and the Pending tests page's keys are
// the island's too.

test.use({ viewport: { width: 1366, height: 900 } });

test("Delete forever in the trash asks first, says what goes, and Keep it keeps it", async ({ page }) => {
  await login(page);
  const id = await smallRun(page, "purge me e2e");
  await open(page, "/");
  await page.locator(`tr[data-run="${id}"]`).getByRole("button", { name: `Delete run #${id} 'purge me e2e'` }).click();
  await page.getByRole("alertdialog", { name: `Delete run #${id} 'purge me e2e'?` }).getByRole("button", { name: "Delete the run" }).click();
  await expect(page.locator(`tr[data-run="${id}"]`)).toHaveCount(0);

  const errors = await open(page, "/trash");
  const row = page.locator("table.trash tr").filter({ hasText: "purge me e2e" });
  const purge = row.getByRole("button", { name: `Delete run #${id} 'purge me e2e' forever` });
  const dialog = page.getByRole("alertdialog", { name: `Delete run #${id} 'purge me e2e' forever?` });
  await purge.click();
  await expect(dialog).toContainText("With it go 5 request records");
  await expect(dialog).toContainText("cannot be undone");
  await expect(dialog.getByRole("button", { name: "Keep it" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toHaveCount(0);
  await expect(row).toBeVisible();

  await purge.click();
  await dialog.getByRole("button", { name: "Delete forever" }).click();
  await expect(page.getByRole("status").filter({ hasText: /for good/ })).toBeVisible();
  await expect(row).toHaveCount(0);
  expect((await page.request.get(`/api/runs/${id}`)).status()).toBe(404);
  expect(errors).toEqual([]);
});

test("pending tests move with their buttons and with j / k / Shift+J / Shift+K, and Remove takes one off", async ({ page }) => {
  await login(page);
  const stamp = Date.now() % 100000;
  const titles = [`keys A ${stamp}`, `keys B ${stamp}`];
  for (const title of titles) {
    await open(page, "/planner");
    await page.getByLabel("Title").fill(title);
    await page.getByRole("button", { name: "Add to pending tests" }).click();
    await expect(page.getByRole("link", { name: "See pending tests" })).toBeVisible();
  }
  const errors = await open(page, "/tests");
  const rows = page.locator("table.tests tbody tr");
  const order = async () => (await rows.allTextContents()).map((t) => titles.findIndex((x) => t.includes(x))).filter((i) => i >= 0);
  const indexOf = async (title: string) => (await rows.allTextContents()).findIndex((t) => t.includes(title));
  await expect.poll(order).toEqual([0, 1]);

  // The button moves A below B; the list is read again without a reload.
  await page.getByRole("button", { name: `move ${titles[0]} down` }).click();
  await expect.poll(order).toEqual([1, 0]);

  // Keys: select A's row with j / k, Shift+K moves it back up, and it stays selected.
  await page.locator("h1").click();
  const a = await indexOf(titles[0]);
  for (let i = 0; i < a; i++) await page.keyboard.press("j");
  await expect(rows.nth(a)).toHaveClass(/selected/);
  await page.keyboard.press("Shift+K");
  await expect.poll(order).toEqual([0, 1]);
  await expect(rows.filter({ hasText: titles[0] })).toHaveClass(/selected/);
  await page.keyboard.press("Shift+J");
  await expect.poll(order).toEqual([1, 0]);

  // Remove takes each off the list.
  for (const title of titles) {
    await rows.filter({ hasText: title }).getByRole("button", { name: "Remove" }).click();
    await expect(rows.filter({ hasText: title })).toHaveCount(0);
  }
  expect(errors).toEqual([]);
});

test("the launch form's choices are the page's query: the preview follows them and a reload keeps them", async ({ page }) => {
  await login(page);
  const errors = await open(page, "/launch");
  const preview = page.locator(".cost-preview");
  await page.getByLabel("Requests", { exact: true }).fill("37");
  await expect(page).toHaveURL(/form%5Brequests%5D=37/);
  await expect(preview).toContainText("37 requests");
  await page.reload();
  await expect(page.getByLabel("Requests", { exact: true })).toHaveValue("37");
  await expect(preview).toContainText("37 requests");
  expect(errors).toEqual([]);
});

test("a new queue's form counts its items as the choices change, on the server", async ({ page }) => {
  await login(page);
  // A finished run with answers to tick (whatever ran before).
  await smallRun(page, "queue count e2e");
  await open(page, "/grade");
  const note = page.locator("#q-size-total");
  await page.getByLabel(/Sample size/).fill("7");
  await expect(note).toContainText("tick one run or more");
  await page.locator("fieldset").filter({ hasText: "Runs (same dataset)" }).getByRole("checkbox").first().check();
  await expect(note).toContainText("7 prompts × 1 run = 7 items");
  await page.getByLabel("Kind").selectOption("pairwise");
  await expect(note).toContainText("tick two runs or more");
});

test("the log-in's next is a path on this site taken as it is, never a script or another site", async ({ page, baseURL }) => {
  const dialogs: string[] = [];
  page.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  const origin = new URL(baseURL!).origin;
  // A template in `next` once sent the browser to its second address, a script.
  await login(page, undefined, `/login?next=${encodeURIComponent("/{x}|javascript:alert('xss')")}`);
  expect(new URL(page.url()).origin).toBe(origin);
  expect(decodeURIComponent(new URL(page.url()).pathname)).toBe("/{x}|javascript:alert('xss')");
  expect(dialogs).toEqual([]);
  // Another site: the runs list instead.
  await page.context().clearCookies();
  await login(page, undefined, `/login?next=${encodeURIComponent("//evil.example/")}`);
  expect(page.url()).toBe(`${origin}/`);
});
