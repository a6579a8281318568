/**
 * A new CA reaches every copy in one `pulumi up`: with cert-manager and the issuer's CA given
 * (`registry.tls.certManagerCaCertificate`), changing it changes the `dso-registry-ca` ConfigMap in
 * every namespace and the nodes' trust files, and the old CA is left nowhere. (Running agents then
 * follow the kubelet's swap of the mounted ConfigMap: test/integration/agentPods.buildah.test.ts.)
 * Covers: components/stack/tls.ts (cert-manager with the issuer's CA).
 */
import { describe, expect, it } from "vitest";
import { PROJECT } from "../../components/config";
import { synthesizeConfig } from "../../tools/synth";

const pem = (marker: string) => `-----BEGIN CERTIFICATE-----\n${marker}\n-----END CERTIFICATE-----\n`;
const OLD = "MIIBoldCAofTheRotationTest";
const NEW = "MIIBnewCAofTheRotationTest";

/** The synth's files that hold the CA marked `marker`. */
async function filesHolding(caMarker: string, marker: string): Promise<string[]> {
    const raw: Record<string, unknown> = {
        containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
        registry: {
            mode: "in-cluster",
            tls: { mode: "cert-manager", certManagerIssuer: { name: "lab-ca" }, certManagerCaCertificate: pem(caMarker) },
        },
        nodes: { delivery: "daemonset", runtime: "containerd" },
        jenkins: { enabled: true, url: "https://jenkins.example.test" },
        pullSecrets: { namespaces: ["apps"] },
    };
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, JSON.stringify(v)]));
    const { files } = await synthesizeConfig("ca-rotation", { config, secretKeys: [] });
    return [...files]
        .filter(([name, text]) => name !== "resources.json" && text.includes(marker))
        .map(([name]) => name)
        .sort();
}

describe("a changed CA", () => {
    it("replaces the old one in the CA ConfigMaps of every namespace and in the node trust, and leaves it nowhere", async () => {
        const before = await filesHolding(OLD, OLD);
        expect(before).toEqual(
            expect.arrayContaining(["k8s/apps/ConfigMap-dso-registry-ca.yaml", "k8s/jenkins/ConfigMap-dso-registry-ca.yaml"]),
        );
        expect(before.some((f) => f.startsWith("k8s/dso-node-trust/"))).toBe(true);
        expect(await filesHolding(NEW, NEW)).toEqual(before);
        expect(await filesHolding(NEW, OLD)).toEqual([]);
    });
});
