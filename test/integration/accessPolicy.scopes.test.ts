/**
 * Push accounts scoped to repository prefixes (`AccessPolicy.scopedPushAccounts`) against real Caddy and
 * real Distribution from the rendered files (test/support/realRegistry.ts), on the pinned Caddy every front runs:
 * the scoped account pushes inside its prefix with skopeo and is refused (403) on every other route a
 * write can take, by curl as sent; it gets no push token outside its prefix; the unscoped push account
 * keeps every right. The patterns alone: test/unit/scopedAccounts.test.ts.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { pinnedCaddy } from "../support/caddyBinaries";
import {
    basicCredentials,
    makeOciImage,
    type OciImage,
    type RealRegistry,
    skopeoCopy,
    skopeoPushPlainHttp,
    startRealRegistry,
    type TestAccount,
} from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

describe("push accounts scoped to repository prefixes", () => {
    let scratch: string;
    let reg: RealRegistry;
    let image: OciImage;
    let teamA: TestAccount;
    let blobOfB = "";

    /** One request as sent (path as is); returns the status and the body. */
    function send(method: string, urlPath: string, account?: TestAccount, options: { bearer?: boolean; body?: string } = {}) {
        const url = urlPath.startsWith("http") ? urlPath : `${reg.url}${urlPath}`;
        const auth = account ? [`Authorization: ${options.bearer ? "Bearer" : "Basic"} ${basicCredentials(account)}`] : [];
        const r = run("curl", [
            "-sS",
            "--path-as-is",
            "--cacert",
            reg.ca.caCertFile,
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-X",
            method,
            ...auth.flatMap((h) => ["-H", h]),
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
            ...(options.body === undefined ? [] : ["--data-binary", options.body]),
            url,
        ]);
        const lines = r.stdout.split("\n");
        return { status: Number(lines.at(-1)), body: lines.slice(0, -1).join("\n") };
    }

    /** Whether a repository (or one tag of it, "name:tag") is in Distribution's storage. */
    const stored = (ref: string) => {
        const [repository, tag] = ref.split(":") as [string, string | undefined];
        const dir = path.join(reg.dataDir, "docker/registry/v2/repositories", repository);
        return existsSync(tag === undefined ? dir : path.join(dir, "_manifests/tags", tag));
    };

    const push = (account: TestAccount | undefined, ref: string) =>
        skopeoCopy(image.ref, `docker://${reg.authority}/${ref}`, { certDir: reg.certDir, ...(account ? { creds: account } : {}) });

    beforeAll(async () => {
        scratch = privateDir("scopes");
        reg = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            policy: { deletesEnabled: true },
            scopedPushAccounts: [{ username: "team-a-ci", prefixes: ["p2c/team-a/", "shared/team-a-tools/"] }],
        });
        teamA = reg.scoped[0]!;
        image = makeOciImage(path.join(scratch, "image"), 8192);
        // Team B's image is placed behind the front (the setup is not under test).
        skopeoPushPlainHttp({ run }, image.ref, `docker://127.0.0.1:${reg.registryPort}/p2c/team-b/app:1`);
        blobOfB = JSON.parse(send("GET", "/v2/p2c/team-b/app/manifests/1").body).layers[0].digest;
    }, 180_000);
    afterAll(async () => {
        await reg?.stop();
        if (scratch) removeDir(scratch);
    });

    test.each(["p2c/team-a/app:1", "p2c/team-a/deep/er/app:1", "shared/team-a-tools/lint:1"])(
        "skopeo pushes %s with the scoped account",
        (ref) => {
            const r = push(teamA, ref);
            expect(r.code, r.stderr).toBe(0);
            expect(send("GET", `/v2/${ref.replace(":", "/manifests/")}`).status).toBe(200);
        },
    );

    test.each(["p2c/team-b/app:2", "p2c/team-ab/app:1", "p2c/team-a:1", "p2c/app:1", "shared/team-a-tools-x/lint:1"])(
        "skopeo cannot push %s with the scoped account, and nothing of it lands in the storage",
        (ref) => {
            const r = push(teamA, ref);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/denied|403/i);
            expect(stored(ref)).toBe(false);
            expect(send("GET", `/v2/${ref.replace(":", "/manifests/")}`).status).toBe(404);
        },
    );

    test.each([
        ["PUT a manifest", "PUT", "/v2/p2c/team-b/app/manifests/evil"],
        ["DELETE a manifest", "DELETE", "/v2/p2c/team-b/app/manifests/1"],
        ["DELETE a blob", "DELETE", () => `/v2/p2c/team-b/app/blobs/${blobOfB}`],
        ["POST an upload", "POST", "/v2/p2c/team-b/app/blobs/uploads/"],
        ["POST a monolithic upload", "POST", `/v2/p2c/team-b/app/blobs/uploads/?digest=sha256:${"0".repeat(64)}`],
        ["POST a mount into team B from team A", "POST", () => `/v2/p2c/team-b/app/blobs/uploads/?mount=${blobOfB}&from=p2c/team-a/app`],
        ["POST the catalog", "POST", "/v2/_catalog"],
        ["POST an upload with ../ as sent", "POST", "/v2/p2c/team-a/../team-b/app/blobs/uploads/"],
        ["POST an upload with encoded ../", "POST", "/v2/p2c/team-a/..%2Fteam-b/app/blobs/uploads/"],
        ["POST an upload with encoded slashes and dots", "POST", "/v2/p2c%2Fteam-a%2F..%2Fteam-b%2Fapp/blobs/uploads/"],
        ["POST an upload with a doubled slash", "POST", "/v2/p2c/team-a//app/blobs/uploads/"],
        ["POST an upload with ./", "POST", "/v2/p2c/team-a/./app/blobs/uploads/"],
        ["POST an upload in another case", "POST", "/v2/p2c/Team-A/app/blobs/uploads/"],
        ["POST an upload to a prefix that only starts alike", "POST", "/v2/p2c/team-ab/app/blobs/uploads/"],
        ["PUT a manifest whose reference climbs out", "PUT", "/v2/p2c/team-a/app/manifests/../../../team-b/app/manifests/evil"],
    ])("the scoped account: %s: 403, nothing written", (_name, method, urlPath) => {
        const target = typeof urlPath === "function" ? urlPath() : urlPath;
        const a = send(method, target, teamA, method === "PUT" ? { body: "{}" } : {});
        expect(a.status).toBe(403);
        expect(a.body).toContain("DENIED");
        expect(send("GET", "/v2/p2c/team-b/app/manifests/1").status).toBe(200);
        expect(stored("p2c/team-ab")).toBe(false);
        expect(stored("p2c/Team-A")).toBe(false);
    });

    test("the scoped account with its Bearer token: PUT a manifest in team B, 403", () => {
        expect(send("PUT", "/v2/p2c/team-b/app/manifests/evil", teamA, { bearer: true, body: "{}" }).status).toBe(403);
    });

    test("the scoped account cannot PATCH or finish an upload the unscoped account started in team B: 403, 403", () => {
        const started = run("curl", [
            "-sS",
            "--cacert",
            reg.ca.caCertFile,
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            `Authorization: Basic ${basicCredentials(reg.push)}`,
            `${reg.url}/v2/p2c/team-b/app/blobs/uploads/`,
        ]);
        const location = /^location:\s*(\S+)/im.exec(started.stdout)?.[1] ?? "";
        expect(location).toContain("/v2/p2c/team-b/app/blobs/uploads/");
        expect(send("PATCH", location, teamA, { body: "stolen" }).status).toBe(403);
        const sep = location.includes("?") ? "&" : "?";
        expect(send("PUT", `${location}${sep}digest=sha256:${"0".repeat(64)}`, teamA, { body: "stolen" }).status).toBe(403);
    });

    test("the scoped account mounts a blob of team B (readable) into its own repository: 201", () => {
        const a = send("POST", `/v2/p2c/team-a/copy/blobs/uploads/?mount=${blobOfB}&from=p2c/team-b/app`, teamA);
        expect(a.status).toBe(201);
    });

    test("the scoped account deletes in its own repository: 202", () => {
        expect(push(teamA, "p2c/team-a/gone:1").code).toBe(0);
        const digest = run("curl", [
            "-sS",
            "--cacert",
            reg.ca.caCertFile,
            "-o",
            "/dev/null",
            "-w",
            "%header{docker-content-digest}",
            "-I",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            `${reg.url}/v2/p2c/team-a/gone/manifests/1`,
        ]).stdout.trim();
        expect(send("DELETE", `/v2/p2c/team-a/gone/manifests/${digest}`, teamA).status).toBe(202);
    });

    const q = (scope: string) => `service=dso-registry&scope=${encodeURIComponent(scope)}`;
    test.each([
        ["push on team B's repository", 403, q("repository:p2c/team-b/app:pull,push")],
        ["delete on team B's repository", 403, q("repository:p2c/team-b/app:delete")],
        ["* on team B's repository", 403, q("repository:p2c/team-b/app:*")],
        ["push on a prefix that only starts alike", 403, q("repository:p2c/team-ab/app:push")],
        [
            "push in its prefix and on team B's (two scopes)",
            403,
            `${q("repository:p2c/team-a/app:pull,push")}&${q("repository:p2c/team-b/app:push")}`,
        ],
        ["push in its prefix and on team B's (space-separated)", 403, q("repository:p2c/team-a/app:push repository:p2c/team-b/app:push")],
        ["push on team B's, unencoded", 403, "scope=repository:p2c/team-b/app:push"],
        ["push with ../ in the name", 403, q("repository:p2c/team-a/../team-b/app:push")],
        ["push in its prefix", 200, q("repository:p2c/team-a/app:pull,push")],
        ["push in its prefix, unencoded", 200, "service=dso-registry&scope=repository:p2c/team-a/app:pull,push"],
        [
            "a mount: push in its prefix, pull on team B's",
            200,
            `${q("repository:p2c/team-a/app:pull,push")}&${q("repository:p2c/team-b/app:pull")}`,
        ],
        ["pull on team B's repository", 200, q("repository:p2c/team-b/app:pull")],
        ["the catalog", 200, q("registry:catalog:*")],
        ["no scope (docker login)", 200, "account=team-a-ci&client_id=docker&offline_token=true&service=dso-registry"],
    ])("token for the scoped account asking %s: %i", (_name, status, query) => {
        const a = send("GET", `/v2/token?${query}`, teamA);
        expect(a.status).toBe(status);
        if (status === 403) expect(a.body).not.toContain("token");
    });

    test("the unscoped push account pushes to team B, mounts into it and deletes there", () => {
        const r = push(reg.push, "p2c/team-b/app:3");
        expect(r.code, r.stderr).toBe(0);
        expect(send("POST", `/v2/p2c/team-b/other/blobs/uploads/?mount=${blobOfB}&from=p2c/team-b/app`, reg.push).status).toBe(201);
        expect(send("GET", `/v2/token?${q("repository:p2c/team-b/app:pull,push")}`, reg.push).status).toBe(200);
        expect(send("DELETE", `/v2/p2c/team-b/other/blobs/${blobOfB}`, reg.push).status).toBe(202);
    });

    test("anonymous and pull-account writes inside the scoped prefix stay 401", () => {
        expect(send("POST", "/v2/p2c/team-a/app/blobs/uploads/").status).toBe(401);
        expect(send("POST", "/v2/p2c/team-a/app/blobs/uploads/", reg.pull).status).toBe(401);
    });
});
