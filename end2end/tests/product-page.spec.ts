// The product page as an analyst and an owner meet it: it fits 390 and 1366 px without
// horizontal scrolling and passes axe-core; the "Request access" form puts each label above
// its control with a full-width Purpose box and a readable button; and an owner who checks
// a schema that would break a live subscription tells its requester, who finds the notice
// on their subscriptions page; and that page hydrates on every load.
import { expect, seriousViolations, signIn, test } from "./fixtures";

const fits = (page: import("@playwright/test").Page) =>
  page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

for (const width of [390, 1366]) {
  test(`product pages fit ${width} px and pass axe`, async ({ page }) => {
    await page.setViewportSize({ width, height: 900 });
    await signIn(page, "analyst2@meshmart.local");
    for (const slug of ["customer-signed-up", "enriched-customer-signed-up"]) {
      await page.goto(`/products/${slug}`);
      await expect(page.locator("h1")).toBeVisible();
      expect(await fits(page), `${slug} at ${width} px scrolls sideways`).toBe(true);
      expect(await seriousViolations(page), slug).toEqual([]);
    }
  });
}

test("the request form stacks each label over its control", async ({ page }) => {
  await page.setViewportSize({ width: 1366, height: 900 });
  await signIn(page, "analyst1@meshmart.local");
  // A product no other spec requests, so the form is there on every run of the suite.
  await page.goto("/products/bin-location-changed");
  await page.locator("#request-access summary").click();
  const form = page.locator("#request-access form.request-form");
  const button = form.getByRole("button", { name: "Request access" });
  await expect(button).toBeVisible();
  const buttonBox = await button.boundingBox();
  expect(buttonBox?.width ?? 0, "the button reads in full").toBeGreaterThan(100);
  const purpose = form.getByLabel("Purpose");
  const purposeBox = await purpose.boundingBox();
  expect(purposeBox?.width ?? 0, "the Purpose box is the form's width").toBeGreaterThan(300);
  expect(purposeBox?.height ?? 0).toBeGreaterThan(70);
  // Every control starts below its label's text, at the label's left edge.
  const misplaced = await form.locator("label").evaluateAll((labels) =>
    labels
      .map((label) => {
        const control = label.querySelector("input, select, textarea");
        if (!control) return null;
        const l = label.getBoundingClientRect();
        const c = control.getBoundingClientRect();
        return c.top > l.top + 8 && Math.abs(c.left - l.left) < 2 ? null : label.textContent;
      })
      .filter((text) => text !== null),
  );
  expect(misplaced).toEqual([]);
});

test("an owner tells the requester a proposed schema would break their subscription", async ({
  signedIn,
}) => {
  const owner = await signedIn("owner.customer-intelligence@meshmart.local");
  const port = "customer-intelligence.enriched-customer-signed-up.v1";
  const latest = await owner.request.get(`/registry/subjects/${port}-value/versions/latest`);
  expect(latest.status(), await latest.text()).toBe(200);
  const schema = JSON.parse((await latest.json()).schema);
  // A field of today's schema changes type (and a field only this run has is added, so
  // the proposal is new on every run): today's readers cannot read its data.
  const [name] = Object.entries(schema.properties).find(
    ([, p]) => (p as { type?: string }).type === "string",
  ) as [string, unknown];
  schema.properties[name] = { type: "integer" };
  schema.properties[`run${Date.now().toString(36)}`] = { type: "string" };
  const query = new URLSearchParams({ port, proposed: JSON.stringify(schema) });
  await owner.goto(`/products/enriched-customer-signed-up?${query}#schema-registry`);
  const impact = owner.locator(".registry-impact");
  await expect(impact).toContainText("would break");
  // Hydrated first: clicked before, the form posts without JavaScript and the page says
  // "were told … on <date>" instead (also right, but not what this test reads).
  await expect(owner.locator("html[data-hydrated]")).toBeAttached();
  await impact.getByRole("button", { name: "Tell their requesters before publishing" }).click();
  // The action's "Told 1 person", or (once the proposal's check reloads) the date the
  // requesters were told: either way the page says they were.
  await expect(owner.getByTestId("announced")).toContainText(
    /Told 1 person|were told about this proposal on/,
  );

  const requester = await signedIn("owner.marketing@meshmart.local");
  await requester.goto("/subscriptions");
  await expect(requester.locator(".notifications")).toContainText(
    "would break your subscription to enriched-customer-signed-up",
  );
});

