/**
 * The program's own cert-manager chain (components/inCluster/issuerChain.ts): a self-signed Issuer, the CA
 * Certificate, the CA Issuer and the registry's Certificate, waited for, with no ingress-shim asked for
 * another. Rendered without Pulumi; the component reading the CA back: inClusterRegistry.test.ts.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { baseSpec, find, get, issuerChain } from "../support/inClusterSpec";

describe("ingress", () => {
    test("the program's own chain: self-signed Issuer → CA Certificate → CA Issuer → the registry's Certificate, no ingress-shim", () => {
        const objects = renderInClusterObjects(baseSpec({ tls: issuerChain, ui: { enabled: true, deleteEnabled: false } }));
        const chain = objects.filter((o) => o.apiVersion === "cert-manager.io/v1");
        expect(chain.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
            "Issuer/dso-registry-selfsigned",
            "Certificate/dso-registry-ca",
            "Issuer/dso-registry-ca",
            "Certificate/registry-tls",
        ]);
        expect(chain.every((o) => o.metadata.namespace === "dso")).toBe(true);
        const ca = get(objects, "Certificate", "dso-registry-ca");
        expect(ca.spec).toMatchObject({
            isCA: true,
            secretName: "dso-registry-ca",
            duration: `${3650 * 24}h`,
            privateKey: { rotationPolicy: "Never" },
            issuerRef: { kind: "Issuer", name: "dso-registry-selfsigned" },
        });
        expect(get(objects, "Issuer", "dso-registry-ca").spec).toEqual({ ca: { secretName: "dso-registry-ca" } });
        const served = get(objects, "Certificate", "registry-tls");
        expect(served.spec).toMatchObject({
            secretName: "registry-tls",
            dnsNames: [baseSpec().host],
            duration: `${90 * 24}h`,
            renewBefore: `${30 * 24}h`,
            issuerRef: { kind: "Issuer", name: "dso-registry-ca" },
        });
        // The program reads the CA's Secret, and the pod mounts the registry's: both wait until cert-manager is done.
        expect(ca.metadata.annotations["pulumi.com/waitFor"]).toBe("condition=Ready");
        // The registry's: Ready and issued by cert-manager, not a Secret it found valid and took over.
        expect(JSON.parse(served.metadata.annotations["pulumi.com/waitFor"])).toEqual(["condition=Ready", "jsonpath={.status.revision}"]);
        // The secret the ingress and the sidecar use is the Certificate's; no Ingress asks ingress-shim for another.
        expect(get(objects, "Ingress", "registry").spec.tls).toEqual([{ hosts: [baseSpec().host], secretName: "registry-tls" }]);
        for (const ingress of objects.filter((o) => o.kind === "Ingress")) {
            expect(Object.keys(ingress.metadata.annotations ?? {}).filter((k) => k.startsWith("cert-manager.io/"))).toEqual([]);
        }
        expect(find(objects, "Secret", "registry-tls")).toBeUndefined();
    });
});
