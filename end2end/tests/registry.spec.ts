// The schema registry on the product page: an owner publishes two contract versions, sees
// both schema versions, compares them, and checks a proposed breaking schema before
// publishing it; an analyst sees the versions but cannot propose.
import { expect, seriousViolations, signIn, test } from "./fixtures";

const suffix = Date.now().toString(36);
const slug = `parcel-scanned-${suffix}`;
const topic = `sales.parcel-scanned.${suffix}`;
const contract = (version: string, extra: string) => `apiVersion: v3.1.0
kind: DataContract
id: sales-parcel-scanned-${suffix}
version: ${version}
status: active
name: Parcel Scanned ${suffix}
dataProduct: parcel scanned ${suffix}
domain: sales
schema:
  - name: ParcelScanned
    physicalName: ${topic}
    properties:
      - name: parcelId
        logicalType: string
        required: true
${extra}servers:
  - server: local
    type: kafka
    host: 127.0.0.1:19092
    format: avro
`;

test("an owner compares schema versions and checks a breaking proposal", async ({ page }) => {
  await signIn(page, "owner.sales@meshmart.local");
  for (const [version, extra] of [
    ["1.0.0", ""],
    ["1.1.0", "      - name: depot\n        logicalType: string\n"],
  ]) {
    const response = await page.request.put(`/api/v1/products/${slug}/contract`, {
      headers: { "content-type": "application/yaml" },
      data: contract(version, extra),
    });
    expect(response.status(), await response.text()).toBeLessThan(300);
  }

  await page.goto(`/products/${slug}`);
  const registry = page.locator(`.registry-port[data-subject="${topic}-value"]`);
  await expect(registry.locator("[data-schema-version]")).toHaveCount(2);
  await expect(registry.locator("[data-mode]")).toHaveText("BACKWARD");

  await registry.getByRole("button", { name: "Compare versions" }).click();
  await expect(page).toHaveURL(/schema_from=1&schema_to=2/);
  const diff = page.locator(".registry-diff");
  await expect(diff.locator('[data-verdict="compatible"]')).toBeVisible();
  await expect(diff.locator('tr[data-field="depot"]')).toContainText("added");

  const proposed = JSON.stringify({
    type: "record",
    name: "ParcelScanned",
    namespace: "meshmart.sales",
    fields: [{ name: "parcelId", type: "long" }],
  });
  await registry.getByLabel("Check a proposed schema before publishing").fill(proposed);
  await registry.getByRole("button", { name: "Check compatibility" }).click();
  const verdict = page.locator('[data-verdict="breaking"]');
  await expect(verdict).toBeVisible();
  await expect(verdict).toContainText("#/fields/parcelId: type changed");
  await expect(page.locator('.registry-diff tr[data-field="parcelId"]')).toContainText("changed");
});

test("an analyst reads the versions but has no proposal box", async ({ page }) => {
  await signIn(page, "analyst3@meshmart.local");
  await page.goto("/products/customer-signed-up");
  const registry = page.locator(".registry-port").first();
  await expect(registry.locator("[data-schema-version]")).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Check compatibility" })).toHaveCount(0);
});

test("the registry browser finds a product's subject and opens its page", async ({ page }) => {
  await signIn(page, "analyst2@meshmart.local");
  await page.goto("/");
  await page.locator("header.site-header").getByRole("link", { name: "Schemas" }).click();
  await expect(page).toHaveURL(/\/schemas$/);
  await page.getByRole("searchbox", { name: "Find a subject" }).fill("CustomerSignedUp");
  await page.getByRole("button", { name: "Find" }).click();
  const row = page.locator('tr[data-subject="customer-management.customer-signed-up.v1-value"]');
  await expect(row).toContainText("CustomerSignedUp");
  await expect(row).toContainText("BACKWARD");
  // Leftover subjects are for admins only.
  await expect(page.locator("#orphans-heading")).toHaveCount(0);

  await row.getByRole("link", { name: "customer-management.customer-signed-up.v1-value" }).click();
  await expect(page.locator("h1")).toHaveText("customer-management.customer-signed-up.v1-value");
  const port = page.locator('.registry-port[data-subject="customer-management.customer-signed-up.v1-value"]');
  await expect(port.locator("[data-schema-version]")).toHaveCount(1);
  await expect(page.getByRole("link", { name: "CustomerSignedUp" }).first()).toHaveAttribute(
    "href",
    "/products/customer-signed-up",
  );
  expect(await seriousViolations(page)).toEqual([]);
  await page.goto("/schemas?subject=no-such-subject-value");
  await expect(page.locator("h1")).toHaveText("No subject “no-such-subject-value”");
});

test("a schema's references link both ways between the subjects' pages", async ({ page }) => {
  await signIn(page, "admin@meshmart.local");
  const address = `shared.address.${suffix}`;
  const order = `sales.referencing-orders.${suffix}`;
  const register = async (subject: string, body: object) => {
    const response = await page.request.post(`/registry/subjects/${subject}/versions`, {
      headers: { "content-type": "application/vnd.schemaregistry.v1+json" },
      data: JSON.stringify(body),
    });
    expect(response.status(), await response.text()).toBe(200);
  };
  await register(address, {
    schema: JSON.stringify({
      type: "record",
      name: "Address",
      namespace: "shared",
      fields: [{ name: "city", type: "string" }],
    }),
  });
  await register(order, {
    schema: JSON.stringify({
      type: "record",
      name: "Order",
      namespace: "sales",
      fields: [{ name: "shipTo", type: "shared.Address" }],
    }),
    references: [{ name: "shared.Address", subject: address, version: 1 }],
  });

  await page.goto(`/schemas?subject=${encodeURIComponent(order)}`);
  const uses = page.locator('[data-references="1"]');
  await expect(uses).toContainText("as shared.Address");
  await uses.getByRole("link", { name: `${address} v1` }).click();
  await expect(page.locator("h1")).toHaveText(address);
  const usedBy = page.locator('[data-referenced-by="1"]');
  await expect(usedBy.getByRole("link", { name: `${order} v1` })).toHaveAttribute(
    "href",
    `/schemas?subject=${encodeURIComponent(order)}`,
  );
  expect(await seriousViolations(page)).toEqual([]);
});
