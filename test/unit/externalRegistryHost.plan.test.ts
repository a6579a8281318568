/**
 * What the external host registers (`planExternalRegistryHost`, components/externalHost/externalRegistryHost.ts),
 * tested without a Pulumi runtime: which child components exist for which args, their names, the order
 * they wait for each other in, the values the later ones take from the earlier ones, and what the host
 * exposes. The constructor only registers this description.
 * Covers: components/maven/registryMaven.ts (the Maven repository's args, the same for every placement).
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import {
    type ExternalRegistryHostArgs,
    planExternalRegistryHost,
    resolveExternalRegistryHost,
} from "../../components/externalHost/externalRegistryHost";
import { DOCKER_HUB_MIRROR, GHCR_MIRROR, MAVEN_REPOSITORY } from "../support/placementFixtures";
import { EXTERNAL_HOST_MINIMAL as minimal, S3_HOST_STORAGE } from "../support/planArgs";

const dockerHub = DOCKER_HUB_MIRROR;
const maven = MAVEN_REPOSITORY;
const monitoring = { runbookBaseUrl: "https://runbooks.example.com", relayImage: "caddy:2.8.4" };
const everything: ExternalRegistryHostArgs = {
    ...minimal,
    ui: { image: "joxit/docker-registry-ui:2.5.7" },
    mirrors: [{ spec: dockerHub }],
    maven,
    monitoring,
};

const plan = (args: ExternalRegistryHostArgs) => planExternalRegistryHost("registry", resolveExternalRegistryHost(args));

/** Each step's name and what it waits for, in the order the host registers them. */
function order(args: ExternalRegistryHostArgs): [string, readonly string[] | undefined][] {
    const p = plan(args);
    const steps = [p.purge, p.packages, p.monitoring, p.loginLimit, p.container, p.ui, p.mirrors, p.maven, p.caddy, p.upkeep, p.check];
    return steps.flatMap((s) => (s ? [[s.name, s.dependsOn] as [string, readonly string[] | undefined]] : []));
}

