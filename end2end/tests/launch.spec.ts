import { expect, test } from "@playwright/test";
import { login, open } from "./helpers";

test.beforeEach(async ({ page }) => {
  await login(page);
});

test("launch a 200-request run from the form, watch it fill, read the summary", async ({ page }) => {
  const errors = await open(page, "/launch");
  await expect(page.getByLabel("Endpoint")).toContainText("Built-in simulator (simulated)");
  await page.getByLabel("Model", { exact: true }).selectOption("sim-gemma-3-4b");
  await page.getByLabel("Requests", { exact: true }).fill("200");
  await page.getByLabel("Concurrency", { exact: true }).fill("16");
  await page.getByRole("button", { name: "Launch run" }).click();

  await expect(page).toHaveURL(/\/runs\/\d+$/);
  const bar = page.getByRole("progressbar", { name: "Run progress" });
  await expect(bar).toBeVisible();
  // Live: the text comes from Server-Sent Events while the run goes.
  await expect(page.locator(".progress-text")).toContainText("running");
  await expect(page.locator(".progress-text")).toContainText("output tok/s");
  await expect(bar).toHaveAttribute("aria-valuenow", "100", { timeout: 90_000 });
  await expect(page.locator(".progress-text")).toContainText("200/200 requests (100%)");

  const summary = page.getByRole("region", { name: "Summary (simulated)" });
  await expect(summary).toBeVisible();
  await expect(summary.getByRole("row", { name: /Success rate/ })).toContainText("100% (200/200)");
  await expect(summary.getByRole("row", { name: /Output tokens\/s/ })).toContainText("completion tokens");
  await expect(summary.getByRole("row", { name: /^TTFT/ })).toBeVisible();
  expect(errors).toEqual([]);

  // The runs list shows it, with the throughput chart labelled by definition.
  await page.getByRole("link", { name: "Runs", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Runs", exact: true })).toBeVisible();
  const chart = page.getByRole("region", { name: "Throughput" });
  await expect(chart.locator("svg")).toContainText("output tok/s");
  await expect(chart.locator("svg")).toContainText("total tok/s");
});

test("bad launch input is explained at its field", async ({ page }) => {
  await open(page, "/launch");
  await page.getByLabel("Requests", { exact: true }).fill("0");
  await page.getByLabel("Concurrency", { exact: true }).fill("-4");
  await page.getByRole("button", { name: "Launch run" }).click();
  await expect(page.locator("#requests-error")).toHaveText("Request count must be at least 1, got 0");
  await expect(page.locator("#concurrency-error")).toHaveText("Concurrency must be at least 1, got -4");
  await expect(page).toHaveURL(/\/launch$/);
});

test("an unreachable endpoint is refused with a message that says what to do", async ({ page }) => {
  await open(page, "/endpoints");
  await page.getByLabel("Name (unique)").fill("nowhere");
  await page.getByLabel("Base URL", { exact: true }).fill("http://127.0.0.1:9");
  await page.getByRole("button", { name: "Check and add" }).click();
  await expect(page.locator("#base_url-error")).toContainText("could not connect to http://127.0.0.1:9");
  await expect(page.locator("#base_url-error")).toContainText("vllm serve");
});

test("a malformed dataset upload names the line and stores nothing", async ({ page }) => {
  await open(page, "/datasets");
  const rowsBefore = await page.locator("table.datasets tbody tr").count();
  await page.getByLabel("Name", { exact: true }).fill("broken upload");
  await page.getByLabel("OpenAI Batch JSONL file").setInputFiles({
    name: "broken.jsonl",
    mimeType: "application/jsonl",
    buffer: Buffer.from('{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"hi"}]}}\n{"custom_id":"b"}\n'),
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.locator("#file-error")).toContainText("line 2: field `method` is missing");
  await expect(page.locator("table.datasets tbody tr")).toHaveCount(rowsBefore);
});
