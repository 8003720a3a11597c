import { expect, Page } from "@playwright/test";

/** Open a page and wait until the wasm has hydrated it (so clicks reach Rust). */
export async function open(page: Page, path: string) {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(path);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  return errors;
}
