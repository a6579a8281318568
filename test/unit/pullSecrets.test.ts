/** Pull secrets: the dockerconfigjson document (pure), the targets, and the Secrets under mocks. */
import { randomBytes } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { pullSecretTargets, renderDockerConfigJson } from "../../components/accounts/pullSecrets";
import { type MockRuntime, SECRET, settle, startMockRuntime } from "../../tools/mockRuntime";

describe("renderDockerConfigJson", () => {
    it("renders auths with user, password and their base64 pair", () => {
        expect(JSON.parse(renderDockerConfigJson("registry.example.com:5443", "cluster-pull", "p:w"))).toEqual({
            auths: {
                "registry.example.com:5443": {
                    auth: Buffer.from("cluster-pull:p:w").toString("base64"),
                    password: "p:w",
                    username: "cluster-pull",
                },
            },
        });
    });
});

describe("pullSecretTargets", () => {
    it.each<[string, string[], boolean, string[]]>([
        ["namespaces only", ["apps", "web"], false, ["apps/registry-pull +sa", "web/registry-pull +sa"]],
        ["Flux only", [], true, ["flux-system/registry-credentials"]],
        ["both", ["apps"], true, ["apps/registry-pull +sa", "flux-system/registry-credentials"]],
    ])("%s", (_, namespaces, flux, expected) => {
        expect(
            pullSecretTargets(namespaces, "registry-pull", flux).map(
                (t) => `${t.namespace}/${t.name}${t.defaultServiceAccount ? " +sa" : ""}`,
            ),
        ).toEqual(expected);
    });

    it("rejects a namespace listed twice", () => {
        expect(() => pullSecretTargets(["apps", "apps"], "registry-pull", false)).toThrow(
            "two pull secrets would be written to apps/registry-pull",
        );
    });
});

describe("PullSecrets under mocks", () => {
    const password = `pull-${randomBytes(12).toString("hex")}`;
    let rt: MockRuntime;
    beforeAll(async () => {
        rt = await startMockRuntime({ stack: "test" });
        const { PullSecrets } = await import("../../components/accounts/pullSecrets");
        new PullSecrets("pull-secrets", {
            authority: "registry.example.com",
            username: "cluster-pull",
            password: pulumi.secret(password),
            namespaces: ["apps"],
            secretName: "registry-pull",
            flux: true,
        });
        await settle();
    });

    it("creates a dockerconfigjson Secret per target, with explicit names, under the component", () => {
        const secrets = rt.ofType("kubernetes:core/v1:Secret").map((s) => ({
            name: s.name,
            parent: s.parentUrn,
            metadata: s.inputs.metadata as Record<string, unknown>,
            type: s.inputs.type,
        }));
        const parent = rt.byName("pull-secrets").urn;
        expect(secrets.sort((a, b) => a.name.localeCompare(b.name))).toMatchObject([
            {
                name: "pull-secrets-apps",
                parent,
                metadata: { name: "registry-pull", namespace: "apps" },
                type: "kubernetes.io/dockerconfigjson",
            },
            {
                name: "pull-secrets-flux-system",
                parent,
                metadata: { name: "registry-credentials", namespace: "flux-system" },
                type: "kubernetes.io/dockerconfigjson",
            },
        ]);
    });

    it("keeps the document secret in what is recorded", () => {
        for (const s of rt.ofType("kubernetes:core/v1:Secret")) expect(s.inputs.stringData).toBe(SECRET);
    });

    it("gives Kubernetes the pull account's credentials", () => {
        const raw = rt.byName("pull-secrets-apps").rawInputs.stringData as Record<string, unknown>;
        const text = JSON.stringify(raw);
        expect(text).toContain(Buffer.from(`cluster-pull:${password}`).toString("base64"));
    });

    it("makes each listed namespace's default ServiceAccount pull with its Secret, and leaves flux-system's alone", () => {
        const patches = rt.ofType("kubernetes:core/v1:ServiceAccountPatch").map((p) => ({
            name: p.name,
            parent: p.parentUrn,
            metadata: p.inputs.metadata,
            imagePullSecrets: p.inputs.imagePullSecrets,
        }));
        expect(patches).toEqual([
            {
                name: "pull-secrets-apps-default-sa",
                parent: rt.byName("pull-secrets").urn,
                metadata: { name: "default", namespace: "apps" },
                imagePullSecrets: [{ name: "registry-pull" }],
            },
        ]);
    });
});
