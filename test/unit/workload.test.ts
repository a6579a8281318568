/**
 * What the in-cluster registry's pod reads (components/inCluster/workload.ts): its namespace at the
 * restricted Pod Security level, and the Secrets: the users files with the htpasswd, the program's
 * certificate marked as no issuer's of cert-manager, the Maven deploy account. Rendered without Pulumi.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { baseSpec, get, maven } from "../support/inClusterSpec";

describe("objects", () => {
    test("the namespace enforces and audits the restricted Pod Security Standard", () => {
        const ns = get(renderInClusterObjects(baseSpec()), "Namespace", "dso");
        expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
        expect(ns.metadata.labels["pod-security.kubernetes.io/audit"]).toBe("restricted");
    });

    test("the htpasswd Secret holds the htpasswd and both users files", () => {
        const secret = get(renderInClusterObjects(baseSpec()), "Secret", "registry-htpasswd");
        expect(Object.keys(secret.stringData).sort()).toEqual(["htpasswd", "pull", "push"]);
    });
});

describe("ingress", () => {
    test("generated CA: the certificate and key go into a kubernetes.io/tls Secret", () => {
        const secret = get(renderInClusterObjects(baseSpec()), "Secret", "registry-tls");
        expect(secret.type).toBe("kubernetes.io/tls");
        expect(secret.stringData).toEqual({ "tls.crt": "CERT-PEM", "tls.key": "KEY-PEM-VALUE" });
        // Marked as issued by another issuer than any of cert-manager's: a Certificate that later names the
        // Secret (a move to cert-manager) issues at once instead of taking the program's certificate as its own.
        expect(secret.metadata.annotations).toEqual({
            "cert-manager.io/issuer-name": "dso-registry",
            "cert-manager.io/issuer-kind": "PulumiProgram",
        });
    });
});

describe("the Maven repository in the registry pod", () => {
    test("its deploy account reaches Caddy in the users Secret", () => {
        const objects = renderInClusterObjects(baseSpec({ maven }));
        expect(get(objects, "Secret", "registry-htpasswd").stringData["maven-deploy"]).toBe(maven.deployUsers);
    });
});
