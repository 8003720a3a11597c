import { expect, test } from "@playwright/test";
import { ADMIN, REVIEWER, VIEWER, hydrated, login, open } from "./helpers";

// A LAN host name for this machine: Chromium resolves bakeoff.lan to 127.0.0.1 (playwright.config.ts).
const base = new URL(process.env.BASE_URL ?? "http://127.0.0.1:3000");
const lanBase = `http://bakeoff.lan:${base.port}`;

test.describe("on a LAN host name over plain http", () => {
  test.use({ baseURL: lanBase });

  test("a user logs in, reaches a page, and the header says who is logged in", async ({ page, context }) => {
    await login(page, ADMIN);
    await expect(page).toHaveURL(new RegExp(`^${lanBase}/`));
    const cookies = await context.cookies(lanBase);
    const session = cookies.find((c) => c.name === "bakeoff_session");
    expect(session, "the browser kept the session cookie").toBeTruthy();
    expect(session!.secure).toBe(false);
    await open(page, "/costs");
    await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
    await expect(page.locator("header")).toContainText(`${ADMIN} (admin)`);
    // Log out without a reload: the header follows.
    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/login/);
    await expect(page.locator("header")).not.toContainText(ADMIN);
  });
});

test("an expired session lands on the log-in page and comes back after it", async ({ page }) => {
  await login(page, ADMIN);
  await open(page, "/costs");
  // The session ends on the server (as after the idle limit); the page is still open.
  const r = await page.request.post("/api/logout", { headers: { Origin: base.origin } });
  expect(r.status()).toBeLessThan(400);
  // The next call the page makes finds no session: the browser goes to the log-in page, with the
  // page to come back to (the one it was on, or the one it was going to).
  await page.getByRole("link", { name: "Datasets" }).click();
  await expect(page).toHaveURL(/\/login\?next=%2F(datasets|costs)$/);
  const next = decodeURIComponent(new URL(page.url()).searchParams.get("next")!);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
  await expect(page.locator("body")).not.toContainText("unknown variant");
  await page.getByLabel("User name").fill(ADMIN);
  await page.getByLabel("Password").fill(process.env.E2E_PASSWORD ?? "e2e password 123");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(new RegExp(`${next}$`));
  await expect(page.locator("header")).toContainText(`${ADMIN} (admin)`);
});

test("a tab whose user changed in another tab shows the new user when looked at again", async ({ context }) => {
  const first = await context.newPage();
  await login(first, ADMIN);
  await open(first, "/datasets");
  await expect(first.locator("header")).toContainText(`${ADMIN} (admin)`);
  // Another tab of the same browser logs out and in as the viewer.
  const second = await context.newPage();
  await login(second, VIEWER);
  await expect(second.locator("header")).toContainText(`${VIEWER} (viewer)`);
  // Back to the first tab: it asks who is logged in and loads afresh as the viewer, with no
  // control the viewer may not use (it showed the admin's until now).
  await first.bringToFront();
  const reloaded = first.waitForEvent("load");
  await first.evaluate(() => window.dispatchEvent(new Event("focus")));
  await reloaded;
  await hydrated(first);
  await expect(first.locator("header")).toContainText(`${VIEWER} (viewer)`);
  await expect(first.getByRole("form", { name: "Upload a dataset" })).toHaveCount(0);
});

test("a viewer sees no control it may not use", async ({ page }) => {
  await login(page, VIEWER);
  await open(page, "/datasets");
  await expect(page.getByRole("heading", { name: "Datasets" }).first()).toBeVisible();
  await expect(page.getByRole("form", { name: "Upload a dataset" })).toHaveCount(0);
  await expect(page.locator("nav")).not.toContainText("New run");
  await expect(page.locator("nav")).not.toContainText("Import");
  await open(page, "/launch");
  await expect(page.getByRole("button", { name: "Launch run" })).toHaveCount(0);
  await expect(page.locator("main")).toContainText("Runners and admins launch runs");
  await open(page, "/endpoints");
  await expect(page.getByRole("button", { name: /Add/ })).toHaveCount(0);
});

// Runs exist by now (the other files launched some): every page loads and hydrates without a
// page error, for a role that sees answers and for a reviewer who grades blind.
for (const who of [ADMIN, REVIEWER]) {
  test(`every page hydrates without an error for ${who}`, async ({ page }) => {
    await login(page, who);
    const pages = ["/", "/runs/1", "/runs/2", "/compare?run=1&run=2", "/costs", "/quality", "/grade", "/report", "/endpoints", "/datasets", "/planner", "/tests", "/workers", "/account", "/tokens"];
    // Admin pages (others get a refusal page, which must hydrate too).
    pages.push("/audit", "/trash", "/users");
    for (const path of pages) {
      const errors = await open(page, path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      expect(errors, `${path} as ${who}`).toEqual([]);
    }
  });
}
