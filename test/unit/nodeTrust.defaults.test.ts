/**
 * Node trust's defaults (`nodeTrustDefaults`, components/nodeTrust/common.ts), which both deliveries
 * (NodeTrust over SSH, NodeTrustDaemonSet) apply: the args a library user leaves out get the values each
 * one's `@default` documents; what the user gives is kept as given, the delivery's own args with it.
 */
import { describe, expect, it } from "vitest";
import { type NodeTrustCommonArgs, nodeTrustDefaults } from "../../components/nodeTrust/common";

const minimal: NodeTrustCommonArgs = { host: "registry.lab.example", flavour: "containerd", caCertPem: "CA" };

describe("nodeTrustDefaults", () => {
    it("gives every optional setting its documented default", () => {
        expect(nodeTrustDefaults(minimal)).toEqual({
            ...minimal,
            port: 443,
            plainHttp: false,
            allowContainerdRestart: false,
            allowServiceRestart: true,
            restartTimeoutSeconds: 300,
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
        expect(nodeTrustDefaults(given)).toEqual(given);
    });
});
