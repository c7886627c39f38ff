// The application shell: server-rendered, then hydrated into a live app.
import { expect, signIn, test } from "./fixtures";

test("the home page is server-rendered and becomes interactive once hydrated", async ({
  page,
}) => {
  const consoleErrors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });

  const response = await page.goto("/");
  expect(response?.status()).toBe(200);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(
    "Find event streams you can trust",
  );
  await expect(page).toHaveTitle("Meshmart");

  // The theme switch has no effect until the wasm bundle has hydrated the page: keep
  // clicking until it works, which proves the client-side app is live.
  const html = page.locator("html");
  const toggle = page.getByRole("button", { name: /dark/i });
  await expect(async () => {
    await toggle.click();
    await expect(html).toHaveAttribute("data-theme", "dark", { timeout: 500 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByRole("button", { name: /light/i })).toHaveAttribute(
    "aria-pressed",
    "true",
  );
  await page.screenshot({ path: "test-results/home-dark.png", fullPage: true });

  // The choice survives a reload (applied before first paint by the head script).
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", "dark");

  expect(consoleErrors).toEqual([]);
});

test("an unknown address shows the not-found page with status 404", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Page not found");
  await page.getByRole("link", { name: "Back to the catalog" }).click();
  await expect(page).toHaveURL(/\/$/);
});

test("the header search box submits a plain GET form to the search page", async ({ page }) => {
  await page.goto("/domains");
  const box = page.getByRole("searchbox", { name: "Search the catalog" });
  await box.fill("OrderPlaced");
  await box.press("Enter");
  await expect(page).toHaveURL(/\/\?q=OrderPlaced$/);
  await expect(page.getByRole("searchbox", { name: "Search data products" })).toHaveValue(
    "OrderPlaced",
  );
});

test("the home page loads only the main bundle; other pages bring their own code", async ({
  page,
}) => {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const fetched: string[] = [];
  page.on("requestfinished", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/pkg/")) fetched.push(path);
  });
  const html = page.locator("html");

  await page.goto("/");
  await expect(html).toHaveAttribute("data-hydrated", "true");
  expect(fetched).toContain("/pkg/meshmart_bg.wasm");
  expect(fetched.filter((path) => path.startsWith("/pkg/split_"))).toEqual([]);

  // Following a link inside the app fetches the page's group on the way, and the page works.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Domains" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Domains");
  expect(fetched.some((path) => path.startsWith("/pkg/split_browse_pages_"))).toBe(true);

  // A first visit to such a page gets its chunks named in the HTML, to load beside the main
  // bundle, and the page hydrates.
  const response = await page.goto("/schemas");
  const document = (await response?.text()) ?? "";
  expect(document).toMatch(/<link[^>]*split_browse_pages_\d+\.wasm[^>]*rel="preload"/);
  await expect(html).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Schema registry");
  expect(errors).toEqual([]);
});

test("without JavaScript every page's header has the signed-in menu, and signing out works", async ({
  browser,
}) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, "owner.sales@meshmart.local");
  // Pages that stream out of order: their header used to wait in a <template> that only a
  // script puts in place, so without JavaScript there was no menu and no way out.
  for (const path of ["/", "/?q=order", "/schemas", "/incidents", "/domains", "/subscriptions", "/approvals", "/account"]) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(200);
    const header = page.locator("header.site-header");
    await expect(header.getByRole("link", { name: "Subscriptions" }), path).toBeVisible();
    await expect(header.getByRole("link", { name: "Approvals" }), path).toBeVisible();
    await expect(header.getByRole("link", { name: "Sales Owner" }), path).toBeVisible();
    await expect(header.getByRole("button", { name: "Sign out" }), path).toBeVisible();
  }
  await page.goto("/schemas");
  await page.locator("header.site-header").getByRole("button", { name: "Sign out" }).click();
  await page.goto("/schemas");
  const header = page.locator("header.site-header");
  await expect(header.getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(header.getByRole("button", { name: "Sign out" })).toHaveCount(0);
  await context.close();
});

test("without JavaScript a product's or domain's page has its title, its header menu and every section in place", async ({
  browser,
}) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, "owner.sales@meshmart.local");
  // Each page more than once: what streamed out of order used to miss the head, or wait
  // in a <template> only a script places, about half the time.
  const pages: [string, string][] = [
    ["/domains/sales", "Sales · Meshmart"],
    ["/products/order-placed/lineage", "Lineage of OrderPlaced · Meshmart"],
    ["/products/order-placed", "OrderPlaced · Meshmart"],
  ];
  for (const [path, title] of pages) {
    for (let round = 0; round < 3; round++) {
      const response = await page.goto(path);
      expect(response?.status(), path).toBe(200);
      await expect(page, path).toHaveTitle(title);
      const header = page.locator("header.site-header");
      await expect(header.getByRole("link", { name: "Subscriptions" }), path).toBeVisible();
      await expect(header.getByRole("button", { name: "Sign out" }), path).toBeVisible();
      expect(await page.locator("template").count(), `${path}: nothing left in a <template>`).toBe(0);
    }
  }
  await page.goto("/domains/sales");
  await expect(page.getByRole("heading", { name: "Producers" })).toBeVisible();
  await context.close();
});
