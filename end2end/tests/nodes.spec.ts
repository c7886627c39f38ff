// The processor page of the seed's enrichment node, on the e2e server with two node
// processes running (scripts/test.sh starts `meshmart node run customer-enrichment
// --instance 0` and `--instance 1`) and sign-ups flowing: both processes show with the
// partitions the consumer group gave them, pausing from the page stops the output count
// and resuming starts it again. An analyst sees the page without the operations. The page
// is checked with axe-core, at 390 and 1366 px, and without JavaScript.
import type { Page } from "@playwright/test";
import { expect, seriousViolations, signIn, test } from "./fixtures";

const NODE = "customer-enrichment";

/** Records written by the node's live processes, as the API reports them. */
async function written(page: Page): Promise<number> {
  const response = await page.request.get(`/api/v1/nodes/${NODE}`);
  expect(response.status()).toBe(200);
  const view: { instances: { state: string; records: number }[] } = await response.json();
  return view.instances
    .filter((i) => i.state === "running" || i.state === "paused")
    .reduce((sum, i) => sum + i.records, 0);
}

test("the processor page shows two processes and their partitions; pausing stops the output", async ({ signedIn }) => {
  test.setTimeout(150_000);
  const owner = await signedIn("owner.customer-intelligence@meshmart.local");
  await owner.goto(`/nodes/${NODE}`);
  await expect(owner.locator("html[data-hydrated]")).toBeAttached();
  await expect(owner.getByRole("heading", { level: 1 })).toHaveText(NODE);
  const rows = owner.getByTestId("node-instances").locator('tbody tr[data-state="running"]');
  // The page refreshes itself; both processes have joined and split the three partitions.
  await expect(rows).toHaveCount(2, { timeout: 90_000 });
  await expect(async () => {
    const owned = (await rows.getByTestId("instance-partitions").allTextContents())
      .flatMap((text) => text.split(",").map((p) => p.trim()))
      .filter((p) => p !== "none")
      .sort();
    expect(owned).toEqual(["0", "1", "2"]);
  }).toPass({ timeout: 30_000 });
  await expect(owner.getByTestId("node-state")).toHaveText(/running \(2 processes\)/);
  await expect(owner.getByTestId("geo-attribution")).toContainText("IP Geolocation by DB-IP");
  // Sign-ups flow (5/s), so the output count grows.
  const first = await written(owner);
  await expect.poll(() => written(owner), { timeout: 20_000 }).toBeGreaterThan(first);
  expect(await seriousViolations(owner)).toEqual([]);

  await owner.getByTestId("node-pause").click();
  await expect(owner.getByTestId("node-state")).toHaveText("paused", { timeout: 15_000 });
  await expect(owner.getByTestId("node-pause")).toHaveText("Resume");
  // Both processes follow within a heartbeat; from then on nothing more is written.
  await expect(rows).toHaveCount(0, { timeout: 15_000 });
  await owner.waitForTimeout(3_000);
  const paused = await written(owner);
  await owner.waitForTimeout(6_000);
  expect(await written(owner), "no output while paused").toBe(paused);

  await owner.getByTestId("node-pause").click();
  await expect(owner.getByTestId("node-state")).toHaveText(/running/, { timeout: 15_000 });
  await expect.poll(() => written(owner), { timeout: 30_000 }).toBeGreaterThan(paused);

  for (const width of [390, 1366]) {
    await owner.setViewportSize({ width, height: 900 });
    // The whole page, the signed-in owner's header (Subscriptions, Approvals, Register
    // product, name, Sign out) included.
    const fits = await owner.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    expect(fits, `the page fits ${width} px`).toBe(true);
  }
});

test("an analyst sees the processor page without its operations, also without JavaScript", async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await signIn(page, "analyst2@meshmart.local");
  await page.goto(`/nodes/${NODE}`);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(NODE);
  await expect(page.getByRole("heading", { name: "Processes" })).toBeVisible();
  await expect(page.getByTestId("node-status")).toContainText("Throughput");
  await expect(page.getByTestId("node-pause")).toHaveCount(0);
  const refused = await page.request.post(`/api/v1/nodes/${NODE}/pause`);
  expect(refused.status()).toBe(403);
  await page.goto("/nodes/no-such-node");
  await expect(page.getByRole("heading", { level: 1 })).toContainText("No stream node");
  // The enriched product names the node that computes it, with the geolocation credit.
  await page.goto("/products/enriched-customer-signed-up");
  await expect(page.getByTestId("computed-by")).toContainText(NODE);
  await expect(page.getByTestId("computed-by")).toContainText("IP Geolocation by DB-IP");
  await context.close();
});
