import { expect, test } from "@playwright/test";
import { login, open } from "./helpers";

test.use({ viewport: { width: 1366, height: 900 } });

test("a refused upload keeps the form as it was and names the line and the column", async ({ page }) => {
  await login(page);
  await open(page, "/datasets");
  await page.getByLabel("Name", { exact: true }).fill("kept upload");
  await page.getByLabel("Description").fill("still here");
  const good = '{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"hi"}]}}';
  await page.getByLabel("OpenAI Batch JSONL file").setInputFiles({
    name: "cut.jsonl",
    mimeType: "application/jsonl",
    buffer: Buffer.from(`${good}\n${good.replace('"a"', '"b"').slice(0, 60)}\n`),
  });
  await page.getByRole("button", { name: "Upload" }).click();
  await expect(page.locator("#file-error")).toContainText("line 2: not valid JSON at column 60: EOF while parsing");
  await expect(page.locator("#file-error")).not.toContainText("line 1 column");
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue("kept upload");
  await expect(page.getByLabel("Description")).toHaveValue("still here");
  const files = await page.getByLabel("OpenAI Batch JSONL file").evaluate((e) => (e as HTMLInputElement).files?.length ?? 0);
  expect(files).toBe(1);
});

test("the planner refuses impossible settings at their field and never shows a negative cache", async ({ page }) => {
  await login(page);
  await open(page, "/planner");
  await page.getByLabel("max_model_len").fill("0");
  await expect(page.locator("#max_model_len-error")).toContainText("max_model_len must be from 1 to");
  await expect(page.getByRole("heading", { name: "Check the settings" })).toBeVisible();
  await expect(page.locator("pre.command")).toHaveCount(0);
  await page.getByLabel("max_model_len").fill("4096");
  await page.getByLabel("max_num_seqs").fill("0");
  await expect(page.locator("#max_num_seqs-error")).toContainText("max_num_seqs must be from 1 to");
  // Quoted as typed, not as the 0 it is planned as.
  await page.getByLabel("max_num_seqs").fill("-5");
  await expect(page.locator("#max_num_seqs-error")).toContainText(/, got -5$/);
  await page.getByLabel("max_model_len").fill("2.5");
  await expect(page.locator("#max_model_len-error")).toContainText("(a whole number), got 2.5");
  await page.getByLabel("max_model_len").fill("4096");
  await page.getByLabel("max_num_seqs").fill("256");
  await page.getByLabel("gpu_memory_utilization").fill("1.5");
  await expect(page.locator("#gpu_memory_utilization-error")).toContainText("more than 0 and at most 1");
  await expect(page.locator("main")).not.toContainText("weights alone");
  await page.getByLabel("gpu_memory_utilization").fill("0.9");
  // An emptied field is nothing, not the number it held (QA: "It fits" on the old budget).
  await page.getByLabel("GPU memory (GiB)").fill("");
  await expect(page.locator("#gpu_memory_gib-error")).toContainText("got nothing");
  await expect(page.getByRole("heading", { name: "Check the settings" })).toBeVisible();
  await page.getByLabel("GPU memory (GiB)").fill("16");
  await page.getByLabel("Model", { exact: true }).selectOption({ label: "google/gemma-3-12b-it (bf16)" });
  await expect(page.getByRole("heading", { name: "It does not fit" })).toBeVisible();
  const kv = page.getByRole("row", { name: /^KV cache/ });
  await expect(kv).toContainText("none");
  await expect(kv).toContainText(/GiB short/);
  await expect(page.locator("main")).not.toContainText(/KV cache\s*-/);
  await page.screenshot({ path: "test-results/planner-1366.png", fullPage: true });
});

test("two endpoints share a GPU: a refused link keeps the form's choices, a good one shows the shared lock", async ({ page }) => {
  await login(page);
  // The simulator under a second name (localhost), added as an endpoint of its own.
  const eps = await (await page.request.get("/api/endpoints")).json();
  const builtin = eps.find((e: any) => e.builtin);
  let alias = eps.find((e: any) => e.name === "gpu alias");
  if (!alias) {
    const base = new URL(page.url()).origin;
    const r = await page.request.post("/api/endpoints", {
      headers: { Origin: base },
      data: { name: "gpu alias", base_url: builtin.base_url.replace("127.0.0.1", "localhost") },
    });
    expect(r.status(), await r.text()).toBe(201);
    alias = await r.json();
  }
  await open(page, "/endpoints");
  const form = page.getByRole("form", { name: "Share a GPU" });
  await form.getByLabel("Endpoint").selectOption(String(alias.id));
  await form.getByLabel("Shares a GPU with").selectOption("gpu alias");
  await form.getByRole("button", { name: "Save" }).click();
  await expect(form).toContainText("shares its GPU with itself already");
  // The refusal left the chosen endpoint as it was: pick the partner only.
  await expect(form.getByLabel("Endpoint")).toHaveValue(String(alias.id));
  await form.getByLabel("Shares a GPU with").selectOption(builtin.name);
  await form.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("small.gpu", { hasText: `shares a GPU with '${builtin.name}'` })).toBeVisible();
});
