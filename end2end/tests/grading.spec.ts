import { expect, test } from "@playwright/test";
import { ADMIN, REVIEWER, login, open } from "./helpers";

test("a reviewer grades five answers by keyboard only, blind until the queue is closed", async ({ page }) => {
  // Set-up as admin: a small run, and a queue of five of its answers.
  await login(page, ADMIN);
  await open(page, "/launch");
  await page.getByLabel("Model", { exact: true }).selectOption("sim-qwen3-4b");
  await page.getByLabel("Requests", { exact: true }).fill("30");
  await page.getByLabel("Concurrency", { exact: true }).fill("30");
  await page.getByLabel("Name (optional)").fill("grading e2e");
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page.getByRole("progressbar", { name: "Run progress" })).toHaveAttribute("aria-valuenow", "100", { timeout: 60_000 });
  // 100% comes a moment before the run is stored as ended (summary, quality checks).
  await expect(page.locator(".progress-text")).toContainText("completed", { timeout: 30_000 });
  const runId = page.url().split("/").pop();

  await open(page, "/grade");
  await page.getByLabel("Name", { exact: true }).fill("keyboard queue");
  await page.getByLabel(/Sample size/).fill("5");
  await page.getByRole("checkbox", { name: new RegExp(`#${runId} grading e2e`) }).check();
  await page.getByRole("button", { name: "Make queue" }).click();
  const start = page.getByRole("link", { name: "Start grading" }).first();
  await expect(start).toBeVisible();
  const href = await start.getAttribute("href");

  // The reviewer: only the keyboard from here.
  await page.context().clearCookies();
  await login(page, REVIEWER);
  await open(page, href!);
  await expect(page.getByRole("status").first()).toContainText("Item");
  await expect(page.locator("main")).not.toContainText("sim-qwen3-4b");
  for (let i = 1; i <= 5; i++) {
    await expect(page.getByRole("region", { name: "Answer" })).toBeVisible();
    await page.keyboard.press(String(1 + (i % 5)));
    await expect(page.getByRole("radiogroup", { name: "Overall grade" })).toContainText(`overall ${1 + (i % 5)}/5`);
    await page.keyboard.press("Enter");
    // Saved, and still blind: nothing names the model.
    await expect(page.getByText("Saved.", { exact: true })).toBeVisible();
    await expect(page.locator("main")).not.toContainText("sim-qwen3-4b");
    if (i < 5) {
      // The next item has loaded once the count of judged items moves on.
      await expect(page.locator(".progress-text")).toContainText(`${i} judged by you`);
    }
  }
  await expect(page.getByText("All done")).toBeVisible();

  // The queue's maker closes it; then the reviewer sees who wrote what they judged.
  await page.context().clearCookies();
  await login(page, ADMIN);
  await open(page, "/grade");
  await page.getByRole("button", { name: "Close keyboard queue" }).click();
  await page.getByRole("button", { name: "Close and reveal" }).click();
  await expect(page.getByRole("row", { name: /keyboard queue/ })).toContainText("closed");
  await page.context().clearCookies();
  await login(page, REVIEWER);
  await open(page, href!);
  await expect(page.getByRole("table", { name: "Who wrote what" })).toContainText("sim-qwen3-4b");
  await page.context().clearCookies();
  await login(page, ADMIN);

  // The grades show on the quality page.
  await open(page, "/quality");
  // Five grades: the mean comes with its interval and n.
  await expect(page.getByRole("row", { name: new RegExp(`#${runId} sim-qwen3-4b`) })).toContainText(/95% CI .*n=5\)/);
});
