import { expect, test } from "@playwright/test";
import { login, open } from "./helpers";

test("the planner recomputes in the browser as you type, and a test can be planned", async ({ page }) => {
  await login(page);
  await open(page, "/planner");
  await page.getByLabel("Model", { exact: true }).selectOption({ label: "google/gemma-3-12b-it (bf16)" });
  await expect(page.getByRole("heading", { name: "It does not fit" })).toBeVisible();
  await expect(page.getByRole("alert").first()).toContainText("the weights alone need 22.70 GiB and the RTX 4080 16 GB has 16.00 GiB");
  await page.getByLabel("GPU memory (GiB)").fill("48");
  await expect(page.getByRole("heading", { name: "It fits" })).toBeVisible();

  await page.getByLabel("Model", { exact: true }).selectOption({ label: "google/gemma-3-12b-it-qat-q4_0 (GGUF Q4_0 / QAT)" });
  await page.getByLabel("GPU memory (GiB)").fill("16");
  await expect(page.locator("pre.command")).toContainText("vllm serve google/gemma-3-12b-it-qat-q4_0");
  await page.getByLabel("Title").fill("Gemma 3 12B QAT on the 4080");
  await page.getByLabel("Expected outcome").fill("best quality, 12B on 16 GB");
  await page.getByRole("button", { name: "Add to pending tests" }).click();
  await page.getByRole("link", { name: "See pending tests" }).click();
  await expect(page.getByRole("heading", { name: "Next steps" })).toBeVisible();
  await expect(page.locator("ol.steps")).toContainText("Gemma 3 12B QAT on the 4080 — expected: best quality, 12B on 16 GB (fits:");
});
