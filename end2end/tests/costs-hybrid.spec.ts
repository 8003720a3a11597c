import { expect, test } from "@playwright/test";
import { login, open } from "./helpers";

test("a hybrid priced by a GPU hour says the GPU kept around the clock is paid whatever the plan", async ({ page }) => {
  await login(page);
  const origin = new URL(page.url()).origin;
  const ids: number[] = [];
  for (const model of ["sim-llama-3.2-1b", "sim-gemma-3-4b"]) {
    const res = await page.request.post("/api/runs", {
      data: { endpoint_id: 1, dataset_id: 1, model, requests: 20, concurrency: 20, name: `hybrid ${model}` },
      headers: { origin },
    });
    expect(res.status()).toBe(201);
    ids.push((await res.json()).run_ids[0]);
  }
  for (const id of ids) {
    await expect
      .poll(async () => (await (await page.request.get(`/api/runs/${id}`)).json()).run.status, { timeout: 60_000 })
      .toBe("completed");
  }
  await open(page, "/costs");
  const selfHosted = await page.locator("#sheet option", { hasText: "Self-hosted" }).first().getAttribute("value");
  await page.locator("#sheet").selectOption(selfHosted!);
  await page.locator("#screen").selectOption(String(ids[0]));
  await page.locator("#judge").selectOption(String(ids[1]));
  await expect(page.getByText("Self-hosted: these are the GPU-hours each job needs")).toBeVisible();
  await expect(page.getByText(/A GPU kept around the clock costs \$[0-9,.]+ a month whatever the plan/)).toBeVisible();
});
