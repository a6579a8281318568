/**
 * The registry's server block for cluster DNS (components/inCluster/corefile.ts) while the registry's TLS
 * Service is still to be made: a preview shows the address to come, an up refuses to write a block
 * without one. The Corefile change on real text: test/integration/clusterDns.corefile.test.ts; the
 * ClusterDns component: clusterDns.test.ts.
 */
import { describe, expect, test } from "vitest";
import { ADDRESS_NOT_YET_KNOWN, registryServerBlockFor, renderRegistryServerBlock } from "../../components/inCluster/corefile";

const HOST = "registry-dso.example.test";

describe("the address while the TLS Service is still to be made", () => {
    test('a preview shows what the address will be instead of "undefined"; an up refuses to write a block without one', () => {
        expect(registryServerBlockFor(HOST, "10.43.0.7", false)).toBe(renderRegistryServerBlock(HOST, "10.43.0.7"));
        expect(registryServerBlockFor(HOST, "10.43.0.7", true)).toBe(renderRegistryServerBlock(HOST, "10.43.0.7"));
        const previewed = registryServerBlockFor(HOST, undefined, true);
        expect(previewed).toContain(`        ${ADDRESS_NOT_YET_KNOWN} ${HOST}\n`);
        expect(previewed).not.toContain("undefined");
        expect(() => registryServerBlockFor(HOST, undefined, false)).toThrow(/Service registry-tls has no ClusterIP/);
    });
});
