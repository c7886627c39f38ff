// Browser tests run in Debian's Chromium (never a downloaded browser) against a server that
// `scripts/test.sh` starts; MESHMART_E2E_URL says where.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  // The list as it runs; the JSON report for `failures.js`, which repeats the failures last.
  reporter: [["list"], ["json", { outputFile: "test-results/report.json" }]],
  outputDir: "test-results",
  use: {
    baseURL: process.env.MESHMART_E2E_URL ?? "http://127.0.0.1:3000",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
