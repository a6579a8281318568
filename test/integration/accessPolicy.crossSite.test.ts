/**
 * Writes from another site's page (docs/access-policy.md, Writes from other sites), against real Caddy and real
 * Distribution from the rendered files (test/support/realRegistry.ts), on the pinned Caddy every front runs. A
 * browser signed in to the registry sends the push account's Basic credentials with any site's request; the
 * front refuses every write (upload, mount, manifest put, delete) that carries a browser's mark of another
 * site, `Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` that is not the authority the request came
 * to, with 403 before any credential is looked at; nothing reaches Distribution. Writes from the registry's own
 * origin (the web UI: `same-origin`, its own Origin) and from clients that send neither header (docker,
 * containerd, skopeo, curl) go on; reads from anywhere too.
 *
 * The same requests against the Caddyfile without the rule (the policy as it was) are taken (202, 201): what
 * refuses them is the rule. In a browser: test/integration/registryUi.browser.test.ts.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CROSS_SITE_MESSAGE, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { pinnedCaddy } from "../support/caddyBinaries";
import { makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

/** The Caddyfile without the cross-site rule: its matchers and answers taken out, as it was before. */
function withoutCrossSiteRule(caddyfile: string): string {
    const lines = caddyfile.split("\n");
    const kept: string[] = [];
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i] as string;
        if (/^\t@(crossSiteWrite|foreignOriginWrite) \{$/.test(line)) {
            while (lines[i] !== "\t}") i++;
            continue;
        }
        // The refusal and its block (`close`).
        if (/^\t\trespond @(crossSiteWrite|foreignOriginWrite) .* \{$/.test(line)) {
            while (lines[i] !== "\t\t}") i++;
            continue;
        }
        kept.push(line);
    }
    const text = kept.join("\n");
    if (text.includes("crossSite") || text.includes("foreignOrigin")) throw new Error("the rule is still in the Caddyfile");
    return text;
}

describe.each([
    ["the rendered front", true],
    ["the front without the rule, as it was", false],
] as const)("writes from another site's page: %s", (_, withRule) => {
    let scratch: string;
    let reg: RealRegistry;

    beforeAll(async () => {
        scratch = privateDir("cross-site");
        reg = await startRealRegistry({
            caddyBinary: pinnedCaddy(),
            ...(withRule ? {} : { caddyfileFor: (policy) => withoutCrossSiteRule(renderCaddyfile(policy)) }),
        });
        const image = makeOciImage(path.join(scratch, "image"));
        const pushed = skopeoCopy(image.ref, `docker://${reg.authority}/team/app:1`, { certDir: reg.certDir, scratch, creds: reg.push });
        if (pushed.code !== 0) throw new Error(pushed.stderr);
    });

    afterAll(async () => {
        await reg?.stop();
        if (scratch) removeDir(scratch);
    });

    /** One request as a browser's would be, its account and headers in a curl config on stdin; the status and body. */
    function send(method: string, urlPath: string, headers: readonly string[], account?: TestAccount) {
        const config = [
            ...(account ? [`user = "${account.username}:${account.password}"`] : []),
            ...headers.map((h) => `header = "${h}"`),
            "",
        ].join("\n");
        const r = run(
            "curl",
            ["-sS", "--cacert", reg.ca.caCertFile, "-o", "-", "-w", "\n%{http_code}", "-X", method, "-K", "-", `${reg.url}${urlPath}`],
            { input: config },
        );
        const lines = r.stdout.split("\n");
        return { status: Number(lines.at(-1)), body: lines.slice(0, -1).join("\n") };
    }

    const own = () => `Origin: ${reg.url}`;
    /** The digest of team/app:1's manifest, from a HEAD with no account. */
    const digest = () => {
        const head = run("curl", [
            "-sSI",
            "--cacert",
            reg.ca.caCertFile,
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            `${reg.url}/v2/team/app/manifests/1`,
        ]).stdout;
        const found = /docker-content-digest: (\S+)/i.exec(head)?.[1];
        if (!found) throw new Error(`no digest in:\n${head}`);
        return found;
    };

    const crossSite: [string, string[]][] = [
        ["Sec-Fetch-Site: cross-site", ["Sec-Fetch-Site: cross-site", "Origin: https://attacker.example"]],
        [
            "Sec-Fetch-Site: same-site (another name of the same site)",
            ["Sec-Fetch-Site: same-site", "Origin: https://other.127.0.0.1.example"],
        ],
        ["a foreign Origin alone (a browser without Fetch Metadata)", ["Origin: https://attacker.example"]],
        ["Origin null (a sandboxed page)", ["Origin: null"]],
    ];

    test.each(crossSite)("an upload opened with the push account and %s: %s", (_, headers) => {
        const r = send("POST", "/v2/team/xsite/blobs/uploads/", headers, reg.push);
        if (withRule) {
            expect(r.status).toBe(403);
            expect(r.body).toContain(CROSS_SITE_MESSAGE);
        } else {
            expect(r.status).toBe(202);
        }
    });

    test("a cross-site mount, manifest put and delete with the push account", () => {
        const headers = ["Sec-Fetch-Site: cross-site", "Origin: https://attacker.example"];
        const manifest = digest();
        const mount = send("POST", `/v2/team/mounted/blobs/uploads/?mount=${manifest}&from=team/app`, headers, reg.push);
        const put = send(
            "PUT",
            "/v2/team/xsite/manifests/evil",
            [...headers, "Content-Type: application/vnd.oci.image.manifest.v1+json"],
            reg.push,
        );
        const deleted = send("DELETE", `/v2/team/app/manifests/${manifest}`, headers, reg.push);
        if (withRule) {
            expect([mount.status, put.status, deleted.status]).toEqual([403, 403, 403]);
            // Nothing reached Distribution: the image is still there.
            expect(send("GET", "/v2/team/app/tags/list", []).body).toContain('"1"');
        } else {
            // A manifest is stored as a blob: the mount into a new repository is made (201); the delete goes through.
            expect(mount.status).toBe(201);
            expect(deleted.status).toBe(202);
        }
    });

    if (withRule) {
        test("the registry's own origin (the web UI) and clients that send neither header write as before", () => {
            expect(send("POST", "/v2/team/own/blobs/uploads/", ["Sec-Fetch-Site: same-origin", own()], reg.push).status).toBe(202);
            // A browser's own navigation ("none") with its own Origin.
            expect(send("POST", "/v2/team/own/blobs/uploads/", ["Sec-Fetch-Site: none", own()], reg.push).status).toBe(202);
            expect(send("POST", "/v2/team/own/blobs/uploads/", [], reg.push).status).toBe(202);
            // skopeo, as docker and containerd: no Origin, no Fetch Metadata.
            const image = makeOciImage(path.join(scratch, "image-2"), 2048, "2");
            const pushed = skopeoCopy(image.ref, `docker://${reg.authority}/team/app:2`, {
                certDir: reg.certDir,
                scratch,
                creds: reg.push,
            });
            expect(pushed.code, pushed.stderr).toBe(0);
        });

        test("reads from another site go on (anonymous pull), and a cross-site write without an account is refused the same way", () => {
            expect(send("GET", "/v2/team/app/tags/list", ["Sec-Fetch-Site: cross-site", "Origin: https://attacker.example"]).status).toBe(
                200,
            );
            expect(send("POST", "/v2/team/xsite/blobs/uploads/", ["Sec-Fetch-Site: cross-site"]).status).toBe(403);
        });
    }
});
