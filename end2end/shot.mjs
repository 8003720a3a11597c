// Developer helper: screenshot a page after hydration. Usage: node shot.mjs URL OUT.png [wait-ms]
import { chromium } from "@playwright/test";
const [url, out, wait] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
await page.goto(url, { waitUntil: "networkidle" });
await page.waitForTimeout(Number(wait ?? 500));
await page.screenshot({ path: out, fullPage: true });
console.log(errors.length ? "page errors:\n" + errors.join("\n") : "no page errors");
await browser.close();
