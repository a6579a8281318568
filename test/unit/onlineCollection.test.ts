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
        // Every manifest PUT: no file decides, the gate does.
        expect(text).toContain("\t@sweepHoldManifest {\n\t\tmethod PUT\n\t\tpath_regexp ^/v2/.+/manifests/[^/]+$\n\t}");
    });

    it("answers a held blob check 404 after the read rule", () => {
        const check = text.indexOf("\t\troute @sweepHoldCheck {");
        expect(text.slice(check)).toMatch(
            /^\t\troute @sweepHoldCheck \{\n\t\t\theader Docker-Distribution-Api-Version registry\/2.0\n\t\t\trespond 404\n/,
        );
        expect(check).toBeGreaterThan(text.indexOf("@ping"));
    });

    it("sends a held commit, a held mount and every manifest PUT through the gate after every policy rule, a connection each, waiting 25 s for it; then the 503", () => {
        for (const matcher of ["@sweepHoldCommit", "@sweepHoldMount", "@sweepHoldManifest"]) {
            const gate = text.indexOf(`\t\troute ${matcher} {`);
            expect(gate, matcher).toBeGreaterThan(0);
            const route = text.slice(gate, text.indexOf("\n\t\t}\n", gate));
            expect(route).toMatch(/vars dso_sweep_gate yes\n[\s\S]*reverse_proxy unix\/\/run\/dso-registry\/sweep\/gate \{/);
            expect(route).toMatch(/lb_try_duration 25s\n/);
            expect(route).toMatch(/keepalive off\n/);
            // Writes are retried only where no connection was made: a shut gate, never a write Distribution began.
            expect(route).toMatch(/lb_retry_match \{\n\t+method GET HEAD\n/);
            expect(route).toContain("header_up -Authorization");
            // After the push accounts' checks, the read rule and the held check; only the gate's other routes,
            // the blob shortcut's and the proxy come after it.
            for (const earlier of ["@write", "@ping", "route @sweepHoldCheck {"]) expect(gate).toBeGreaterThan(text.indexOf(earlier));
            expect(text.slice(gate + route.length)).not.toMatch(/\t\troute @(?!blob|sweepHold(Mount|Manifest))/);
            expect(text.indexOf("reverse_proxy 127.0.0.1:5000")).toBeGreaterThan(gate);
        }
        // No write is answered 503 at once any more: the hold's only 503 is the error handler's.
        expect(text.match(/UNAVAILABLE/g)).toHaveLength(1);
        // The proxy's 502 once the wait is over becomes the collection's 503 with its Retry-After.
        const errors = text.slice(text.indexOf("\thandle_errors {"));
        expect(errors).toContain('@sweepGateShut expression `{err.status_code} == 502 && {vars.dso_sweep_gate} == "yes"`');
        const shut = errors.slice(errors.indexOf("handle @sweepGateShut {"));
        expect(shut.slice(0, shut.indexOf("\n\t\t}\n"))).toMatch(
            /Connection close[\s\S]*Retry-After 5[\s\S]*respond `.*UNAVAILABLE.*` 503$/,
        );
        expect(renderCaddyfile(BASE_POLICY)).not.toContain("sweepGateShut");
    });

    it("must be an absolute path", () => {
        expect(accessPolicyProblem({ ...BASE_POLICY, sweepHold: "sweep" })).toMatch(/sweepHold "sweep" must be an absolute path/);
        expect(accessPolicyProblem({ ...BASE_POLICY, sweepHold: "/run/../etc" })).toMatch(/must be an absolute path/);
        expect(accessPolicyProblem({ ...BASE_POLICY, sweepHold: HOLD })).toBeUndefined();
    });
});
