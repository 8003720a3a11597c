import { expect, Page, test } from "@playwright/test";
import { login, open, smallRun } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

/** Each element's content fits its box (nothing clipped or hidden sideways). */
async function expectNotClipped(page: Page, selector: string, min: number) {
  const boxes = await page.locator(selector).evaluateAll((els) =>
    els.map((e) => ({ scroll: e.scrollWidth, client: e.clientWidth })),
  );
  expect(boxes.length).toBeGreaterThanOrEqual(min);
  for (const b of boxes) {
    expect(b.scroll, JSON.stringify(boxes)).toBeLessThanOrEqual(b.client);
  }
  return boxes;
}

test("the nav stays on one line at 1366 px", async ({ page }) => {
  await login(page);
  await open(page, "/");
  // The links shown (the account menu's links are folded under the user's name until opened).
  const links = page.locator("header.top nav a:visible");
  const boxes = await links.evaluateAll((els) =>
    els.map((e) => e.getBoundingClientRect()).map((r) => ({ middle: r.top + r.height / 2, height: r.height })),
  );
  expect(boxes.length).toBeGreaterThan(10);
  // One line: every link's middle within a few pixels of the others'.
  const middles = boxes.map((b) => b.middle);
  expect(Math.max(...middles) - Math.min(...middles), JSON.stringify(boxes)).toBeLessThan(6);
  for (const b of boxes) expect(b.height).toBeLessThan(30);
  const nav = await page.locator("header.top nav").evaluate((e) => ({ scroll: e.scrollWidth, client: e.clientWidth }));
  expect(nav.scroll).toBeLessThanOrEqual(nav.client);
});

test("pairwise answers and answers side by side use the width and clip nothing", async ({ page }) => {
  await login(page);
  const a = await smallRun(page, "wide left", { model: "sim-gemma-3-4b", requests: 12 });
  const b = await smallRun(page, "wide right", { model: "sim-llama-3.2-1b", requests: 12 });

  await open(page, "/grade");
  await page.getByLabel("Name", { exact: true }).fill("wide pairs");
  await page.getByLabel("Kind").selectOption("pairwise");
  await page.getByLabel(/Sample size/).fill("3");
  await page.getByRole("checkbox", { name: new RegExp(`#${a} wide left`) }).check();
  await page.getByRole("checkbox", { name: new RegExp(`#${b} wide right`) }).check();
  await page.getByRole("button", { name: "Make queue" }).click();
  await page.getByRole("status").getByRole("link", { name: "Start grading" }).click();
  await expect(page.getByRole("region", { name: "Answer A (left)" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Answer B (right)" })).toBeVisible();
  const panels = await expectNotClipped(page, ".grader section.answer", 2);
  // Two answers side by side share the window's width (minus margins), not a narrow column.
  for (const p of panels) expect(p.client).toBeGreaterThan(560);
  await page.screenshot({ path: "test-results/pairwise-1366.png", fullPage: true });

  await open(page, `/compare?run=${a}&run=${b}`);
  await expect(page.locator(".side section.answer")).toHaveCount(2);
  await expectNotClipped(page, ".side section.answer", 2);
  await page.screenshot({ path: "test-results/side-by-side-1366.png", fullPage: true });
});
