import { expect, request, test } from "@playwright/test";
import { login, open } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:3000";

test("an admin makes an API token, a script uses it, revoking it stops it, and the audit log shows each step", async ({ page }) => {
  await login(page);
  const errors = await open(page, "/");
  // The account's pages sit in the menu under the user's name.
  await page.locator("header.top details.menu summary").click();
  await expect(page.locator("header.top .menu-items")).toContainText("Audit log");
  await page.locator("header.top .menu-items").getByRole("link", { name: "API tokens" }).click();
  await expect(page.getByRole("heading", { name: "API tokens", level: 1 })).toBeVisible();
  await expect(page.locator("header.top .menu-items")).toBeHidden();
  const name = `e2e script ${Date.now()}`;
  await page.getByLabel("Name (what uses it)").fill(name);
  await page.getByRole("button", { name: "Make token" }).click();
  const shown = page.locator("code.token");
  await expect(shown).toHaveText(/^bk_[0-9a-f]{64}$/);
  const token = (await shown.textContent())!.trim();
  await page.screenshot({ path: "test-results/token-made-1366.png", fullPage: true });

  // A script: no cookie, only the token.
  const script = await request.newContext({ baseURL: BASE, extraHTTPHeaders: { Authorization: `Bearer ${token}` } });
  expect((await script.get("/api/runs")).status()).toBe(200);

  // Listed (never the token itself), then revoked with a confirmation.
  const row = page.locator("table.tokens tr").filter({ hasText: name });
  await expect(row).toBeVisible();
  await expect(page.locator("table.tokens")).not.toContainText(token);
  await row.getByRole("button", { name: `Revoke ${name}` }).click();
  await page.getByRole("alertdialog", { name: "Revoke the token?" }).getByRole("button", { name: "Revoke" }).click();
  await expect(row).toContainText(/revoked/i);
  const refused = await script.get("/api/runs");
  expect(refused.status()).toBe(401);
  expect((await refused.json()).message).toContain("revoked");
  await script.dispose();

  // The audit log names who did it.
  await open(page, `/audit?action=token`);
  const audit = page.locator("table.audit");
  await expect(audit).toContainText("token.create");
  await expect(audit).toContainText("token.revoke");
  await expect(audit).toContainText(name);
  await expect(audit).not.toContainText(token);
  await page.screenshot({ path: "test-results/audit-1366.png", fullPage: true });
  expect(errors).toEqual([]);
});

test("a deleted run waits in the trash and an admin restores it with its records", async ({ page }) => {
  await login(page);
  await open(page, "/launch");
  await page.getByLabel("Model", { exact: true }).selectOption("sim-llama-3.2-1b");
  await page.getByLabel("Requests", { exact: true }).fill("5");
  await page.getByLabel("Concurrency", { exact: true }).fill("5");
  await page.getByLabel("Name (optional)").fill("trash me e2e");
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page.getByRole("progressbar", { name: "Run progress" })).toHaveAttribute("aria-valuenow", "100", { timeout: 60_000 });
  // 100% comes a moment before the run is stored as ended (summary, quality checks).
  await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 30_000 });
  const id = page.url().split("/").pop()!;

  await open(page, "/");
  await page.locator(`tr[data-run="${id}"]`).getByRole("button", { name: `Delete run #${id} 'trash me e2e'` }).click();
  const dialog = page.getByRole("alertdialog", { name: `Delete run #${id} 'trash me e2e'?` });
  await expect(dialog).toContainText("It goes to the trash for 30 days");
  await dialog.getByRole("button", { name: "Delete the run" }).click();
  await expect(page.locator(`tr[data-run="${id}"]`)).toHaveCount(0);
  expect((await page.request.get(`/api/runs/${id}`)).status()).toBe(404);

  const errors = await open(page, "/trash");
  const trashed = page.locator("table.trash tr").filter({ hasText: "trash me e2e" });
  await expect(trashed).toContainText("5 request records");
  await page.screenshot({ path: "test-results/trash-1366.png", fullPage: true });
  await trashed.getByRole("button", { name: /^Restore / }).click();
  await expect(page.getByRole("status").filter({ hasText: /Restored/ })).toBeVisible();
  await expect(trashed).toHaveCount(0);
  const back = await page.request.get(`/api/runs/${id}`);
  expect(back.status()).toBe(200);
  await open(page, "/");
  await expect(page.locator(`tr[data-run="${id}"]`)).toContainText("trash me e2e");
  expect(errors).toEqual([]);
});

test("the launch form previews the cost and takes latency targets; the run page reports goodput", async ({ page }) => {
  await login(page);
  const errors = await open(page, "/launch");
  await page.getByLabel("Model", { exact: true }).selectOption("sim-llama-3.2-1b");
  await page.getByLabel("Requests", { exact: true }).fill("6");
  await page.getByLabel("Concurrency", { exact: true }).fill("3");
  // The built-in simulator is self-hosted: the preview says what would be sent, not a provider bill.
  const preview = page.locator(".cost-preview");
  await expect(preview).toContainText("6");
  await page.getByLabel(/TTFT/).fill("5000");
  await page.getByLabel(/TPOT/).fill("1000");
  await page.getByLabel("Name (optional)").fill("goodput e2e");
  await page.screenshot({ path: "test-results/launch-preview-1366.png", fullPage: true });
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page.getByRole("progressbar", { name: "Run progress" })).toHaveAttribute("aria-valuenow", "100", { timeout: 60_000 });
  // 100% comes a moment before the run is stored as ended (summary, quality checks).
  await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 30_000 });
  await expect(page.locator("body")).toContainText(/goodput/i);
  const id = page.url().split("/").pop()!;
  const run = await (await page.request.get(`/api/runs/${id}`)).json();
  // Generous targets on the simulator: every request met them.
  expect(run.summary.goodput.good_requests).toBe(run.summary.requests);
  expect(run.summary.goodput.met).toBe(true);
  await page.screenshot({ path: "test-results/run-goodput-1366.png", fullPage: true });
  expect(errors).toEqual([]);
});
