// Requesting access and deciding it in the browser: an analyst asks for a product, its
// domain's owner approves from the approvals inbox, the analyst sees the subscription turn
// active with a kcat command to paste; neither another analyst nor the owner of another
// domain may approve.
import { expect, test } from "./fixtures";

test("an analyst requests access, the owner approves it, the analyst gets connection details", async ({ signedIn }) => {
  const analyst = await signedIn("analyst2@meshmart.local");
  await analyst.goto("/products/order-placed");
  await expect(analyst.locator("html[data-hydrated]")).toBeAttached();
  const access = analyst.locator("#request-access");
  await access.locator("summary").click();
  await access.getByLabel("Purpose").fill("Weekly revenue dashboard");
  await access.getByRole("button", { name: "Request access" }).click();
  await expect(access.locator('[data-existing="pending"]')).toContainText("You have a pending subscription");
  // One confirmation, not two.
  await expect(access.getByRole("status")).toHaveCount(1);

  // Someone else may not decide it.
  const list = await analyst.request.get("/api/v1/subscriptions?mine=true");
  const id: string = (await list.json()).items[0].id;
  const other = await signedIn("analyst3@meshmart.local");
  expect((await other.request.post(`/api/v1/subscriptions/${id}/approve`, { data: {} })).status()).toBe(403);
  const otherOwner = await signedIn("owner.customer-management@meshmart.local");
  expect((await otherOwner.request.post(`/api/v1/subscriptions/${id}/approve`, { data: {} })).status()).toBe(403);

  const owner = await signedIn("owner.sales@meshmart.local");
  const inbox = owner.locator('header.site-header a[href="/approvals"]');
  await expect(inbox.locator(".badge")).toHaveText("1");
  await inbox.click();
  await expect(owner.locator("html[data-hydrated]")).toBeAttached();
  const row = owner.locator(`tr[data-subscription="${id}"]`);
  await expect(row).toContainText("User:analyst2");
  await row.getByLabel("Approval comment").fill("enjoy");
  await row.getByRole("button", { name: "Approve" }).click();
  await expect(owner.getByRole("status")).toContainText("approved");
  // The header's count follows the decision without a reload.
  await expect(inbox.locator(".badge")).toHaveText("0");

  // The provisioner applies the ACLs within a second or so.
  const card = analyst.locator(`article[id="${id}"]`);
  await expect(async () => {
    await analyst.goto("/subscriptions");
    await expect(card).toHaveAttribute("data-state", "active", { timeout: 500 });
  }).toPass({ timeout: 15_000 });
  await expect(card.locator('[data-snippet="kcat"]')).toContainText("sales.order-placed.v1");
  await expect(card.locator('[data-snippet="kcat"]')).toContainText("sasl.username=analyst2");
  await expect(card).toContainText("enjoy");
  // The page says whose password the snippets want, names the registry, and copies.
  await expect(card.getByTestId("password-hint")).toContainText("analyst2");
  await expect(card.locator('[data-snippet="java"]')).toContainText("schema.registry.url=");
  const copy = card.getByRole("button", { name: "Copy the kcat snippet" });
  await copy.click();
  await expect(copy).toHaveText("Copied");

  // The analyst replays a consumer group of the subscription from a time; with no
  // application running in it, the group moves and the page says where it reads next.
  await expect(analyst.locator("html[data-hydrated]")).toBeAttached();
  const replay = card.locator("details.replay");
  await replay.locator("summary").click();
  // A group of this run: the broker outlives the test database between runs.
  const group = `analyst2.dashboard-${Date.now()}`;
  await replay.getByLabel("Consumer group").fill(group);
  await replay.getByLabel(/From/).fill("earliest");
  await replay.getByRole("button", { name: "Replay" }).click();
  await expect(replay.getByTestId("replay-result")).toContainText(`\`${group}\` had no committed offsets; it reads from the oldest record kept next.`);
  // A group outside the subscription's prefix is refused, naming the field.
  await replay.getByLabel("Consumer group").fill("someone-else.app");
  await replay.getByRole("button", { name: "Replay" }).click();
  await expect(replay).toContainText("a consumer group of this subscription");
});
