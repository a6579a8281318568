/**
 * A cache's warm list (`registry.mirrors[].warm`): what the config accepts and refuses, how images are
 * normalised for the script, and the cluster's warm objects (ConfigMap, Job named after the list, CronJob).
 * The script itself runs against real Distribution in test/integration/mirrors.warm.test.ts.
 *
 * Covers: components/mirrors/warm.ts, components/shared/warmList.ts.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { clusterWarmJobName, renderClusterMirrors } from "../../components/mirrors/mirrorManifests";
import { DOCKER_HUB, type MirrorSpec } from "../../components/mirrors/mirrors";
import { mirrorWarm, renderWarmScript, warmImageLine, warmListHash } from "../../components/mirrors/warm";
import type { K8sObject } from "../../components/shared/k8sObject";
import { configProblems } from "../support/configProblems";

const base = (warm: unknown, upstream = "docker.io"): Record<string, unknown> => ({
    containerRegistry: { host: "registry.example.com", pathPrefix: "team" },
    registry: { mode: "in-cluster", mirrors: [{ upstream, warm }] },
});
const problemsOf = (raw: Record<string, unknown>): string => configProblems(raw, {}, { allowMissingSecrets: true }).join("\n");

describe("registry.mirrors[].warm config", () => {
    it("takes images with the default platforms and schedule", () => {
        const { config } = parseConfig(base({ images: ["nginx:1.30"] }));
        const mirrors = config.registry.mode === "in-cluster" ? config.registry.mirrors : [];
        expect(mirrors[0]?.warm).toEqual({ images: ["nginx:1.30"], platforms: ["linux/amd64", "linux/arm64"], schedule: "15 4 * * *" });
    });

    it.each([
        [{ images: [] }, /warm\.images: list at least one image/],
        [{ images: ["nginx"] }, /warm\.images\[0\]: "nginx" has no tag and no digest/],
        [{ images: ["docker.io/library/nginx:1.30"] }, /warm\.images\[0\]: .* names a registry \("docker\.io"\)/],
        [{ images: ["Nginx:1.27"] }, /warm\.images\[0\]: .*not an image reference/],
        [{ images: ["nginx@sha256:abc"] }, /warm\.images\[0\]: .*64 lower-case hex digits/],
        [{ images: ["nginx:1"], platforms: ["amd64"] }, /warm\.platforms\[0\]: "amd64" is not a platform/],
        [{ images: ["nginx:1"], schedule: "daily" }, /warm\.schedule: must be a five-field cron schedule/],
        [{ images: ["nginx:1"], extra: true }, /warm/],
    ])("refuses %j, naming the key", (warm, message) => {
        expect(problemsOf(base(warm))).toMatch(message);
    });

    it("accepts a digest, a tag with a digest, a nested path, a variant and all", () => {
        expect(
            problemsOf(
                base({
                    images: [`org/app@sha256:${"a".repeat(64)}`, `org/team/app:2@sha256:${"b".repeat(64)}`],
                    platforms: ["linux/arm/v7", "all"],
                    schedule: "0 */6 * * *",
                }),
            ),
        ).toBe("");
    });
});

describe("warm with the kind placement", () => {
    const warnings = (mode: string) =>
        parseConfig(
            {
                containerRegistry:
                    mode === "kind"
                        ? { host: "localhost", port: 5002, pathPrefix: "dev" }
                        : { host: "registry.example.com", pathPrefix: "team" },
                registry: { mode, mirrors: [{ upstream: "docker.io", warm: { images: ["nginx:1.30"] } }] },
            },
            {},
            { allowMissingSecrets: true },
        ).warnings.filter((w) => w.key.endsWith(".warm"));

    it("warns that kind does not warm its caches, naming the key; in-cluster does not warn", () => {
        expect(warnings("kind").map((w) => `${w.key}: ${w.message}`)).toEqual([
            expect.stringMatching(/registry\.mirrors\[0\]\.warm: has no effect with registry\.mode "kind"/),
        ]);
        expect(warnings("in-cluster")).toEqual([]);
    });
});

