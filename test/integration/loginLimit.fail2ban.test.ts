/**
 * The host's login limit on real software: Caddy writes its JSON access log, fail2ban-server reads it
 * with the rendered filter and jail and bans with nftables, inside a network namespace
 * (test/support/loginLimitFront.ts). An address guessing passwords is refused after maxRetry failures;
 * CI logging in and pushing (each time after the anonymous challenge) is not; anonymous pulls from
 * another address keep working.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { basic, eventually, frontRequest, type LoginLimitFront, pushBlob, startLoginLimitFront } from "../support/loginLimitFront";

const LIMIT = { maxRetry: 5, findTimeSeconds: 600, banTimeSeconds: 600 };
let front: LoginLimitFront;

beforeAll(async () => {
    front = await startLoginLimitFront(LIMIT, "198.19.128.0/20");
}, 120_000);

afterAll(async () => {
    await front?.stop();
});

describe("fail2ban on the front's access log", () => {
    test("CI's challenge, login and pushes, many more than maxRetry, never ban it", async () => {
        const { ci } = front.addresses;
        for (let i = 0; i < LIMIT.maxRetry * 3; i++) {
            const challenge = await frontRequest(front, ci, "/v2/");
            expect(challenge.status).toBe(401);
            const token = await frontRequest(front, ci, "/v2/token?scope=repository:team/app:push,pull", {
                authorization: basic(front.push.username, front.push.password),
            });
            expect(token.status).toBe(200);
        }
        await pushBlob(front, ci);
        // Give fail2ban time to read every line before judging.
        await new Promise((r) => setTimeout(r, 3000));
        expect(front.jailStatus()).not.toContain(ci);
        expect((await frontRequest(front, ci, "/v2/", { authorization: basic(front.push.username, front.push.password) })).status).toBe(
            200,
        );
    }, 60_000);

    test("an address guessing passwords is refused after maxRetry failures; anonymous pulls from another keep working", async () => {
        const { attacker, puller } = front.addresses;
        const blob = await pushBlob(front, front.addresses.ci);
        for (let i = 0; i < LIMIT.maxRetry; i++) {
            const guess = await frontRequest(front, attacker, "/v2/token?scope=repository:team/app:push,pull", {
                authorization: basic(front.push.username, `guess-${i}`),
            });
            expect(guess.status).toBe(401);
        }
        const refused = await eventually(
            async () => (await frontRequest(front, attacker, "/v2/", { timeoutMs: 2000 })).error !== undefined,
        );
        expect(refused, `${front.jailStatus()}\n${front.logs()}`).toBe(true);
        expect(front.jailStatus()).toContain(attacker);
        const after = await frontRequest(front, attacker, "/v2/token", { authorization: basic(front.push.username, front.push.password) });
        expect(after.error).toBeDefined();
        const pulled = await frontRequest(front, puller, blob);
        expect(pulled.status).toBe(200);
    }, 60_000);
});
