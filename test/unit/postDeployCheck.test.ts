/**
 * The external host's post-deploy check (components/externalHost/postDeployCheck.ts): whether loopback,
 * where the check asks from, is inside the allowlist, which decides the answer it expects. The check run
 * under sh on the host the component makes: externalRegistryHost.test.ts.
 */
import { describe, expect, test } from "vitest";
import { loopbackAllowed } from "../../components/externalHost/postDeployCheck";

describe("loopbackAllowed", () => {
    test.each([
        [[], true],
        [["127.0.0.0/8"], true],
        [["127.0.0.1/32"], true],
        [["10.0.0.0/8"], false],
        [["0.0.0.0/0"], true],
        [["fd00::/8"], false],
    ] as [string[], boolean][])("%j -> %s", (networks, expected) => {
        expect(loopbackAllowed(networks)).toBe(expected);
    });
});
