// Lineage graphs in the browser: the demo flow from sign-ups to marketing, path
// highlighting and kind filters, and a 2,000-node lineage (seed-demo --lineage-nodes 2000)
// that opens collapsed and expands on demand.
import { expect, signIn, test } from "./fixtures";

test("the demo flow runs from sign-ups through enrichment to marketing", async ({ page }) => {
  await signIn(page, "analyst3@meshmart.local");
  await page.goto("/products/enriched-customer-signed-up/lineage");
  await expect(page.locator("html[data-hydrated]")).toBeAttached();
  const signups = page.locator('g[data-node="port:customer-management.customer-signed-up.v1"]');
  const marketing = page.locator('g[data-node="consumer:User:svc-marketing-campaigns"]');
  await expect(signups).toBeVisible();
  await expect(page.locator('g.lineage-node.node-processor', { hasText: "customer-enrichment" })).toBeVisible();
  await expect(marketing).toBeVisible();
  // Fit to the box by default: no downstream node hides past its right edge; a port reads
  // as its product, with the topic in full on hover and focus.
  const fits = await page
    .locator(".lineage-canvas svg")
    .evaluate((svg) => svg.getBoundingClientRect().width <= (svg.parentElement?.clientWidth ?? 0) + 1);
  expect(fits).toBe(true);
  await expect(signups.locator("text.label")).toHaveText("CustomerSignedUp");
  await expect(signups.locator("a")).toHaveAttribute(
    "aria-label",
    "CustomerSignedUp — topic customer-management.customer-signed-up.v1",
  );

  // Path mode: two clicks highlight the way between them.
  await page.getByLabel("path: click two nodes").check();
  await signups.click();
  await marketing.click();
  await expect(page.locator("path.lineage-edge.on-path")).toHaveCount(3);
  // The keyboard does the same: Enter on a product's link, Space on a node without one.
  await signups.locator("a").focus();
  await page.keyboard.press("Enter");
  await expect(page.locator("path.lineage-edge.on-path")).toHaveCount(0);
  await marketing.focus();
  await expect(marketing).toBeFocused();
  await page.keyboard.press("Space");
  await expect(marketing).toHaveAttribute("aria-pressed", "true");
  await expect(page.locator("path.lineage-edge.on-path")).toHaveCount(3);
  await expect(page).toHaveURL(/enriched-customer-signed-up\/lineage/);

  // Kind filter: consumers hidden.
  await page.getByLabel("consumers").uncheck();
  await expect(marketing).toBeHidden();
  await page.getByLabel("consumers").check();

  // Leaving path mode, a node opens its product's lineage.
  await page.getByLabel("path: click two nodes").uncheck();
  await signups.locator("a").click();
  await expect(page).toHaveURL(/\/products\/customer-signed-up\/lineage/);
});

test("a 2,000-node lineage opens collapsed and expands on demand", async ({ page }) => {
  await signIn(page, "analyst3@meshmart.local");
  await page.goto("/products/customer-signed-up/lineage?direction=down&depth=6");
  const summary = page.getByTestId("lineage-summary");
  await expect(summary).toContainText(/shown of (at least )?\d{4}/);
  const nodes = page.locator("g.lineage-node");
  const before = await nodes.count();
  expect(before).toBeLessThan(400);
  const more = page.locator("g.lineage-node.node-more").first();
  await expect(more).toContainText(/\+\d+ more/);
  await more.locator("a").click();
  await expect(page).toHaveURL(/expand=/);
  await expect.poll(() => nodes.count()).toBeGreaterThan(before);
});
