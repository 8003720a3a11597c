import { defineConfig, devices } from "@playwright/test";

// Debian's Chromium, never a downloaded browser. The server is started by scripts/test.sh,
// which passes its address in BASE_URL.
export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  timeout: 120_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: "list",
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    trace: "off",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        launchOptions: {
          executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
          args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            // A LAN host name for this machine (tests/team.spec.ts logs in through it).
            "--host-resolver-rules=MAP bakeoff.lan 127.0.0.1",
          ],
        },
      },
    },
  ],
});
