/**
 * Online garbage collection (docs/decisions/online-collection.md): the front's hold
 * (`AccessPolicy.sweepHold`) as the Caddyfile renders it. The collection itself runs against real
 * Distribution and Caddy in test/integration/onlineCollection.{filesystem,s3}.test.ts.
 */
import { describe, expect, it } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { accessPolicyProblem } from "../../components/accessPolicy/policy";
import { BASE_POLICY } from "../support/accessPolicy";

describe("the front's hold", () => {
    const HOLD = "/run/dso-registry/sweep";
    const text = renderCaddyfile({ ...BASE_POLICY, sweepHold: HOLD });

    it("is absent unless asked for", () => {
        expect(renderCaddyfile(BASE_POLICY)).not.toContain("sweepHold");
    });

    it("looks up a blob check's digest, a commit's and a mount's as a file of the hold directory, the query only once it is a digest", () => {
        const file = (name: string) => `\t\tfile {\n\t\t\troot ${HOLD}\n\t\t\ttry_files ${name}\n\t\t}`;
        expect(text).toContain(
            `\t@sweepHoldCheck {\n\t\tmethod HEAD\n\t\tpath_regexp ^/v2/.+/blobs/sha256:[0-9a-f]{64}$\n${file("{http.request.uri.path.file}")}\n\t}`,
        );
        expect(text).toContain(
            `\t@sweepHoldCommit {\n\t\tmethod PUT\n\t\tpath_regexp ^/v2/.+/blobs/uploads/[^/]+$\n\t\tvars_regexp {http.request.uri.query.digest} ^sha256:[0-9a-f]{64}$\n${file("{http.request.uri.query.digest}")}\n\t}`,
        );
        expect(text).toContain(
            `\t@sweepHoldMount {\n\t\tmethod POST\n\t\tpath_regexp ^/v2/.+/blobs/uploads/?$\n\t\tvars_regexp {http.request.uri.query.mount} ^sha256:[0-9a-f]{64}$\n${file("{http.request.uri.query.mount}")}\n\t}`,
        );
        expect(text).toContain(
            `\t@sweepHoldManifest {\n\t\tmethod PUT\n\t\tpath_regexp ^/v2/.+/manifests/[^/]+$\n${file("manifests")}\n\t}`,
        );
    });

    it("answers a held blob check 404 after the read rule, and held writes 503 with a short Retry-After after the push accounts' check", () => {
        const check = text.indexOf("\t\troute @sweepHoldCheck {");
        expect(text.slice(check)).toMatch(
            /^\t\troute @sweepHoldCheck \{\n\t\t\theader Docker-Distribution-Api-Version registry\/2.0\n\t\t\trespond 404\n/,
        );
        const write = text.indexOf("\t\troute @sweepHoldCommit {");
        expect(write).toBeGreaterThan(text.indexOf("@write"));
        expect(write).toBeLessThan(check);
        for (const matcher of ["@sweepHoldCommit", "@sweepHoldMount", "@sweepHoldManifest"]) {
            const route = text.slice(text.indexOf(`\t\troute ${matcher} {`));
            expect(route.slice(0, route.indexOf("\n\t\t}\n"))).toMatch(
                /request_body \{[\s\S]*Retry-After 5[\s\S]*respond `.*UNAVAILABLE.*` 503$/,
            );
        }
    });

    it("must be an absolute path", () => {
        expect(accessPolicyProblem({ ...BASE_POLICY, sweepHold: "sweep" })).toMatch(/sweepHold "sweep" must be an absolute path/);
        expect(accessPolicyProblem({ ...BASE_POLICY, sweepHold: "/run/../etc" })).toMatch(/must be an absolute path/);
        expect(accessPolicyProblem({ ...BASE_POLICY, sweepHold: HOLD })).toBeUndefined();
    });
});