describe("planExternalRegistryHost", () => {
    it("orders the minimal host: the purge, the packages, everything after them, the site after the container, the check after the site", () => {
        expect(order(minimal)).toEqual([
            ["registry-purge", undefined],
            ["registry-packages", ["purge"]],
            ["registry-login-limit", ["packages"]],
            ["registry-container", ["packages"]],
            ["registry-caddy", ["packages", "container"]],
            ["registry-maintenance", ["packages"]],
            ["registry-check", ["caddy", "container"]],
        ]);
    });

    it("adds the UI, the caches, Maven and the monitoring only when asked for, the site after each, the jobs after the reporter", () => {
        expect(order(everything)).toEqual([
            ["registry-purge", undefined],
            ["registry-packages", ["purge"]],
            ["registry-monitoring", ["packages"]],
            // Both may install Debian packages: not at the same time as the monitoring.
            ["registry-login-limit", ["packages", "monitoring"]],
            ["registry-container", ["packages"]],
            ["registry-ui", ["packages"]],
            ["registry-mirrors", ["packages", "monitoringScripts"]],
            ["registry-maven", ["packages"]],
            ["registry-caddy", ["packages", "container", "ui", "mirrors", "maven"]],
            ["registry-maintenance", ["packages", "monitoringScripts"]],
            ["registry-check", ["caddy", "container"]],
        ]);
        expect(plan({ ...minimal, mirrors: [] }).mirrors).toBeUndefined();
    });

    it("writes a mirror's env file from the account every placement takes, only for an upstream with credentials", () => {
        const ghcr = GHCR_MIRROR;
        const account = { username: "bot", password: "token" };
        const caches = plan({
            ...minimal,
            mirrors: [
                { spec: ghcr, account },
                { spec: dockerHub, account },
            ],
        }).mirrors?.args.mirrors;
        expect(caches?.map((m) => m.spec.pathName)).toEqual(["ghcr.io", "docker.io"]);
        expect(pulumi.Output.isInstance(caches?.[0]?.envFile)).toBe(true);
        expect(caches?.[1]?.envFile).toBeUndefined();
    });

    it("takes the monitoring every placement takes, its metrics relay on the front's Caddy image unless told otherwise", () => {
        const relay = (args: ExternalRegistryHostArgs) => plan(args).container.args.spec.metrics?.relayImage;
        expect(relay({ ...minimal, caddyImage: "caddy:2.9", monitoring: { runbookBaseUrl: "https://runbooks" } })).toBe("caddy:2.9");
        expect(relay({ ...minimal, monitoring: { runbookBaseUrl: "https://runbooks" } })).toBe("caddy:2.11.9");
        expect(relay({ ...minimal, monitoring: { runbookBaseUrl: "https://runbooks", relayImage: "caddy:relay" } })).toBe("caddy:relay");
        expect(relay(minimal)).toBeUndefined();
        expect(plan({ ...minimal, monitoring: { runbookBaseUrl: "https://runbooks" } }).monitoring?.args.runbookBaseUrl).toBe(
            "https://runbooks",
        );
        expect(resolveExternalRegistryHost(minimal)).not.toHaveProperty("monitoring");
    });

    it("purges the data directory, and Maven's with maven, but never a bucket", () => {
        expect(plan({ ...minimal, purgeDataOnDestroy: true }).purge.args).toMatchObject({
            purge: true,
            directories: ["/srv/data/registry"],
        });
        expect(plan({ ...minimal, maven }).purge.args.directories).toEqual(["/srv/data/registry", "/srv/data/maven"]);
        const s3 = plan({
            ...minimal,
            storage: S3_HOST_STORAGE,
        });
        expect(s3.purge.args.directories).toEqual([]);
        expect(s3.packages.args.dataDir).toBe(false);
    });

    it("hands the site the caches' routes, the jobs the containers' fingerprints, the check the site's", () => {
        const p = plan(everything);
        const routes = [{ pathName: "docker.io", upstream: "unix/run/cache.sock" }];
        const site = p.caddy.args({ mirrorRoutes: routes });
        expect(site.mirrors).toBe(routes);
        expect(site).toMatchObject({ metrics: true, uiUpstream: "127.0.0.1:5080", maven: { pathPrefix: "maven-releases" } });
        expect(plan(minimal).caddy.args({}).mirrors).toBeUndefined();
        const jobs = p.upkeep.args({ containerFingerprint: "registry-fp", mavenFingerprint: "maven-fp" });
        expect(jobs.specFingerprint).toBe("registry-fp");
        expect(jobs.maven).toMatchObject({ fingerprint: "maven-fp", snapshotBuildsToKeep: 3 });
        expect(plan(minimal).upkeep.args({ containerFingerprint: "registry-fp" }).maven).toBeUndefined();
        const caddyFingerprint = pulumi.output("site-fp");
        expect(p.check.args({ caddyFingerprint, containerFingerprint: "registry-fp" }).triggers).toEqual([caddyFingerprint, "registry-fp"]);
    });

    it("exposes the URL, the image prefix, the CA only when given, and the operator's commands", () => {
        const p = plan({ ...minimal, port: 8443, pathPrefix: "team" });
        expect(p.registryUrl).toBe("https://registry.example.com:8443");
        expect(p.imagePrefix).toBe("registry.example.com:8443/team");
        expect(p.caCertPem).toBeUndefined();
        expect(p.opsCommands.status).toBe("ssh -p 22 deploy@10.0.0.5 sudo /usr/local/sbin/dso-registry-status");
        expect(Object.keys(p.opsCommands)).toEqual(["status", "logs", "caddyLogs", "garbageCollect", "verify", "accessLog"]);
        expect(Object.keys(plan(everything).opsCommands)).toContain("mavenLogs");
        const files = plan({ ...minimal, tls: { kind: "files", certificatePem: "CERT", privateKeyPem: "KEY", caCertPem: "CA" } });
        expect(files.caCertPem).toBe("CA");
    });
});