// Issue 18, defect 2: in about one load of five, the page with a proposal's check failed to
// hydrate ("Unrecoverable hydration error"), and its JavaScript was dead. Twenty loads,
// each with a proposal the server has not seen: before the fix this failed all but ~1 % of
// runs.
test("a proposed schema's check hydrates on every load", async ({ signedIn }) => {
  test.setTimeout(90_000);
  const owner = await signedIn("owner.customer-intelligence@meshmart.local");
  const port = "customer-intelligence.enriched-customer-signed-up.v1";
  const latest = await owner.request.get(`/registry/subjects/${port}-value/versions/latest`);
  expect(latest.status(), await latest.text()).toBe(200);
  const schema = JSON.parse((await latest.json()).schema);
  const failures: string[] = [];
  owner.on("pageerror", (error) => failures.push(String(error).slice(0, 200)));
  owner.on("console", (message) => {
    if (message.type() === "error") failures.push(message.text().slice(0, 200));
  });
  for (let load = 0; load < 20; load++) {
    schema.properties[`load${Date.now().toString(36)}${load}`] = { type: "string" };
    const query = new URLSearchParams({ port, proposed: JSON.stringify(schema) });
    await owner.goto(`/products/enriched-customer-signed-up?${query}#schema-registry`);
    await expect(owner.locator("html[data-hydrated]"), `load ${load}: ${failures}`).toBeAttached();
    await expect(owner.locator(".registry-diff")).toBeVisible();
  }
  expect(failures).toEqual([]);
});

test("an admin's header keeps every link and the theme switch on one line at 1366 px", async ({
  signedIn,
}) => {
  const admin = await signedIn("admin@meshmart.local");
  await admin.setViewportSize({ width: 1366, height: 900 });
  await admin.goto("/domains");
  const tops = await admin
    .locator("header.site-header")
    .locator(".site-nav a, .user-menu a, .user-menu button, .theme-toggle")
    .evaluateAll((items) =>
      items.map((item) => {
        const box = item.getBoundingClientRect();
        return { text: item.textContent?.trim(), top: Math.round(box.top), height: Math.round(box.height) };
      }),
    );
  expect(tops.length).toBeGreaterThan(6);
  const first = tops[0].top;
  for (const item of tops) {
    expect(Math.abs(item.top - first), `${item.text} wrapped: ${JSON.stringify(tops)}`).toBeLessThan(12);
    expect(item.height, `${item.text} breaks over two lines`).toBeLessThan(48);
  }
});

test("a product with personal fields says so with a badge derived from its fields", async ({ page }) => {
  await signIn(page, "analyst3@meshmart.local");
  await page.goto("/products/customer-signed-up");
  // Its e-mail and IP address fields are classified: the badge names the most sensitive.
  const badge = page.locator(".catalog-product-head [data-classification]");
  await expect(badge).toHaveText(/restricted|confidential/);
  await expect(page.locator(".catalog-overview")).not.toContainText("non-pii");
  await page.goto("/?q=CustomerSignedUp");
  await expect(page.locator("ol.hits > li").first().locator("[data-classification]")).toBeVisible();
});

test("service levels read as words, without columns nothing fills", async ({ page }) => {
  await signIn(page, "analyst1@meshmart.local");
  await page.goto("/products/customer-signed-up");
  const levels = page.locator('section[aria-labelledby="catalog-slas"]');
  await expect(levels.locator('tr[data-sla="supportHours"] td').first()).toHaveText("Support hours");
  const headers = await levels.locator("th").allTextContents();
  for (const header of headers) {
    const column = headers.indexOf(header) + 1;
    const cells = await levels.locator(`tbody td:nth-child(${column})`).allTextContents();
    expect(cells.some((cell) => cell.trim() !== ""), `column ${header} is never filled`).toBe(true);
  }
});
