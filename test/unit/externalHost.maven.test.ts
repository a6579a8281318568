/**
 * The Maven repository and the external registry host, through the whole program's synth: the host
 * serves Maven exactly when `mavenRegistry.host` and port are the registry's (the converged case), and
 * otherwise serves nothing Maven while the pipeline-config points pipelines at the other host,
 * unchanged. The pure pieces the host's scripts are made of: mavenScripts.test.ts, mavenCleanup.test.ts.
 * Covers: components/externalHost/mavenContainer.ts (whether it runs), components/stack/backup.ts,
 * components/stack/jenkins.ts (the pipeline-config).
 */
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { PROJECT } from "../../components/config";
import { hostMavenNginxConfig } from "../../components/externalHost/mavenScripts";
import { synthesizeConfig } from "../../tools/synth";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheHostMavenTest";
const SSH_HOST = "10.0.0.5";
const on = (p: string) => `hosts/${SSH_HOST}${p}`;

const synths = new Map<string, ReturnType<typeof synthOnce>>();
/** One synth per Maven host (Pulumi's runtime is process-global: one after another). */
function synth(mavenHost: string) {
    let result = synths.get(mavenHost);
    if (!result) {
        result = Promise.all([...synths.values()]).then(() => synthOnce(mavenHost));
        synths.set(mavenHost, result);
    }
    return result;
}

async function synthOnce(mavenHost: string) {
    const raw: Record<string, unknown> = {
        containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
        mavenRegistry: { host: mavenHost, pathPrefix: "maven-releases", snapshotBuildsToKeep: 4 },
        registry: {
            mode: "external-host",
            tls: { mode: "generated-ca" },
            maintenance: {
                garbageCollection: { enabled: true },
                backup: {
                    enabled: true,
                    destination: { kind: "sftp", host: "backup.example.test", user: "b", path: "/srv/restic", hostKey: HOST_KEY },
                },
            },
        },
        externalHost: { ssh: { host: SSH_HOST, hostKey: HOST_KEY }, mavenDataDir: "/srv/maven-files" },
        jenkins: { enabled: true, url: "https://jenkins.example.test" },
        nodes: { delivery: "daemonset", runtime: "containerd", registryAddress: SSH_HOST },
    };
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, JSON.stringify(v)]));
    const { files } = await synthesizeConfig("host-maven", { config, secretKeys: [] });
    const text = (file: string) => files.get(file) ?? expect.fail(`no ${file} in the synth`);
    const pipeline = [...files.entries()].find(([name]) => /k8s\/jenkins\/ConfigMap-pipeline-config\.yaml$/.test(name))?.[1];
    return {
        files,
        text,
        pipelineUrl: (YAML.parse(pipeline ?? expect.fail("no pipeline-config")) as { data: Record<string, string> }).data
            .MAVEN_REGISTRY_URL,
    };
}

describe.each([
    { case: "the converged case (mavenRegistry.host is the registry host)", mavenHost: "registry.example.test", served: true },
    { case: "a Maven repository of its own (another host)", mavenHost: "maven.example.test", served: false },
])("external host, $case", ({ mavenHost, served }) => {
    it(`${served ? "serves" : "does not serve"} Maven on the host's Caddy site`, async () => {
        const { text } = await synth(mavenHost);
        expect(text(on("/etc/caddy/Caddyfile")).includes("@maven path /maven-releases /maven-releases/*")).toBe(served);
    });

    it(`${served ? "runs" : "runs no"} nginx container with the rendered config`, async () => {
        const { files } = await synth(mavenHost);
        expect(files.get(on("/etc/dso-registry/maven/nginx.conf"))).toBe(
            served ? hostMavenNginxConfig({ pathPrefix: "maven-releases" }) : undefined,
        );
        expect([...files.keys()].some((f) => /commands\/registry-host-maven-run\.create\.sh$/.test(f))).toBe(served);
    });

    it(`${served ? "backs up and cleans" : "neither backs up nor cleans"} the Maven data directory`, async () => {
        const { text } = await synth(mavenHost);
        expect(text(on("/usr/local/sbin/dso-registry-backup")).includes("/srv/maven-files")).toBe(served);
        expect(text(on("/usr/local/sbin/dso-registry-restore")).includes("dso-registry-maven")).toBe(served);
        expect(text(on("/usr/local/sbin/dso-registry-gc")).includes("\nMAVEN_SNAPSHOT_BUILDS_TO_KEEP='4'\n")).toBe(served);
    });

    it("hands pipelines the Maven repository's URL on its own host", async () => {
        const { pipelineUrl } = await synth(mavenHost);
        expect(pipelineUrl).toBe(`https://${mavenHost}/maven-releases`);
    });
});
