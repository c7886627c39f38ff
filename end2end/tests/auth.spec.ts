// Signing in and out, wrong passwords, and role changes that apply without a restart.
import { expect, signIn, submitSignIn, test } from "./fixtures";

test("an analyst signs in, sees their name, and signs out", async ({ page }) => {
  await signIn(page, "analyst1@meshmart.local");
  const header = page.locator("header.site-header");
  await expect(header.getByRole("link", { name: "Analyst 1" })).toBeVisible();
  await expect(header.getByRole("link", { name: "Admin", exact: true })).toHaveCount(0);
  await page.screenshot({ path: "test-results/signed-in.png" });

  await header.getByRole("button", { name: "Sign out" }).click();
  await expect(header.getByRole("link", { name: "Sign in" })).toBeVisible();
  await expect(header.getByRole("link", { name: "Analyst 1" })).toHaveCount(0);
});

test("a wrong password shows an error and signs nobody in", async ({ page }) => {
  await submitSignIn(page, "analyst3@meshmart.local", "not-the-password");
  await expect(page.getByRole("alert")).toContainText("wrong email or password");
  await expect(page).toHaveURL(/\/login/);
  await expect(
    page.locator("header.site-header").getByRole("link", { name: "Sign in" }),
  ).toBeVisible();
});

test("an admin makes an analyst owner of a domain; the next request is allowed", async ({
  signedIn,
}) => {
  const analyst = await signedIn("analyst2@meshmart.local");
  await expect(analyst.getByRole("link", { name: "Analyst 2" })).toBeVisible();
  const createAccount = () =>
    analyst.request.post("/api/v1/domains/marketing/service-accounts", {
      data: { name: `svc-e2e-${Date.now()}` },
    });
  const before = await createAccount();
  expect(before.status()).toBe(403);
  expect((await before.json()).error.message).toBe(
    "missing permission: manage service-account in domain marketing",
  );

  const admin = await signedIn("admin@meshmart.local");
  await admin.locator("header.site-header").getByRole("link", { name: "Admin", exact: true }).click();
  await expect(admin).toHaveURL(/\/admin$/);
  const row = admin.locator('tr[data-email="analyst2@meshmart.local"]');
  await expect(row).toBeVisible();
  // The row's controls open behind one "Manage…"; no role is preselected.
  await row.getByText("Manage…").click();
  await expect(row.getByLabel("Role for analyst2@meshmart.local")).toHaveValue("");
  await row.getByLabel("Role for analyst2@meshmart.local").selectOption("owner");
  await row.getByLabel("Domain for analyst2@meshmart.local").selectOption("marketing");
  await row.getByRole("button", { name: "Grant" }).click();
  await expect(row).toContainText("owner of marketing");
  await admin.screenshot({ path: "test-results/admin-users.png", fullPage: true });

  const after = await createAccount();
  expect(after.status()).toBe(201);

  // The grant is in the audit log, and the CSV export opens.
  await admin.goto("/admin/audit?action=role.grant");
  await expect(admin.locator("table")).toContainText("analyst2@meshmart.local");
  const csv = await admin.request.get("/api/v1/audit?format=csv&action=role.grant");
  expect(csv.status()).toBe(200);
  expect(await csv.text()).toContain("role.grant");
});

test("an API token created on the account page works until it is revoked", async ({
  page,
  playwright,
}) => {
  await signIn(page, "analyst3@meshmart.local");
  await expect(page.getByRole("link", { name: "Analyst 3" })).toBeVisible();
  await page.goto("/account");
  await page.getByLabel("Token name").fill("e2e script");
  await page.getByRole("button", { name: "Create token" }).click();
  const secret = (await page.getByTestId("new-token").textContent())?.trim() ?? "";
  expect(secret).toMatch(/^mmt_[0-9a-f]{64}$/);

  const api = await playwright.request.newContext({
    baseURL: page.url().replace(/\/account$/, ""),
    extraHTTPHeaders: { authorization: `Bearer ${secret}` },
  });
  expect((await api.get("/api/v1/session")).status()).toBe(200);

  const row = page.locator('tr[data-token="e2e script"]').first();
  // Revoking asks first: the red "Revoke…" only opens the confirmation.
  await row.getByText("Revoke…").click();
  await row.getByRole("button", { name: "Yes, revoke" }).click();
  await expect(row).toContainText("revoked");
  expect((await api.get("/api/v1/session")).status()).toBe(401);
  await api.dispose();
});
