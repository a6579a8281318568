/**
 * The named accounts against real Caddy and real Distribution from the rendered files
 * (test/support/realRegistry.ts), on the pinned Caddy every front runs, with pulls that need credentials: a read
 * account (`containerRegistry.readAccounts`) pulls with skopeo and lists, and can write nowhere; the
 * access log names the account behind each request, with no credential in it; and revoking one account
 * (its users-file line and its name gone from the Caddyfile, as a deploy without it writes them) turns it
 * away with 401 while every other account goes on with its own password.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { pinnedCaddy } from "../support/caddyBinaries";
import {
    basicCredentials,
    makeOciImage,
    type OciImage,
    type RealRegistry,
    skopeoCopy,
    startRealRegistry,
    type TestAccount,
} from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

describe("named accounts, pulls with credentials", () => {
    let scratch: string;
    let reg: RealRegistry;
    let image: OciImage;
    let teamA: TestAccount;
    let teamB: TestAccount;
    let alice: TestAccount;
    let flux: TestAccount;

    /** One request with curl; returns the HTTP status. */
    const status = (method: string, urlPath: string, account?: TestAccount) =>
        run("curl", [
            "-sS",
            "--cacert",
            reg.ca.caCertFile,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            method,
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            ...(account ? ["-H", `Authorization: Basic ${basicCredentials(account)}`] : []),
            `${reg.url}${urlPath}`,
        ]).stdout;
    const push = (account: TestAccount, ref: string) =>
        skopeoCopy(image.ref, `docker://${reg.authority}/${ref}`, { certDir: reg.certDir, creds: account });
    const pullTo = (account: TestAccount | undefined, ref: string, name: string) =>
        skopeoCopy(`docker://${reg.authority}/${ref}`, `oci:${path.join(scratch, name)}:x`, {
            certDir: reg.certDir,
            ...(account ? { creds: account } : {}),
        });

    beforeAll(async () => {
        scratch = privateDir("named-accounts");
        reg = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            accessLog: true,
            policy: { requiresAuthForPull: true },
            scopedPushAccounts: [
                { username: "team-a-ci", prefixes: ["p2c/team-a/"] },
                { username: "team-b-ci", prefixes: ["p2c/team-b/"] },
            ],
            readAccounts: ["dev-alice", "flux-reader"],
        });
        [teamA, teamB] = reg.scoped as [TestAccount, TestAccount];
        [alice, flux] = reg.read as [TestAccount, TestAccount];
        image = makeOciImage(path.join(scratch, "image"), 8192);
        for (const [account, ref] of [
            [teamA, "p2c/team-a/app:1"],
            [teamB, "p2c/team-b/app:1"],
        ] as const) {
            const r = push(account, ref);
            if (r.code !== 0) throw new Error(r.stderr);
        }
    }, 180_000);
    afterAll(async () => {
        await reg?.stop();
        if (scratch) removeDir(scratch);
    });

    test("a read account pulls any repository and lists tags and the catalog; anonymous pulls get 401", () => {
        for (const [ref, name] of [
            ["p2c/team-a/app:1", "a"],
            ["p2c/team-b/app:1", "b"],
        ] as const) {
            const r = pullTo(alice, ref, `alice-${name}`);
            expect(r.code, r.stderr).toBe(0);
        }
        expect(status("GET", "/v2/p2c/team-b/app/tags/list", flux)).toBe("200");
        expect(status("GET", "/v2/_catalog", flux)).toBe("200");
        expect(pullTo(undefined, "p2c/team-a/app:1", "anonymous").code).not.toBe(0);
        expect(status("GET", "/v2/p2c/team-a/app/manifests/1")).toBe("401");
    });

    test.each([
        ["a push with skopeo", () => push(alice, "p2c/team-a/app:2").code === 0],
        ["POST an upload", () => status("POST", "/v2/p2c/team-a/app/blobs/uploads/", alice) !== "401"],
        ["DELETE a manifest", () => status("DELETE", "/v2/p2c/team-a/app/manifests/1", alice) !== "401"],
        ["PUT a manifest", () => status("PUT", "/v2/p2c/team-a/app/manifests/2", alice) !== "401"],
    ])("a read account cannot write: %s is refused", (_name, wrote) => {
        expect(wrote()).toBe(false);
        expect(status("GET", "/v2/p2c/team-a/app/manifests/2", teamA)).toBe("404");
        expect(status("GET", "/v2/p2c/team-a/app/manifests/1", teamA)).toBe("200");
    });

    test("the access log names the account of each request and holds no credential", () => {
        expect(pullTo(flux, "p2c/team-b/app:1", "flux-b").code).toBe(0);
        const log = readFileSync(reg.accessLogFile!, "utf8");
        const entries = log
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { user_id?: string; status: number; request: { method: string; uri: string } });
        const by = (user: string) => entries.filter((e) => e.user_id === user);
        expect(
            by("team-a-ci").some(
                (e) => e.request.method === "PUT" && e.request.uri.includes("/p2c/team-a/app/manifests/") && e.status === 201,
            ),
        ).toBe(true);
        expect(
            by("team-b-ci").some(
                (e) => e.request.method === "PUT" && e.request.uri.includes("/p2c/team-b/app/manifests/") && e.status === 201,
            ),
        ).toBe(true);
        expect(
            by("flux-reader").some(
                (e) => e.request.method === "GET" && e.request.uri.includes("/p2c/team-b/app/manifests/") && e.status === 200,
            ),
        ).toBe(true);
        expect(by("team-a-ci").every((e) => !e.request.uri.includes("/team-b/"))).toBe(true);
        for (const account of [teamA, teamB, alice, flux]) {
            expect(log).not.toContain(account.password);
            expect(log).not.toContain(basicCredentials(account));
        }
    });

    test("revoking team-a-ci and dev-alice turns them away (401) and leaves every other account as it was", async () => {
        await reg.revoke(["team-a-ci", "dev-alice"]);
        expect(status("GET", "/v2/", teamA)).toBe("401");
        expect(status("GET", "/v2/p2c/team-a/app/manifests/1", alice)).toBe("401");
        expect(push(teamA, "p2c/team-a/app:3").code).not.toBe(0);
        expect(status("GET", "/v2/p2c/team-a/app/manifests/3", flux)).toBe("404");
        // The others, with the passwords they had.
        const r = push(teamB, "p2c/team-b/app:2");
        expect(r.code, r.stderr).toBe(0);
        expect(status("GET", "/v2/p2c/team-a/app/manifests/1", flux)).toBe("200");
        expect(status("POST", "/v2/p2c/team-a/app/blobs/uploads/", teamB)).toBe("403");
        expect(status("GET", "/v2/", reg.push)).toBe("200");
        expect(status("GET", "/v2/", reg.pull)).toBe("200");
    });
});
