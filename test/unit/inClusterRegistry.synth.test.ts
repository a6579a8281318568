/**
 * The synth output of both committed stacks: every Kubernetes object (whoever renders it) is valid
 * against the API schema, and the in-cluster registry's own pods meet the restricted standard.
 * Covers: components/mirrors/mirrorManifests.ts (the caches' objects), components/stack/inCluster.ts.
 */
import * as path from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import type { K8sObject } from "../../components/shared/k8sObject";
import { committedSynthDir } from "../support/committedSynth";
import { podTemplates, restrictedPodProblems, schemaProblems } from "../support/k8sValidate";
import { COMMITTED_STACKS, type CommittedStack, readTree } from "../support/synthCli";

/** The Kubernetes objects of a committed stack, from the synth the global setup made once for the run. */
function synthObjects(stack: CommittedStack): K8sObject[] {
    const files = readTree(path.join(committedSynthDir(stack), "k8s"));
    return [...files].filter(([file]) => file.endsWith(".yaml")).map(([, content]) => YAML.parse(content) as K8sObject);
}

/**
 * Synth writes a secret value as the placeholder "[secret]", even where the API expects a map (a
 * Secret's data): the placeholder stands for a map the schema cannot see, so it is checked as empty.
 */
function withoutPlaceholders(object: K8sObject): Record<string, unknown> {
    const copy: Record<string, unknown> = { ...object };
    for (const field of ["data", "stringData"]) if (copy[field] === "[secret]") copy[field] = {};
    return copy;
}

describe.each(COMMITTED_STACKS)("synth of the %s stack", (stack) => {
    let objects: K8sObject[];
    beforeAll(() => {
        objects = synthObjects(stack);
    });

    test("every Kubernetes object is valid against the API schema", async () => {
        expect(objects.length).toBeGreaterThan(0);
        const problems = await Promise.all(
            objects.map(async (o) => (await schemaProblems(withoutPlaceholders(o))).map((p) => `${o.metadata.name}: ${p}`)),
        );
        expect(problems.flat()).toEqual([]);
    });

    test("the registry's own pods meet the restricted Pod Security Standard", () => {
        const ours = objects.filter((o) => o.metadata.labels?.["app.kubernetes.io/name"] === "registry");
        const problems = podTemplates(ours).flatMap((t) => restrictedPodProblems(t.spec).map((p) => `${t.owner}: ${p}`));
        expect(problems).toEqual([]);
    });
});

test("the local stack runs the registry in the cluster, one object per file", () => {
    const names = synthObjects("local").map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(
        expect.arrayContaining([
            "Namespace/dso",
            "Deployment/registry",
            "Service/registry",
            "Ingress/registry",
            "Secret/registry-htpasswd",
            "PersistentVolumeClaim/registry-data",
            "ConfigMap/local-registry-hosting",
        ]),
    );
});

test("the local stack (generated CA, Jenkins) gives Jenkins's namespace the CA ConfigMap and the registry a TLS Service", () => {
    const objects = synthObjects("local");
    const ca = objects.filter((o) => o.kind === "ConfigMap" && o.metadata.name === "dso-registry-ca");
    expect(ca.map((o) => o.metadata.namespace)).toEqual(["jenkins"]);
    expect(Object.keys(ca[0]!.data as Record<string, unknown>)).toEqual(["ca.crt"]);
    const tls = objects.find((o) => o.kind === "Service" && o.metadata.name === "registry-tls");
    expect(tls?.metadata.namespace).toBe("dso");
});

test("the local stack (generated CA, monitoring on) probes the certificate its registry serves, on the pods' scrape path", () => {
    const objects = synthObjects("local");
    const probe = objects.filter((o) => o.metadata.name === "registry-certificate-probe").map((o) => `${o.kind}/${o.metadata.namespace}`);
    expect(probe).toEqual(["ConfigMap/dso", "Deployment/dso"]);
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "registry-certificate-probe") as any;
    expect(deployment.spec.template.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "5092" });
    const rules = objects.find((o) => o.metadata.name === "dso-registry-alert-rules") as any;
    expect(rules.data["dso-registry.rules.yml"]).toContain("probe_ssl_earliest_cert_expiry");
});

test("the prod stack (ACME: a public certificate) publishes no CA ConfigMap", () => {
    expect(synthObjects("prod").filter((o) => o.metadata.name === "dso-registry-ca")).toEqual([]);
});
