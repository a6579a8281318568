/**
 * Node trust's resolve step (`resolveNodeTrust`, components/nodeTrust/common.ts), which both deliveries
 * (NodeTrust over SSH, NodeTrustDaemonSet) take their args through: the args a library user leaves out get
 * the values each one's `@default` documents; what the user gives is kept as given, the delivery's own args
 * with it; and the facts that decide the steps and the restarts' settings are derived from the result.
 */
import { describe, expect, it } from "vitest";
import { type NodeTrustCommonArgs, resolveNodeTrust } from "../../components/nodeTrust/common";

const minimal: NodeTrustCommonArgs = { host: "registry.lab.example", flavour: "containerd", caCertPem: "CA" };

describe("resolveNodeTrust", () => {
    it("gives every optional setting its documented default, and derives the target and the restarts from them", () => {
        expect(resolveNodeTrust(minimal)).toEqual({
            ...minimal,
            port: 443,
            plainHttp: false,
            allowContainerdRestart: false,
            allowServiceRestart: true,
            restartTimeoutSeconds: 300,
            target: {
                host: "registry.lab.example",
                port: 443,
                hasCa: true,
                hasPullAuth: false,
                hasAddress: false,
                plainHttp: false,
                mirrors: [],
            },
            restart: { allow: true, timeoutSeconds: 300 },
        });
    });

    it("keeps every setting given, the delivery's own too", () => {
        const given = {
            ...minimal,
            namespace: "registry-node-trust",
            port: 5000,
            plainHttp: true,
            allowContainerdRestart: true,
            allowServiceRestart: false,
            restartTimeoutSeconds: 60,
        };
        const { target, restart, ...rest } = resolveNodeTrust(given);
        expect(rest).toEqual(given);
        expect(target).toMatchObject({ port: 5000, plainHttp: true });
        expect(restart).toEqual({ allow: false, timeoutSeconds: 60 });
    });

    it("names the signatures' scope only with keys to check", () => {
        const requiredSignatures = { publicKeys: ["KEY"], pathPrefix: "apps/" };
        expect(resolveNodeTrust({ ...minimal, requiredSignatures }).target.signatures).toEqual({
            scope: "registry.lab.example/apps",
            keyCount: 1,
        });
        expect(resolveNodeTrust({ ...minimal, requiredSignatures: { ...requiredSignatures, publicKeys: [] } }).target).not.toHaveProperty(
            "signatures",
        );
    });
});
