// `make bench`: a cold first visit as a new user meets it, in Debian's Chromium: a fresh
// browser context (empty cache) loads a page and waits until the app is interactive (the
// wasm bundle hydrated: `html[data-hydrated]`). Prints p50/max over N visits per page,
// with the time the server-rendered HTML took to arrive beside it (readable before the
// bundle), so the bundle's share is visible, and what the visit downloaded of the bundle
// (`/pkg/`: main module, the page's lazily loaded chunks, JS, CSS) as the browser received
// it (compressed), with the number of files. Usage: node first_visit.cjs URL TOKEN [N]
const { chromium } = require("../../end2end/node_modules/playwright");

const [base, token, runs = "10"] = process.argv.slice(2);
const pages = ["/", "/products/customer-signed-up", "/schemas", "/incidents"];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  for (const path of pages) {
    const interactive = [];
    const readable = [];
    let downloaded = 0;
    let files = 0;
    for (let i = 0; i < Number(runs); i++) {
      const context = await browser.newContext({ extraHTTPHeaders: { authorization: `Bearer ${token}` } });
      const page = await context.newPage();
      const bundle = [];
      page.on("requestfinished", (request) => {
        if (new URL(request.url()).pathname.startsWith("/pkg/")) bundle.push(request);
      });
      const started = Date.now();
      await page.goto(base + path, { waitUntil: "domcontentloaded" });
      readable.push(Date.now() - started);
      await page.waitForSelector("html[data-hydrated]", { state: "attached", timeout: 30_000 });
      interactive.push(Date.now() - started);
      const sizes = await Promise.all(bundle.map((request) => request.sizes()));
      downloaded = sizes.reduce((sum, size) => sum + size.responseBodySize, 0);
      files = sizes.length;
      await context.close();
    }
    const p50 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(
      `${path.padEnd(30)} readable p50 ${p50(readable)} ms   interactive p50 ${p50(interactive)} ms   max ${Math.max(...interactive)} ms   (target < 1000 ms)   bundle ${(downloaded / 1024).toFixed(1)} KB in ${files} files`,
    );
  }
  await browser.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
