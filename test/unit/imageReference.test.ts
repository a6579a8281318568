/**
 * components/shared/imageReference.ts: image references by Distribution's reference grammar, as the
 * runtimes read a name's first component, with sha256 digests; each refusal names the value and the part
 * that is wrong. Every image key of the config uses it (test/unit/imageKeys.test.ts).
 */
import { describe, expect, it } from "vitest";
import { imageReferenceProblem } from "../../components/shared/imageReference";

const HEX = "0123456789abcdef".repeat(4);

describe("imageReferenceProblem", () => {
    it.each([
        "registry",
        "registry:3.1.2",
        "app:Release-1",
        "app:_underscore_first",
        `app:${"v".repeat(128)}`,
        "library/registry:3",
        "team/my_app__x.y---z:1",
        "localhost/app",
        "localhost:5000/app:1",
        "mirror.corp.example/library/caddy:2.11.9",
        "mirror.corp.example:5000/library/caddy:2.11.9",
        "Mirror.Corp.Example/library/caddy:2.11.9",
        "CorpMirror/library/caddy:2.11.9",
        "10.0.0.5:5000/team/app:1",
        "[fd00::5]:5000/library/caddy:2.11.9",
        "[::1]/app",
        `caddy@sha256:${HEX}`,
        `caddy:2.11.9@sha256:${HEX}`,
        `mirror.corp.example:5000/prom/blackbox-exporter@sha256:${HEX}`,
    ])("accepts %s", (reference) => {
        expect(imageReferenceProblem(reference)).toBeUndefined();
    });

    it.each([
        ["", /it is empty/],
        ["https://registry.example.com/caddy:2.11.9", /has no scheme/],
        ["caddy: 2.11.9", /white space/],
        [HEX, /is an image ID/],
        ["Caddy:2.11.9", /path component "Caddy" must be lower case/],
        ["team/App:1", /path component "App" must be lower case/],
        ["my..app:1", /path component "my\.\.app"/],
        ["team_/app:1", /path component "team_"/],
        ["-team/app:1", /path component "-team"/],
        ["mirror.corp.example/library//caddy:2.11.9", /repository path "library\/\/caddy" has an empty component/],
        ["library/:2.11.9", /has an empty component/],
        ["mirror.corp.example:5000/", /has an empty component/],
        ["/caddy", /has an empty component/],
        ["caddy:2.11.9:latest", /path component "caddy:2\.11\.9"/],
        ["caddy:", /the tag "" must be 1 to 128/],
        ["caddy:.2", /the tag "\.2"/],
        ["caddy:-2", /the tag "-2"/],
        ["caddy:2+build", /the tag "2\+build"/],
        [`caddy:${"v".repeat(129)}`, /the tag "v+" must be 1 to 128/],
        ["mirror.corp.example:http/caddy:2.11.9", /the registry "mirror\.corp\.example:http" must be a host name/],
        ["-mirror.corp.example/caddy:2.11.9", /the registry "-mirror\.corp\.example"/],
        ["mirror..example/caddy:2.11.9", /the registry "mirror\.\.example"/],
        ["[1:2:3]:5000/caddy:2.11.9", /the registry "\[1:2:3\]:5000"/],
        ["[::ffff:10.0.0.1]/caddy", /the registry "\[::ffff:10\.0\.0\.1\]"/],
        ["[fd00::5]:5000", /path component "\[fd00::5\]"/],
        [`mirror.corp.example/${"a".repeat(236)}:1`, /the name is longer than 255 characters/],
        ["caddy@", /the digest "" must be "sha256:" and 64 lower-case hex digits/],
        [`caddy@sha256:${HEX.slice(1)}`, /the digest/],
        [`caddy@sha256:${HEX.toUpperCase()}`, /the digest/],
        [`caddy@sha512:${HEX}${HEX}`, /the digest "sha512:/],
        [`caddy@sha256:${HEX}@sha256:${HEX}`, /the digest/],
    ])("refuses %j, naming it", (reference, why) => {
        const problem = imageReferenceProblem(reference);
        expect(problem).toMatch(
            new RegExp(`^${JSON.stringify(reference).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not an image reference: `),
        );
        expect(problem).toMatch(why);
    });
});
