/**
 * Rotation with an overlap on real software: Caddy (the host's, with the rendered Caddyfile, users
 * files, previous-passwords files and overlap file) in front of Distribution, fail2ban reading Caddy's
 * access log (test/support/loginLimitFront.ts). Right after a rotation the push account's previous
 * password and its new one both log in and push, and the previous one, used many more times than
 * maxRetry, is never counted toward a ban; when the overlap ends, by Caddy's own clock with no reload and
 * no `pulumi up`, the previous password is refused like any wrong one and counts toward a ban, while
 * the new one keeps working.
 * Covers: components/accessPolicy/usersFileOutput.ts
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { basic, eventually, frontRequest, type LoginLimitFront, pushBlob, startLoginLimitFront } from "../support/loginLimitFront";

const LIMIT = { maxRetry: 3, findTimeSeconds: 600, banTimeSeconds: 600 };
const SUBNET = "198.19.144.0/20";
/** Long enough for the first test's requests; the second waits it out. */
const OVERLAP_SECONDS = 25;

describe("a rotated push password's overlap on the front", () => {
    let front: LoginLimitFront;

    beforeAll(async () => {
        front = await startLoginLimitFront(LIMIT, SUBNET, { pushOverlapSeconds: OVERLAP_SECONDS });
    }, 120_000);

    afterAll(async () => {
        await front?.stop();
    });

    const token = (from: string, user: string, password: string) =>
        frontRequest(front, from, "/v2/token?scope=repository:team/app:push,pull", { authorization: basic(user, password) });

    test("inside the overlap the previous password and the new one both log in and push, and the previous one never counts toward a ban", async () => {
        const { ci } = front.addresses;
        const previous = front.previousPush!;
        expect(previous.username).toBe(front.push.username);
        expect(previous.password).not.toBe(front.push.password);
        for (let i = 0; i < LIMIT.maxRetry * 3; i++) {
            expect((await token(ci, previous.username, previous.password)).status).toBe(200);
            expect((await frontRequest(front, ci, "/v2/", { authorization: basic(previous.username, previous.password) })).status).toBe(
                200,
            );
        }
        const pushedWithPrevious = await pushBlob(front, ci, 32 * 1024, previous);
        const pushedWithNew = await pushBlob(front, ci, 32 * 1024);
        expect((await frontRequest(front, front.addresses.puller, pushedWithPrevious)).status).toBe(200);
        expect((await frontRequest(front, front.addresses.puller, pushedWithNew)).status).toBe(200);
        // A wrong password that starts like the previous one is still refused: the route checks, it does not let through.
        const lookalike = `${previous.password.slice(0, 3)}not-it`;
        expect((await token(ci, previous.username, lookalike)).status).toBe(401);
        // Time for fail2ban to read every line: one failure, well under maxRetry, and no ban.
        await new Promise((r) => setTimeout(r, 3000));
        expect(front.jailStatus()).not.toContain(ci);
        expect(Math.floor(Date.now() / 1000)).toBeLessThan(front.overlapUntil!);
    }, 90_000);

    test("when the overlap ends, with no reload, the previous password is a wrong password like any other: refused, counted, banned; the new one keeps working", async () => {
        const { attacker, ci } = front.addresses;
        const previous = front.previousPush!;
        const wait = front.overlapUntil! * 1000 - Date.now() + 1500;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        expect((await token(ci, front.push.username, front.push.password)).status).toBe(200);
        await expect(pushBlob(front, ci, 16 * 1024, previous)).rejects.toThrow(/answered 401/);
        for (let i = 0; i < LIMIT.maxRetry; i++) expect((await token(attacker, previous.username, previous.password)).status).toBe(401);
        const refused = await eventually(
            async () => (await frontRequest(front, attacker, "/v2/", { timeoutMs: 2000 })).error !== undefined,
        );
        expect(refused, `${front.jailStatus()}\n${front.logs()}`).toBe(true);
        expect(front.jailStatus()).toContain(attacker);
        expect((await pushBlob(front, ci, 16 * 1024)).startsWith("/v2/team/app/blobs/sha256:")).toBe(true);
    }, 90_000);
});
