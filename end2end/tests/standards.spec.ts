// The standards every page holds (issue 18): usable at 390 px and 1366 px without the
// document scrolling sideways, no serious or critical axe-core violation (colour contrast
// among them) in the light and the dark theme, one h1, and a skip link that moves the
// keyboard to the page's content. Run over every page, as someone signed out and as the
// admin, who sees every section.
import type { Page } from "@playwright/test";
import { expect, seriousViolations, signIn, test } from "./fixtures";

const PUBLIC_PAGES = [
  "/",
  "/?q=customer",
  "/login",
  "/domains",
  "/domains/customer-management",
  "/products/customer-signed-up",
  "/products/enriched-customer-signed-up/lineage",
  "/schemas",
  "/schemas?subject=customer-management.customer-signed-up.v1-value",
  "/incidents",
  "/no/such/page",
];

const SIGNED_IN_PAGES = [
  "/?q=customer",
  "/domains/customer-management",
  "/products/customer-signed-up",
  "/products/enriched-customer-signed-up",
  "/products/enriched-customer-signed-up/lineage",
  "/nodes/customer-enrichment",
  "/schemas?subject=customer-management.customer-signed-up.v1-value",
  "/incidents",
  "/products/customer-signed-up/samples",
  "/register",
  "/register?from=customer-signed-up",
  "/subscriptions",
  "/approvals",
  "/account",
  "/admin",
  "/admin/audit",
];

const WIDTHS = [390, 1366];
const THEMES = ["light", "dark"] as const;

/** Problems of the page as it stands: sideways overflow, axe findings, h1 count. */
async function problems(page: Page, path: string, width: number, theme: string) {
  const found: string[] = [];
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  if (overflow > 1) found.push(`scrolls ${overflow} px sideways`);
  const headings = await page.locator("h1").count();
  if (headings !== 1) found.push(`${headings} h1 elements`);
  for (const violation of await seriousViolations(page)) found.push(violation);
  return found.map((problem) => `${path} at ${width} px, ${theme}: ${problem}`);
}

async function sweep(page: Page, paths: string[], theme: (typeof THEMES)[number]) {
  const found: string[] = [];
  await page.addInitScript((t) => localStorage.setItem("meshmart-theme", t), theme);
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: width < 500 ? 844 : 900 });
    for (const path of paths) {
      await page.goto(path);
      await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
      found.push(...(await problems(page, path, width, theme)));
    }
  }
  expect(found).toEqual([]);
}

// One test per theme, so each sweep has its own time budget (about a minute signed in, on
// the debug build; a slow CI machine has taken longer).
for (const theme of THEMES) {
  test(`public pages hold at both widths in the ${theme} theme`, async ({ page }) => {
    test.setTimeout(180_000);
    await sweep(page, PUBLIC_PAGES, theme);
  });

  test(`signed-in pages hold at both widths in the ${theme} theme`, async ({ page }) => {
    test.setTimeout(180_000);
    await signIn(page, "admin@meshmart.local");
    await sweep(page, SIGNED_IN_PAGES, theme);
  });
}

test("the skip link is the first stop of the keyboard and moves it to the content", async ({
  page,
}) => {
  await page.goto("/products/customer-signed-up");
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await expect(skip).toBeVisible();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#main")).toBeFocused();
  // The next Tab lands inside the content, not back in the header.
  await page.keyboard.press("Tab");
  expect(
    await page.evaluate(() => document.activeElement?.closest("main") !== null),
  ).toBe(true);
});

test("a page's title never goes blank while it hydrates", async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, "admin@meshmart.local");
  // Every change of the document's title from the first parsed byte on.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { titles: string[] }).titles = seen;
    new MutationObserver(() => {
      if (document.title !== seen[seen.length - 1]) seen.push(document.title);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  const blank: string[] = [];
  for (const path of SIGNED_IN_PAGES) {
    await page.goto(path);
    await expect(page.locator("html[data-hydrated]")).toBeAttached();
    const titles = await page.evaluate(() => (window as unknown as { titles: string[] }).titles);
    // Blank before the <title> element is parsed; never once the page has had one.
    const first = titles.findIndex((title) => title.trim() !== "");
    if (first < 0 || titles.slice(first).some((title) => title.trim() === "")) {
      blank.push(`${path}: ${JSON.stringify(titles)}`);
    }
  }
  expect(blank).toEqual([]);
});
