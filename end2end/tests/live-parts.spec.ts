import { expect, test } from "@playwright/test";
import { launchLongRun, login, open } from "./helpers";

// The Workers page is rendered on the server only; a small island reads its table again every
// few seconds. It follows the worker as it takes a run, without a reload.
test("the workers page, rendered on the server, follows a worker as it takes a run without a reload", async ({ page }) => {
  await login(page);
  const origin = new URL(page.url()).origin;
  const errors = await open(page, "/workers");
  const table = page.locator("table.workers");
  await expect(table).toBeVisible();
  let reloads = 0;
  page.on("load", () => reloads++);
  const id = await launchLongRun(page);
  try {
    await expect(table.getByRole("link", { name: new RegExp(`^#${id} `) })).toBeVisible({ timeout: 20_000 });
    // The link in the swapped-in table leads to the run (a plain link: a page load).
    await table.getByRole("link", { name: new RegExp(`^#${id} `) }).click();
    await expect(page).toHaveURL(new RegExp(`/runs/${id}$`));
    await page.waitForLoadState("load");
    expect(reloads, "the table changed in place; only the link's click loaded a page").toBe(1);
    expect(errors).toEqual([]);
  } finally {
    await page.request.post(`/api/runs/${id}/cancel`, { headers: { Origin: origin } });
  }
});
