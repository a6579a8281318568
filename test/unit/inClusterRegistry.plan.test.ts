/**
 * What the in-cluster registry registers (`planInClusterRegistry`), tested without a Pulumi runtime: which
 * objects exist for which args, their resource names, what each waits for, which ones are kept on delete,
 * and the objects the component exposes. The constructor only registers this list. How each object is
 * registered, apart from the registry: objectPlan.test.ts.
 * Covers: components/inCluster/registryPlan.ts, components/inCluster/podFiles.ts (the pod's files).
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { InClusterRegistryArgs } from "../../components/inCluster/registryArgs";
import { planInClusterRegistry } from "../../components/inCluster/registryPlan";
import { resolveInClusterRegistry } from "../../components/inCluster/resolve";
import type { MirrorSpec } from "../../components/mirrors/mirrors";
import { backup } from "../support/inClusterSpec";
import { DOCKER_HUB_MIRROR, GHCR_MIRROR, PLAN_HASH as HASH, MAVEN_REPOSITORY } from "../support/placementFixtures";

const accounts = { push: { username: "ci-push", bcryptHash: HASH } };
const minimal: InClusterRegistryArgs = {
    host: "registry.lab.example",
    accounts,
    tls: { kind: "secret", certPem: "CERT", keyPem: "KEY" },
};
const dockerHub = DOCKER_HUB_MIRROR;
const maven = { ...MAVEN_REPOSITORY, size: "5Gi" };

function plan(args: InClusterRegistryArgs) {
    return planInClusterRegistry("registry", resolveInClusterRegistry(args), {
        decoyBcryptHash: pulumi.output(HASH),
        httpSecret: pulumi.output("http-secret"),
    });
}

const names = (args: InClusterRegistryArgs) => plan(args).objects.map((o) => o.name);
const planned = (args: InClusterRegistryArgs, name: string) => {
    const found = plan(args).objects.find((o) => o.name === name);
    if (!found) throw new Error(`${name} is not planned`);
    return found;
};

describe("planInClusterRegistry", () => {
    it("lists the namespace first, the registry's objects, and the objects the component exposes", () => {
        const p = plan(minimal);
        expect(p.objects.map((o) => o.name)).toEqual([
            "registry-namespace-dso",
            "registry-serviceaccount-registry",
            "registry-secret-registry-htpasswd",
            "registry-secret-registry-http-secret",
            "registry-secret-registry-tls",
            "registry-configmap-registry-config",
            "registry-persistentvolumeclaim-registry-data",
            "registry-deployment-registry",
            "registry-service-registry",
            "registry-service-registry-tls",
            "registry-ingress-registry",
            "registry-configmap-local-registry-hosting",
        ]);
        expect(p.exposed).toEqual({
            namespace: "registry-namespace-dso",
            deployment: "registry-deployment-registry",
            service: "registry-service-registry",
            tlsService: "registry-service-registry-tls",
            ingress: "registry-ingress-registry",
        });
    });

    it("keeps the namespace and the data claims on delete, and never changes a claim's storage class", () => {
        const namespace = planned(minimal, "registry-namespace-dso");
        expect(namespace.retainOnDelete).toBe(true);
        expect(namespace.dependsOn).toEqual([]);
        const data = planned({ ...minimal, maven }, "registry-persistentvolumeclaim-registry-data");
        expect(data).toMatchObject({ retainOnDelete: true, ignoreChanges: ["spec.storageClassName"] });
        expect(planned({ ...minimal, maven }, "registry-persistentvolumeclaim-maven-data").retainOnDelete).toBe(true);
        // A cache's claim comes back from its upstream: not retained, but its class is fixed too.
        const cache = planned(
            { ...minimal, mirrors: [{ spec: dockerHub }] },
            "registry-persistentvolumeclaim-registry-mirror-docker-io-10gi",
        );
        expect(cache.retainOnDelete).toBeUndefined();
        expect(cache.ignoreChanges).toEqual(["spec.storageClassName"]);
        expect(planned(minimal, "registry-deployment-registry").retainOnDelete).toBeUndefined();
    });

    it("lets an Ingress of no class keep the class it was created with, and changes a named class", () => {
        const loginLimit = { tokenRequestsPerMinute: 30, credentialRequestsPerMinute: 90, ignoreNetworks: [] };
        const unnamed = { ...minimal, ingressController: "nginx" as const, loginLimit, ui: { enabled: true } };
        for (const name of ["registry-ingress-registry", "registry-ingress-registry-login", "registry-ingress-registry-ui"]) {
            expect(planned(unnamed, name).ignoreChanges, name).toEqual(["spec.ingressClassName"]);
            expect(planned({ ...unnamed, ingressClass: "traefik" }, name).ignoreChanges, name).toBeUndefined();
        }
    });

    it("has the web UI's objects only with the UI on", () => {
        const ui = ["registry-deployment-registry-ui", "registry-service-registry-ui", "registry-ingress-registry-ui"];
        for (const name of ui) expect(names(minimal)).not.toContain(name);
        for (const name of ui) expect(names({ ...minimal, ui: { enabled: true } })).toContain(name);
    });

    it("has the GC CronJob, its account and role only with garbage collection on", () => {
        const gc = [
            "registry-serviceaccount-registry-gc",
            "registry-role-registry-gc",
            "registry-rolebinding-registry-gc",
            "registry-cronjob-registry-gc",
        ];
        for (const name of gc) expect(names({ ...minimal, garbageCollection: { enabled: false } })).not.toContain(name);
        for (const name of gc) expect(names({ ...minimal, garbageCollection: { enabled: true } })).toContain(name);
    });

    it("has the Maven sidecar and its claim only with maven", () => {
        const containers = (args: InClusterRegistryArgs) => {
            const spec = planned(args, "registry-deployment-registry").object.spec as {
                template: { spec: { containers: { name: string }[] } };
            };
            return spec.template.spec.containers.map((c) => c.name);
        };
        expect(containers(minimal)).not.toContain("maven");
        expect(names(minimal)).not.toContain("registry-persistentvolumeclaim-maven-data");
        expect(containers({ ...minimal, maven })).toContain("maven");
        expect(names({ ...minimal, maven })).toContain("registry-persistentvolumeclaim-maven-data");
    });

    it("has a ConfigMap, claim, Deployment and Service per mirror", () => {
        const quay: MirrorSpec = { ...dockerHub, upstream: "quay.io", pathName: "quay.io", remoteUrl: "https://quay.io" };
        const all = names({ ...minimal, mirrors: [{ spec: dockerHub }, { spec: quay }] });
        for (const cache of ["docker-io", "quay-io"]) {
            expect(all).toContain(`registry-configmap-registry-mirror-${cache}`);
            expect(all).toContain(`registry-persistentvolumeclaim-registry-mirror-${cache}-10gi`);
            expect(all).toContain(`registry-deployment-registry-mirror-${cache}`);
            expect(all).toContain(`registry-service-registry-mirror-${cache}`);
        }
        expect(names(minimal).filter((n) => n.includes("mirror"))).toEqual([]);
    });

    it("gives a mirror with an upstream account its Secret, from the account every placement takes", () => {
        const ghcr = GHCR_MIRROR;
        const withAccount = { ...minimal, mirrors: [{ spec: ghcr, account: { username: "bot", password: "token" } }] };
        expect(names(withAccount)).toContain("registry-secret-registry-mirror-ghcr-io-upstream");
        expect(names({ ...minimal, mirrors: [{ spec: dockerHub }] }).filter((n) => n.includes("upstream"))).toEqual([]);
        expect(() => plan({ ...minimal, mirrors: [{ spec: ghcr }] })).toThrow("mirror ghcr.io: its upstream account is missing");
    });

    it("runs the GC and backup jobs on images.kubectl, and the certificate probe on monitoring.probeImage", () => {
        const kubectl = "mirror.example/alpine/kubectl:1.36.3";
        const probeImage = `mirror.example/prom/blackbox-exporter@sha256:${"c".repeat(64)}`;
        const args: InClusterRegistryArgs = {
            ...minimal,
            images: { kubectl },
            garbageCollection: { enabled: true },
            backup,
            monitoring: { runbookBaseUrl: "https://runbooks", probeImage },
        };
        type Containers = { containers: { name: string; image: string }[] };
        const jobImages = (name: string) =>
            (
                planned(args, name).object.spec as { jobTemplate: { spec: { template: { spec: Containers } } } }
            ).jobTemplate.spec.template.spec.containers.map((c) => c.image);
        expect(jobImages("registry-cronjob-registry-gc")).toEqual([kubectl]);
        expect(jobImages("registry-cronjob-registry-backup")).toEqual([kubectl]);
        const probe = (planned(args, "registry-deployment-registry-certificate-probe").object.spec as { template: { spec: Containers } })
            .template.spec.containers;
        expect(probe.find((c) => c.name === "blackbox-exporter")?.image).toBe(probeImage);
    });

    it("takes the monitoring every placement takes: scrape annotations and a rules ConfigMap unless prometheus-operator is named", () => {
        const monitored = (monitoring: InClusterRegistryArgs["monitoring"]) =>
            names({ ...minimal, monitoring }).filter((n) => /podmonitor|prometheusrule|alert-rules/.test(n));
        expect(resolveInClusterRegistry({ ...minimal, monitoring: { runbookBaseUrl: "https://runbooks" } }).monitoring).toEqual({
            runbookBaseUrl: "https://runbooks",
            prometheusOperator: false,
            probeImage: "prom/blackbox-exporter:v0.28.0",
            cacheClaims: [],
        });
        expect(monitored({ runbookBaseUrl: "https://runbooks" })).toEqual(["registry-configmap-dso-registry-alert-rules"]);
        expect(monitored({ runbookBaseUrl: "https://runbooks", prometheusOperator: true })).toEqual([
            "registry-podmonitor-registry-certificate-probe",
            "registry-podmonitor-registry",
            "registry-prometheusrule-dso-registry",
        ]);
        expect(monitored(undefined)).toEqual([]);
        expect(resolveInClusterRegistry(minimal)).not.toHaveProperty("monitoring");
    });

    it("exposes no Ingress behind a Gateway, and the chain's CA Certificate only with the program's own chain", () => {
        const gateway = plan({ ...minimal, gateway: { name: "shared", namespace: "gateways", port: 443, proxyNetworks: [] } });
        expect(gateway.exposed.ingress).toBeUndefined();
        expect(gateway.objects.some((o) => o.object.kind === "Ingress" && o.object.metadata.name === "registry")).toBe(false);
        expect(plan(minimal).exposed.chainCa).toBeUndefined();
        const chain = plan({
            ...minimal,
            tls: { kind: "cert-manager", issuer: { kind: "chain", caValidityDays: 3650, serverCertValidityDays: 90 } },
        });
        expect(chain.exposed.chainCa).toBe("registry-certificate-dso-registry-ca");
        expect(chain.objects.map((o) => o.name)).not.toContain("registry-secret-registry-tls");
    });
});
