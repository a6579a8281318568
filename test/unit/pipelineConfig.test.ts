/** The pipeline-config ConfigMap: rendering (pure) and the resource under mocks. */
import { beforeAll, describe, expect, it } from "vitest";
import { type PipelineRegistry, renderPipelineConfig } from "../../components/jenkins/pipelineConfig";
import { type MockRuntime, settle, startMockRuntime } from "../../tools/mockRuntime";

const container: PipelineRegistry = {
    host: "registry.example.com",
    port: 443,
    pathPrefix: "docker-internal/p2c",
    credentialId: "container-registry",
    requiresAuthForPush: true,
    requiresAuthForPull: false,
};
const maven: PipelineRegistry = { ...container, host: "maven.example.com", pathPrefix: "maven-releases", credentialId: "maven-registry" };

describe("renderPipelineConfig", () => {
    it("renders the container and Maven settings, keys sorted", () => {
        const data = renderPipelineConfig({ container, maven });
        expect(data).toEqual({
            CONTAINER_REGISTRY_CREDENTIAL_ID: "container-registry",
            CONTAINER_REGISTRY_HOST: "registry.example.com",
            CONTAINER_REGISTRY_IMAGE_PREFIX: "registry.example.com/docker-internal/p2c",
            CONTAINER_REGISTRY_PATH_PREFIX: "docker-internal/p2c",
            CONTAINER_REGISTRY_REQUIRES_AUTH_FOR_PULL: "false",
            CONTAINER_REGISTRY_REQUIRES_AUTH_FOR_PUSH: "true",
            MAVEN_REGISTRY_CREDENTIAL_ID: "maven-registry",
            MAVEN_REGISTRY_HOST: "maven.example.com",
            MAVEN_REGISTRY_PATH_PREFIX: "maven-releases",
            MAVEN_REGISTRY_REQUIRES_AUTH_FOR_PULL: "false",
            MAVEN_REGISTRY_REQUIRES_AUTH_FOR_PUSH: "true",
            MAVEN_REGISTRY_URL: "https://maven.example.com/maven-releases",
        });
        expect(Object.keys(data)).toEqual(Object.keys(data).sort());
    });

    it.each<[string, Partial<PipelineRegistry>, string, string]>([
        ["a non-default port", { port: 5443 }, "CONTAINER_REGISTRY_HOST", "registry.example.com:5443"],
        [
            "a non-default port in the image prefix",
            { port: 5443 },
            "CONTAINER_REGISTRY_IMAGE_PREFIX",
            "registry.example.com:5443/docker-internal/p2c",
        ],
        ["an empty path prefix", { pathPrefix: "" }, "CONTAINER_REGISTRY_IMAGE_PREFIX", "registry.example.com"],
    ])("handles %s", (_, change, key, expected) => {
        expect(renderPipelineConfig({ container: { ...container, ...change } })[key]).toBe(expected);
    });

    it("names the registry-host credential only when there is one", () => {
        expect([
            renderPipelineConfig({ container }).CONTAINER_REGISTRY_HOST_CREDENTIAL_ID,
            renderPipelineConfig({ container, registryHostCredentialId: "registry-host" }).CONTAINER_REGISTRY_HOST_CREDENTIAL_ID,
        ]).toEqual([undefined, "registry-host"]);
    });

    it("has no Maven keys without a Maven registry", () => {
        expect(Object.keys(renderPipelineConfig({ container })).filter((k) => k.startsWith("MAVEN_"))).toEqual([]);
    });
});

describe("PipelineConfig under mocks", () => {
    let rt: MockRuntime;
    beforeAll(async () => {
        rt = await startMockRuntime({ stack: "test" });
        const { PipelineConfig } = await import("../../components/jenkins/pipelineConfig");
        new PipelineConfig("pipeline-config", { namespace: "ci", name: "registry-settings", settings: { container, maven } });
        await settle();
    });

    it("creates one ConfigMap with the explicit name and namespace, under the component", () => {
        const [configMap] = rt.ofType("kubernetes:core/v1:ConfigMap");
        expect(configMap).toMatchObject({ name: "pipeline-config-configmap", parentUrn: rt.byName("pipeline-config").urn });
        expect(configMap!.inputs.metadata).toMatchObject({ name: "registry-settings", namespace: "ci" });
    });

    it("puts the rendered settings in data", () => {
        const [configMap] = rt.ofType("kubernetes:core/v1:ConfigMap");
        expect(configMap!.inputs.data).toEqual(renderPipelineConfig({ container, maven }));
    });
});
