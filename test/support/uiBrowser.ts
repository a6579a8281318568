/**
 * What a test sees of a page of the web UI in Chromium (puppeteer-core): the console's errors, every request the
 * network stack sends (CORS preflights among them, which the page's own events do not show), and the browser's
 * login prompts, each answered with an account as a person types it, or dismissed ("Cancel") without one.
 *
 * Usage:
 *   const page = await context.newPage();
 *   const seen = await watchPage(page, account);      // before page.goto
 *   await page.goto(url);
 *   seen.prompts; seen.requests; seen.consoleErrors;
 */
import type { Page } from "puppeteer-core";

/** What `watchPage` records. */
export interface WatchedPage {
    readonly consoleErrors: string[];
    /** The browser's login prompts: scheme, realm and the origin that asked. */
    readonly prompts: { scheme: string; realm: string; origin: string }[];
    /** Every request the browser sent for the page. */
    readonly requests: { method: string; url: string }[];
}

/** Starts recording `page` and answering its login prompts with `account` (the first two; Cancel after, or without one). */
export async function watchPage(page: Page, account?: { readonly username: string; readonly password: string }): Promise<WatchedPage> {
    const seen: WatchedPage = { consoleErrors: [], prompts: [], requests: [] };
    page.on("console", (m) => {
        if (m.type() === "error") seen.consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => seen.consoleErrors.push(String(e)));
    const cdp = await page.createCDPSession();
    await cdp.send("Network.enable");
    cdp.on("Network.requestWillBeSent", (e) => seen.requests.push({ method: e.request.method, url: e.request.url }));
    cdp.on("Fetch.requestPaused", (e) => void cdp.send("Fetch.continueRequest", { requestId: e.requestId }).catch(() => {}));
    cdp.on("Fetch.authRequired", (e) => {
        seen.prompts.push({ scheme: e.authChallenge.scheme, realm: e.authChallenge.realm, origin: e.authChallenge.origin });
        // One answer per request: a second prompt for the same request means the account was refused.
        const answer =
            account && seen.prompts.length < 3
                ? { response: "ProvideCredentials" as const, username: account.username, password: account.password }
                : { response: "CancelAuth" as const };
        void cdp.send("Fetch.continueWithAuth", { requestId: e.requestId, authChallengeResponse: answer }).catch(() => {});
    });
    await cdp.send("Fetch.enable", { handleAuthRequests: true, patterns: [{ urlPattern: "*" }] });
    return seen;
}
