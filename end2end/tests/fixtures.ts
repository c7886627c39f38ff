// The one way browser tests sign in: `signIn(page, email)` for the test's own page, and the
// `signedIn(email)` fixture for tests that need several people at once, each in a browser
// context of their own.
//
// Sign-in attempts are throttled per account (and per address). The specs spread their
// sign-ins over analyst1..3, the domain owners and the admin on purpose, so no account
// runs out of attempts in one run: keep doing that when adding a test.
import { readFileSync } from "node:fs";
import { test as base, expect, type BrowserContext, type Page } from "@playwright/test";

export { expect };

/** The password of every demo account (`meshmart seed-demo`). */
export const PASSWORD = "meshmart";

/** Fills in and submits the sign-in form, without waiting for the outcome. */
export async function submitSignIn(page: Page, email: string, password = PASSWORD) {
  await page.goto("/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/**
 * Signs `page` in as `email` and waits until the session is established: the browser has
 * left the sign-in page (a refused sign-in stays there) and the header no longer offers to
 * sign in. Works with JavaScript disabled too.
 */
export async function signIn(page: Page, email: string) {
  await submitSignIn(page, email);
  await expect(page, `signing in as ${email}`).not.toHaveURL(/\/login\b/);
  await expect(
    page.locator("header.site-header").getByRole("link", { name: "Sign in" }),
  ).toHaveCount(0);
}

type Fixtures = {
  /** A page in a new browser context, signed in as `email`; closed when the test ends. */
  signedIn: (email: string) => Promise<Page>;
};

/** Playwright's `test`, with the `signedIn` fixture. */
export const test = base.extend<Fixtures>({
  signedIn: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (email) => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      await signIn(page, email);
      return page;
    });
    await Promise.all(contexts.map((context) => context.close()));
  },
});

const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical violations on the page, as `rule: targets` lines. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  return page.evaluate(async () => {
    // biome-ignore lint: axe is injected above.
    const axe = (window as any).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
      .map(
        (v: { id: string; nodes: { target: string[] }[] }) =>
          `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
      );
  });
}
