import { expect, test } from "@playwright/test";
import { login, open } from "./helpers";

test("a refused price keeps its form open with what was typed and each field's message", async ({ page }) => {
  await login(page);
  await open(page, "/costs");
  await page.getByRole("button", { name: /^Add a price to / }).first().click();
  const form = page.getByRole("form", { name: "Price", exact: true });
  await expect(form).toBeVisible();
  await form.getByLabel("Model or tier").fill("e2e-priced-model");
  await form.getByLabel("$ per 1M input tokens").fill("-1");
  await form.getByLabel("$ per 1M output tokens").fill("abc");
  await form.getByRole("button", { name: "Save price" }).click();

  // Refused: the form stays, with what was typed and the message beside each field.
  await expect(form.getByText("must be from 0 to 10,000 ($ per 1M tokens), got '-1'")).toBeVisible();
  await expect(form.getByText("must be a number from 0 to 10,000 ($ per 1M tokens), got 'abc'")).toBeVisible();
  await expect(form.getByLabel("Model or tier")).toHaveValue("e2e-priced-model");
  await expect(form.getByLabel("$ per 1M input tokens")).toHaveValue("-1");
  await expect(form.getByLabel("$ per 1M output tokens")).toHaveValue("abc");

  // A price beyond the range says the range.
  await form.getByLabel("$ per 1M input tokens").fill("5000000");
  await form.getByLabel("$ per 1M output tokens").fill("1.5");
  await form.getByRole("button", { name: "Save price" }).click();
  await expect(form.getByText("must be from 0 to 10,000 ($ per 1M tokens), got '5000000'")).toBeVisible();
  await expect(form.getByText(/got 'abc'/)).toHaveCount(0);

  // Stored: the form closes and the row is in its sheet.
  await form.getByLabel("$ per 1M input tokens").fill("0.5");
  await form.getByRole("button", { name: "Save price" }).click();
  await expect(form).toBeHidden();
  const row = page.getByRole("row", { name: /e2e-priced-model/ });
  await expect(row).toContainText("0.5");
  await expect(row).toContainText("1.5");

  // A sheet dated banana: refused, the name typed stays.
  const sheet = page.getByRole("form", { name: "Add a price sheet" });
  await sheet.getByLabel("Sheet name").fill("e2e banana sheet");
  await sheet.getByLabel("Provider").fill("acme");
  await sheet.getByLabel("Dated").fill("banana");
  await sheet.getByLabel("Source").fill("acme.example/prices");
  await sheet.getByRole("button", { name: "Add sheet" }).click();
  await expect(sheet.getByText(/YYYY-MM-DD or YYYY-MM .*got 'banana'/)).toBeVisible();
  await expect(sheet.getByLabel("Sheet name")).toHaveValue("e2e banana sheet");
  await expect(page.getByRole("heading", { name: /e2e banana sheet/ })).toHaveCount(0);
});