describe("warm list normalisation", () => {
    it.each([
        ["docker.io", "nginx:1.30", "library/nginx 1.30"],
        ["docker.io", "library/nginx:1.30", "library/nginx 1.30"],
        ["docker.io", "bitnami/redis:7", "bitnami/redis 7"],
        ["ghcr.io", "app:1", "app 1"],
        ["quay.io", `org/app:2@sha256:${"c".repeat(64)}`, `org/app sha256:${"c".repeat(64)}`],
    ])("%s: %s is %s", (upstream, image, line) => {
        expect(warmImageLine(upstream, image)).toBe(line);
    });

    it("lists an image written twice once, and a changed list or platform has another hash", () => {
        const warm = mirrorWarm("docker.io", { images: ["nginx:1.30", "library/nginx:1.30"] });
        expect(warm.images).toEqual(["library/nginx 1.30"]);
        const other = mirrorWarm("docker.io", { images: ["nginx:1.28"] });
        const arm = mirrorWarm("docker.io", { images: ["nginx:1.30"], platforms: ["linux/arm64"] });
        expect(new Set([warmListHash(warm), warmListHash(other), warmListHash(arm)]).size).toBe(3);
        // The schedule is no part of what is fetched.
        expect(warmListHash(mirrorWarm("docker.io", { images: ["nginx:1.30"], schedule: "0 1 * * *" }))).toBe(warmListHash(warm));
    });

    it("renders the script with the list and platforms as its parameters, and no account", () => {
        const script = renderWarmScript(mirrorWarm("docker.io", { images: ["nginx:1.30"] }), {
            base: "http://cache:5000",
            client: "busybox-wget",
            cacheLogs: "logs",
        });
        expect(script).toContain("IMAGES='library/nginx 1.30'");
        expect(script).toContain("PLATFORMS='linux/amd64\nlinux/arm64'");
        expect(script).not.toMatch(/\$\(dirname "\$0"\)/);
    });
});

describe("the cluster's warm objects", () => {
    const spec = (images: string[]): MirrorSpec => ({
        upstream: DOCKER_HUB.name,
        pathName: DOCKER_HUB.name,
        remoteUrl: DOCKER_HUB.remoteUrl,
        ttl: "168h",
        maxSize: "1Gi",
        hasCredentials: false,
        warm: mirrorWarm(DOCKER_HUB.name, { images }),
    });
    const render = (images: string[]): K8sObject[] =>
        renderClusterMirrors({
            namespace: "dso",
            image: "registry:3.1.2",
            upkeepImage: "alpine/kubectl:1.36.3",
            mirrors: [{ spec: spec(images) }],
        });
    const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

    it("a ConfigMap with the script, a Job named after the list that up does not wait for, and a CronJob on the schedule", () => {
        const objects = render(["nginx:1.30"]);
        const [job] = byKind(objects, "Job") as [K8sObject & { spec: any }];
        expect(job.metadata.name).toBe(clusterWarmJobName(spec(["nginx:1.30"]), spec(["nginx:1.30"]).warm!));
        expect(job.metadata.name).toMatch(/^registry-mirror-docker-io-warm-[0-9a-f]{8}$/);
        expect(job.metadata.annotations).toMatchObject({ "pulumi.com/skipAwait": "true" });
        const [cron] = byKind(objects, "CronJob") as [K8sObject & { spec: any }];
        expect(cron.metadata.name).toBe("registry-mirror-docker-io-warm");
        expect(cron.spec.schedule).toBe("15 4 * * *");
        expect(cron.spec.jobTemplate.spec).toEqual(job.spec);
        const pod = job.spec.template.spec;
        expect(pod.containers[0].image).toBe("alpine/kubectl:1.36.3");
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
        expect(pod.containers[0].securityContext).toMatchObject({
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
            readOnlyRootFilesystem: true,
        });
        const config = byKind(objects, "ConfigMap").find((o) => o.metadata.name === "registry-mirror-docker-io-warm") as K8sObject & {
            data: Record<string, string>;
        };
        expect(config.data["warm.sh"]).toContain("REGISTRY_URL='http://registry-mirror-docker-io.dso.svc:5000'");
        expect(config.data["warm.sh"]).toContain("HTTP_CLIENT='busybox-wget'");
    });

    it("a changed list is a new Job; the cache's own objects do not change", () => {
        const a = render(["nginx:1.30"]);
        const b = render(["nginx:1.28"]);
        expect(byKind(a, "Job")[0]!.metadata.name).not.toBe(byKind(b, "Job")[0]!.metadata.name);
        for (const kind of ["Deployment", "Service", "PersistentVolumeClaim"]) expect(byKind(a, kind)).toEqual(byKind(b, kind));
        expect(byKind(a, "ConfigMap").find((o) => o.metadata.name === "registry-mirror-docker-io")).toEqual(
            byKind(b, "ConfigMap").find((o) => o.metadata.name === "registry-mirror-docker-io"),
        );
    });

    it("a cache without warm has no warm objects", () => {
        const { warm: _, ...plain } = spec(["nginx:1"]);
        const objects = renderClusterMirrors({ namespace: "dso", image: "registry:3.1.2", mirrors: [{ spec: plain }] });
        expect(objects.map((o) => o.kind)).not.toContain("Job");
        expect(objects.map((o) => o.kind)).not.toContain("CronJob");
    });
});
