import { expect, test } from "@playwright/test";
import { login, open, smallRun } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

test("a run is deleted only once confirmed, and the confirmation says what goes with it", async ({ page }) => {
  await login(page);
  // Other tests open runs #1 and #2: delete a later one.
  while (((await (await page.request.get("/api/runs")).json()) as unknown[]).length < 2) {
    await smallRun(page, "kept e2e");
  }
  const id = await smallRun(page, "delete me e2e");

  await open(page, "/");
  const row = page.locator(`tr[data-run="${id}"]`);
  await expect(row).toBeVisible();
  const ask = row.getByRole("button", { name: `Delete run #${id} 'delete me e2e'` });
  const dialog = page.getByRole("alertdialog", { name: `Delete run #${id} 'delete me e2e'?` });

  // Cancel keeps it.
  await ask.click();
  await expect(dialog).toContainText("With it go 5 request records");
  await expect(dialog).toContainText("It goes to the trash for 30 days");
  await page.screenshot({ path: "test-results/delete-confirm-1366.png" });
  await dialog.getByRole("button", { name: "Keep it" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(row).toBeVisible();
  await open(page, `/runs/${id}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("delete me e2e");

  // Confirm removes it, with everything stored for it.
  await open(page, "/");
  await row.getByRole("button", { name: `Delete run #${id} 'delete me e2e'` }).click();
  await dialog.getByRole("button", { name: "Delete the run" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Deleted run #${id}` })).toBeVisible();
  await expect(row).toHaveCount(0);
  const gone = await page.request.get(`/api/runs/${id}`);
  expect(gone.status()).toBe(404);
});

test("a run can be renamed from the list", async ({ page }) => {
  await login(page);
  const id = await smallRun(page, "rename me e2e");
  await open(page, "/");
  await page.getByRole("button", { name: `Rename run #${id} 'rename me e2e'` }).click();
  const box = page.getByRole("dialog", { name: `Rename run #${id} 'rename me e2e'` });
  await expect(box.getByLabel("New name of the run")).toHaveValue("rename me e2e");
  await box.getByLabel("New name of the run").fill("renamed e2e");
  await box.getByRole("button", { name: "Save name" }).click();
  await expect(box).toHaveCount(0);
  await expect(page.locator(`tr[data-run="${id}"]`)).toContainText("renamed e2e");
  await expect(page.getByRole("status").filter({ hasText: `Renamed run #${id}` })).toBeVisible();
});

test("a dataset that runs use is not deleted: the refusal names them", async ({ page }) => {
  await login(page);
  const id = await smallRun(page, "uses the demo dataset");
  await open(page, "/datasets");
  const used = page.locator("table.datasets tbody tr").filter({ hasText: "built-in" }).first();
  await used.getByRole("button", { name: /^Delete dataset/ }).click();
  const dialog = page.getByRole("alertdialog", { name: /^Delete dataset/ });
  await expect(dialog).toContainText(/is used by \d+ runs?: /);
  await expect(dialog).toContainText(`#${id} 'uses the demo dataset'`);
  await page.screenshot({ path: "test-results/dataset-refused-1366.png" });
  await expect(dialog.getByRole("button", { name: "Delete the dataset" })).toHaveCount(0);
  await dialog.getByRole("button", { name: "Keep it" }).click();
  await expect(used).toBeVisible();
});
