// The catalog search at `/`: results follow the box as you type (no page reload), facets
// narrow them and live in the URL, the keyboard opens a result, and the page still works as
// a plain GET form without JavaScript.
import type { Page } from "@playwright/test";
import { expect, seriousViolations, signIn, test } from "./fixtures";

const ANALYST = "analyst1@meshmart.local";

async function hydratedSearchPage(page: Page, path = "/") {
  await page.goto(path);
  await page.waitForSelector("html[data-hydrated]");
  // Survives client-side navigation, not a reload.
  await page.evaluate(() => ((window as unknown as { marker: string }).marker = "same page"));
}

const marker = (page: Page) =>
  page.evaluate(() => (window as unknown as { marker?: string }).marker);

test("results follow the box as you type, without a page reload", async ({ page }) => {
  await signIn(page, ANALYST);
  await hydratedSearchPage(page);
  const box = page.getByRole("searchbox", { name: "Search data products" });
  const hits = page.locator("ol.hits > li");

  await box.pressSequentially("custmer signup", { delay: 40 });
  await expect(page).toHaveURL(/\?q=custmer\+signup$/);
  await expect(hits.first().locator(".hit-name")).toHaveText(/^(Enriched)?CustomerSignedUp$/);
  await expect(hits.nth(1).locator(".hit-name")).toHaveText(/^(Enriched)?CustomerSignedUp$/);
  await expect(hits.first().locator("mark").first()).toHaveText("Customer");

  await box.fill("OrderPlaced");
  await expect(hits.first().locator(".hit-name")).toHaveText("OrderPlaced");
  await expect(page).toHaveURL(/\?q=OrderPlaced$/);
  expect(await marker(page)).toBe("same page");
  await page.screenshot({ path: "test-results/search-typing.png", fullPage: true });
});

test("a facet narrows the results, lives in the URL, and back undoes it", async ({ page }) => {
  await signIn(page, ANALYST);
  await hydratedSearchPage(page, "/?q=customer");
  const summary = page.locator(".search-summary strong");
  await expect(summary).toHaveText(/\d+ data products/);
  const before = await summary.textContent();

  const facet = page.locator('a.facet-option[data-facet="domain"][data-value="customer-management"]');
  const expected = (await facet.locator(".facet-count").textContent())?.trim();
  await facet.click();
  await expect(page).toHaveURL(/\?q=customer&domain=customer-management$/);
  await expect(summary).toHaveText(`${expected} data products`);
  await expect(facet).toHaveAttribute("aria-current", "true");
  const domains = await page.locator("ol.hits .hit-domain").allTextContents();
  expect(domains.length).toBeGreaterThan(0);
  expect(new Set(domains)).toEqual(new Set(["Customer Management"]));
  expect(await marker(page)).toBe("same page");

  await page.goBack();
  await expect(page).toHaveURL(/\?q=customer$/);
  await expect(summary).toHaveText(before ?? "");
});

test("the keyboard focuses the box and opens a result", async ({ page }) => {
  await signIn(page, ANALYST);
  await hydratedSearchPage(page);
  await page.locator("h1").click();
  await page.keyboard.press("/");
  const box = page.getByRole("searchbox", { name: "Search data products" });
  await expect(box).toBeFocused();
  await page.keyboard.type("OrderPlaced");
  const first = page.locator("ol.hits > li").first();
  await expect(first.locator(".hit-name")).toHaveText("OrderPlaced");
  await page.keyboard.press("ArrowDown");
  await expect(first).toHaveClass(/active/);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/products\/order-placed$/);
  await expect(page.getByRole("heading", { level: 1 })).toContainText("OrderPlaced");
});

test("nothing found suggests a spelling that finds something", async ({ page }) => {
  await signIn(page, ANALYST);
  await page.goto("/?q=oderr");
  await expect(page.locator(".search-summary strong")).toHaveText("No data products match");
  await page.getByRole("link", { name: "order" }).click();
  await expect(page).toHaveURL(/\?q=order$/);
  await expect(page.locator(".search-summary strong")).toHaveText(/\d+ data products/);
});

test("a query mistake is explained, not an error page", async ({ page }) => {
  await signIn(page, ANALYST);
  const response = await page.goto("/?q=colour%3Ared");
  expect(response?.status()).toBe(400);
  await expect(page.getByRole("alert")).toContainText("unknown filter `colour:`");
});

test("without JavaScript the search page is a plain GET form", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, ANALYST);
  await page.goto("/");
  const box = page.getByRole("searchbox", { name: "Search data products" });
  await box.fill("field:signupRiskScore");
  await box.press("Enter");
  await expect(page).toHaveURL(/\?q=field%3AsignupRiskScore/);
  // The server-rendered box shows what was searched, so the next submit keeps it.
  await expect(page.getByRole("searchbox", { name: "Search data products" })).toHaveValue(
    "field:signupRiskScore",
  );
  await expect(page.locator("ol.hits > li")).toHaveCount(1);
  await expect(page.locator("ol.hits .hit-name")).toHaveText("EnrichedCustomerSignedUp");
  await context.close();
});

test("on a phone the box takes the width and the filters fold behind a button", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, "analyst2@meshmart.local");
  await page.goto("/?q=customer");
  const box = page.getByRole("searchbox", { name: "Search data products" });
  expect((await box.boundingBox())?.width ?? 0, "the search box is usable").toBeGreaterThan(300);
  const facets = page.locator("aside.facets");
  await expect(facets).toBeHidden();
  await expect(page.locator("ol.hits > li").first()).toBeInViewport();
  await page.locator("label.facets-button").click();
  await expect(facets).toBeVisible();
  expect(
    await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
    "the page does not scroll sideways",
  ).toBe(true);
  expect(await seriousViolations(page)).toEqual([]);
});

test("an empty result offers to clear the filters or show everything", async ({ page }) => {
  await signIn(page, "analyst3@meshmart.local");
  await page.goto("/?q=zzqxv&domain=finance");
  await expect(page.locator(".search-summary strong")).toHaveText("No data products match");
  const empty = page.getByTestId("search-empty");
  await expect(empty.getByRole("link", { name: "Clear the filters" })).toHaveAttribute("href", "/?q=zzqxv");
  await empty.getByRole("link", { name: "Show every data product" }).click();
  await expect(page.locator(".search-summary strong")).toHaveText(/\d+ data products/);
});
