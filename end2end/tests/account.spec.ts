import { expect, test } from "@playwright/test";
import { login, open, VIEWER } from "./helpers";

const PASSWORD = process.env.E2E_PASSWORD ?? "e2e password 123";

// The account page is rendered on the server; its change-password form is a small island.
test("the change-password form says what is wrong at its field, then changes it without a reload", async ({ page }) => {
  await login(page, VIEWER);
  const errors = await open(page, "/account");
  await expect(page.getByText(`Logged in as ${VIEWER} (viewer).`)).toBeVisible();
  let reloads = 0;
  page.on("load", () => reloads++);
  const form = page.getByRole("form", { name: "Change password" });
  await form.getByLabel("Current password").fill("not the password");
  await form.getByLabel("New password (8 characters or more)").fill(PASSWORD);
  await form.getByLabel("New password again").fill(PASSWORD);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(page.locator("#current-error")).toContainText("that is not your current password");
  // The same password again (later tests log in with it): accepted, this session kept.
  await form.getByLabel("Current password").fill(PASSWORD);
  await form.getByRole("button", { name: "Change password" }).click();
  await expect(form.getByRole("status")).toContainText("Password changed");
  await expect(page.locator("#current-error")).toHaveCount(0);
  expect(reloads).toBe(0);
  expect(errors).toEqual([]);
  await open(page, "/account");
  await expect(page.getByText(`Logged in as ${VIEWER} (viewer).`)).toBeVisible();
});
