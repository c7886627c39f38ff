// Registering a data product in the browser: validation as you type, publishing, and the
// product page showing what the contract says.
import { expect, signIn, test } from "./fixtures";

const suffix = Date.now().toString(36);
const contract = (body: string) => `apiVersion: v3.1.0
kind: DataContract
id: sales-returns-${suffix}
version: 1.0.0
status: active
name: Return Requested ${suffix}
dataProduct: return requested ${suffix}
domain: sales
description:
  purpose: Customers asking to send items back.
schema:
  - name: ReturnRequested
    physicalName: sales.return-requested.${suffix}
${body}slaProperties:
  - property: latency
    value: 30
    unit: s
  - property: availability
    value: 99.5
    unit: "%"
`;

const goodProperties = `    properties:
      - name: returnId
        logicalType: string
        required: true
        description: Return identifier
      - name: orderID
        logicalType: string
        required: true
`;

test("an owner registers a product by pasting YAML, fixing a broken line first", async ({ page }) => {
  await signIn(page, "owner.sales@meshmart.local");
  await page.getByRole("link", { name: "Register product" }).click();
  await expect(page).toHaveURL(/\/register$/);
  const editor = page.getByLabel("Contract (ODCS YAML)");
  await expect(editor).toBeVisible();

  // The starter is a complete contract the checks accept, with a link to the standard.
  await expect(page.getByRole("link", { name: "the standard" })).toBeVisible();
  await expect(async () => {
    await editor.press("End");
    await editor.pressSequentially(" ");
    await expect(page.getByRole("status")).toContainText("Valid contract", { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });

  // A broken line: a property list item indented wrongly. Publish waits for a fix.
  const broken = contract(goodProperties.replace("      - name: orderID", "  - name: orderID"));
  await expect(async () => {
    await editor.fill(broken);
    await expect(page.getByRole("alert")).toContainText("line", { timeout: 2_000 });
  }).toPass({ timeout: 20_000 });
  await expect(page.getByRole("button", { name: "Publish" })).toBeDisabled();
  await page.screenshot({ path: "test-results/register-error.png", fullPage: true });

  await editor.fill(contract(goodProperties));
  await expect(page.getByRole("status")).toContainText(`return-requested-${suffix} 1.0.0 in sales`);
  await page.getByRole("button", { name: "Publish" }).click();

  await expect(page).toHaveURL(new RegExp(`/products/return-requested-${suffix}$`));
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`Return Requested ${suffix}`);
  await expect(page.locator('tr[data-field="returnId"]')).toContainText("Return identifier");
  await expect(page.locator('tr[data-sla="latency"]')).toContainText("30");
  await page.screenshot({ path: "test-results/product-page.png", fullPage: true });

  // A new version starts from the current contract.
  await page.getByTestId("new-version-link").click();
  await expect(page).toHaveURL(/\/register\?from=/);
  await expect(page.getByTestId("new-version")).toBeVisible();
  await expect(editor).toHaveValue(/version: 1\.0\.0/);
  const current = await editor.inputValue();
  // Unchanged, the version is the current one: publishing waits for a new version.
  await editor.fill(`${current}\n`);
  const preview = page.getByTestId("publish-preview");
  await expect(preview.getByRole("alert")).toContainText("raise the version", { timeout: 10_000 });
  await expect(page.getByRole("button", { name: "Publish" })).toBeDisabled();
  // A changed version and purpose: the preview shows exactly those lines, before publishing.
  await editor.fill(
    current
      .replace("version: 1.0.0", "version: 1.1.0")
      .replace(/purpose: .*/, "purpose: Returns customers asked for, now with a reason."),
  );
  await expect(page.getByRole("status")).toContainText("1.1.0", { timeout: 10_000 });
  await expect(preview.getByRole("alert")).toHaveCount(0);
  await expect(preview.getByRole("heading")).toHaveText("Changes from 1.0.0 to 1.1.0");
  await expect(preview.locator('[data-diff="insert"]')).toHaveCount(2);
  await expect(preview.locator('[data-diff="insert"]').first()).toContainText("now with a reason");
  await expect(preview.locator('[data-diff="delete"]')).toHaveCount(2);
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page).toHaveURL(new RegExp(`/products/return-requested-${suffix}$`));
  await expect(page.locator(".catalog-overview")).toContainText("1.1.0");
});

test("an analyst does not get the registration form", async ({ page }) => {
  await signIn(page, "analyst1@meshmart.local");
  await expect(page.getByRole("link", { name: "Register product" })).toHaveCount(0);
  await page.goto("/register");
  await expect(page.getByRole("alert")).toContainText("Only owners of a domain");
  await expect(page.getByLabel("Contract (ODCS YAML)")).toHaveCount(0);
});
