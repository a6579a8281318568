/**
 * Maven in the converged case or elsewhere, on what the in-cluster synth writes: when
 * `mavenRegistry.host` (and port) is the registry's own, the front serves the repository and its
 * storage exists; when the Maven host is another, nothing Maven is served and the pipeline-config
 * points pipelines at that host unchanged (components/stack/inCluster.ts; the external host's:
 * externalHost.maven.test.ts).
 * Covers: components/stack/jenkins.ts (the pipeline-config).
 */
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { PROJECT } from "../../components/config";
import { synthesizeConfig } from "../../tools/synth";

const REGISTRY = "registry.example.test";

async function inClusterSynth(mavenHost: string) {
    const raw: Record<string, unknown> = {
        containerRegistry: { host: REGISTRY, pathPrefix: "team" },
        mavenRegistry: { host: mavenHost, pathPrefix: "maven-releases", reuseContainerCredentials: mavenHost === REGISTRY },
        registry: { mode: "in-cluster" },
        jenkins: { enabled: true, url: "https://jenkins.example.test" },
    };
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, JSON.stringify(v)]));
    const { files } = await synthesizeConfig("maven-placement", { config, secretKeys: [] });
    const data = (file: string) =>
        (YAML.parse(files.get(file) ?? expect.fail(`no ${file} in the synth`)) as { data: Record<string, string> }).data;
    const deployment = files.get("k8s/dso/Deployment-registry.yaml") ?? "";
    return {
        mavenStorage: files.has("k8s/dso/PersistentVolumeClaim-maven-data.yaml"),
        mavenContainer: (YAML.parse(deployment).spec.template.spec.containers as { name: string }[]).some((c) => c.name === "maven"),
        mavenRoute: data("k8s/dso/ConfigMap-registry-config.yaml").Caddyfile!.includes("/maven-releases"),
        pipelineUrl: data("k8s/jenkins/ConfigMap-pipeline-config.yaml").MAVEN_REGISTRY_URL,
    };
}

describe("the Maven repository in-cluster", () => {
    it("is served by the registry's front when mavenRegistry.host is the registry's host", async () => {
        expect(await inClusterSynth(REGISTRY)).toEqual({
            mavenStorage: true,
            mavenContainer: true,
            mavenRoute: true,
            pipelineUrl: `https://${REGISTRY}/maven-releases`,
        });
    });

    it("is not served when the Maven host is another, and pipelines point there unchanged", async () => {
        expect(await inClusterSynth("maven.example.test")).toEqual({
            mavenStorage: false,
            mavenContainer: false,
            mavenRoute: false,
            pipelineUrl: "https://maven.example.test/maven-releases",
        });
    });
});
