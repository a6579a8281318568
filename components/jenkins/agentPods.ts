/**
 * Pod templates for Jenkins agents that build and push images to the registry, as the Jenkins
 * Kubernetes plugin's `yaml` (or `yamlFile`) takes them, and the pipeline steps that go with each:
 *
 *  - "docker-in-docker": a dockerd sidecar (privileged) with the CA in its certs.d, and a docker CLI
 *    container that talks to it over a socket in a shared emptyDir (no TCP listener);
 *  - "kaniko": the executor's debug image (it has a shell for `sh` steps), the CA handed to the executor
 *    with `--registry-certificate`; only for a stack that names its image (kaniko was archived upstream
 *    in June 2025, so no default pins one);
 *  - "buildah": privileged buildah with chroot isolation, the CA in /etc/containers/certs.d.
 *
 * Each mounts the `dso-registry-ca` ConfigMap as a directory (never with subPath: the kubelet then
 * swaps the file in place when the ConfigMap changes, so a running agent trusts a rotated CA too), and
 * its steps log in with the push account that Jenkins holds under `containerRegistry.credentialId`.
 * The stack writes them into ConfigMap `dso-registry-agent-pods` in Jenkins's namespace, so the
 * templates always match the stack's host, CA and credential.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as YAML from "yaml";
import { MANAGED_LABELS, PART_OF_LABELS } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { typeToken } from "../shared/typeToken";

export const AGENT_PODS_CONFIG_MAP = "dso-registry-agent-pods";

export const AGENT_KINDS = ["docker-in-docker", "kaniko", "buildah"] as const;
export type AgentKind = (typeof AGENT_KINDS)[number];

/** The images the templates run; `jenkins.agentImages` in the config. */
export interface AgentImages {
    /** The docker CLI the steps run in (docker-in-docker). */
    readonly dockerCli: string;
    /** The Docker engine sidecar (docker-in-docker). */
    readonly dockerDaemon: string;
    /**
     * kaniko's executor, a `-debug` tag (the plain image has no shell for `sh` steps); its template is
     * rendered only when this is set.
     */
    readonly kaniko?: string;
    /** buildah. */
    readonly buildah: string;
}

export interface AgentPodsSpec {
    /** `host[:port]` of the registry, as image references and certs.d directories name it. */
    readonly authority: string;
    /** `authority/pathPrefix`, where the example steps push. */
    readonly imagePrefix: string;
    /** Jenkins credential ID of the push account. */
    readonly credentialId: string;
    /** The CA ConfigMap in the agents' namespace; absent when the registry's certificate is publicly trusted. */
    readonly ca?: { readonly configMap: string; readonly key: string };
    readonly images: AgentImages;
}

/** The name of the CA volume in every template. */
export const AGENT_CA_VOLUME = "registry-ca";
/** The file name the CA has in the mounted directory: docker and containers/image read every `*.crt` there. */
export const AGENT_CA_FILE = "ca.crt";

/**
 * Where each template mounts the CA directory. Docker and buildah read `<certs.d>/<host[:port]>/*.crt`
 * by themselves; kaniko reads the file its `--registry-certificate` flag names.
 */
export function agentCaDir(kind: AgentKind, authority: string): string {
    switch (kind) {
        case "docker-in-docker":
            return `/etc/docker/certs.d/${authority}`;
        case "buildah":
            return `/etc/containers/certs.d/${authority}`;
        case "kaniko":
            return "/kaniko/registry-ca";
    }
}

/** The container of each template that the steps run in. */
export const AGENT_BUILD_CONTAINER: Record<AgentKind, string> = {
    "docker-in-docker": "docker",
    kaniko: "kaniko",
    buildah: "buildah",
};

type Container = k8s.types.input.core.v1.Container;
type Volume = k8s.types.input.core.v1.Volume;

type VolumeMount = k8s.types.input.core.v1.VolumeMount;

function caVolume(spec: AgentPodsSpec): Volume[] {
    if (!spec.ca) return [];
    return [{ name: AGENT_CA_VOLUME, configMap: { name: spec.ca.configMap, items: [{ key: spec.ca.key, path: AGENT_CA_FILE }] } }];
}

/** A container that waits for the steps (`container('<name>') { sh … }` runs them in it). */
function idle(command: string[]): Pick<Container, "command" | "tty"> {
    return { command, tty: true };
}

function containersOf(kind: AgentKind, spec: AgentPodsSpec): { containers: Container[]; volumes: Volume[] } {
    const caMounts: VolumeMount[] = spec.ca ? [{ name: AGENT_CA_VOLUME, mountPath: agentCaDir(kind, spec.authority), readOnly: true }] : [];
    const mounts = (extra: VolumeMount[], withCa: boolean) => {
        const all = [...extra, ...(withCa ? caMounts : [])];
        return all.length > 0 ? { volumeMounts: all } : {};
    };
    switch (kind) {
        case "docker-in-docker":
            return {
                containers: [
                    {
                        name: "docker",
                        image: spec.images.dockerCli,
                        ...idle(["cat"]),
                        env: [{ name: "DOCKER_HOST", value: "unix:///run/dind/docker.sock" }],
                        ...mounts([{ name: "dind-socket", mountPath: "/run/dind" }], false),
                    },
                    {
                        name: "dind",
                        image: spec.images.dockerDaemon,
                        // Only the socket in the shared directory: no TCP listener, so nothing else in the
                        // cluster can reach this engine.
                        args: ["dockerd", "--host=unix:///run/dind/docker.sock"],
                        env: [{ name: "DOCKER_TLS_CERTDIR", value: "" }],
                        securityContext: { privileged: true },
                        ...mounts(
                            [
                                { name: "dind-socket", mountPath: "/run/dind" },
                                { name: "dind-storage", mountPath: "/var/lib/docker" },
                            ],
                            true,
                        ),
                    },
                ],
                volumes: [
                    { name: "dind-socket", emptyDir: {} },
                    { name: "dind-storage", emptyDir: {} },
                ],
            };
        case "kaniko": {
            const image = spec.images.kaniko;
            if (image === undefined) throw new Error("the kaniko agent template needs kaniko's image: set jenkins.agentImages.kaniko");
            return {
                containers: [{ name: "kaniko", image, ...idle(["/busybox/cat"]), ...mounts([], true) }],
                volumes: [],
            };
        }
        case "buildah":
            return {
                containers: [
                    {
                        name: "buildah",
                        image: spec.images.buildah,
                        ...idle(["cat"]),
                        env: [{ name: "BUILDAH_ISOLATION", value: "chroot" }],
                        securityContext: { privileged: true },
                        // Image storage on an emptyDir: overlay inside the container's own overlay root does not mount.
                        ...mounts([{ name: "buildah-storage", mountPath: "/var/lib/containers" }], true),
                    },
                ],
                volumes: [{ name: "buildah-storage", emptyDir: {} }],
            };
    }
}

/** An agent's Pod as the Kubernetes plugin's `yaml` takes it. */
export interface AgentPod {
    readonly apiVersion: "v1";
    readonly kind: "Pod";
    readonly metadata: { readonly labels: Record<string, string> };
    readonly spec: { readonly restartPolicy: "Never"; readonly containers: Container[]; readonly volumes?: Volume[] };
}

/** The agent's Pod (no name: the Kubernetes plugin names agent pods and adds its `jnlp` container). */
export function renderAgentPod(kind: AgentKind, spec: AgentPodsSpec): AgentPod {
    const { containers, volumes } = containersOf(kind, spec);
    const allVolumes = [...volumes, ...caVolume(spec)];
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { labels: { "app.kubernetes.io/component": `ci-agent-${kind}`, ...PART_OF_LABELS } },
        spec: { restartPolicy: "Never", containers, ...(allVolumes.length > 0 ? { volumes: allVolumes } : {}) },
    };
}

/** The shell the steps run in the build container (inside `sh '''…'''`: Groovy leaves `$` alone there). */
function stepsScript(kind: AgentKind, spec: AgentPodsSpec): string[] {
    const image = `${spec.imagePrefix}/app:$BUILD_NUMBER`;
    const host = spec.authority;
    switch (kind) {
        case "docker-in-docker":
            return [
                `printf '%s' "$REG_PASS" | docker login ${host} -u "$REG_USER" --password-stdin`,
                `docker build -t ${image} .`,
                `docker push ${image}`,
                `docker logout ${host}`,
            ];
        case "kaniko": {
            const caFlag = spec.ca ? ` --registry-certificate=${host}=${agentCaDir("kaniko", host)}/${AGENT_CA_FILE}` : "";
            return [
                `AUTH=$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 | tr -d '[:space:]')`,
                `printf '{"auths":{"%s":{"auth":"%s"}}}' '${host}' "$AUTH" > /kaniko/.docker/config.json`,
                `/kaniko/executor --context "$PWD" --dockerfile Dockerfile --destination ${image}${caFlag}`,
                "rm -f /kaniko/.docker/config.json",
            ];
        }
        case "buildah":
            return [
                `printf '%s' "$REG_PASS" | buildah login -u "$REG_USER" --password-stdin ${host}`,
                `buildah build -t ${image} .`,
                `buildah push ${image}`,
                `buildah logout ${host}`,
            ];
    }
}

/** The pipeline steps that build and push from an agent of this template, with the push credential. */
export function renderAgentSteps(kind: AgentKind, spec: AgentPodsSpec): string {
    const script = stepsScript(kind, spec).map((line) => `            ${line}`);
    return [
        `// Steps for an agent started from ${kind}.yaml, e.g. agent { kubernetes { yamlFile '${kind}.yaml' } }`,
        `container('${AGENT_BUILD_CONTAINER[kind]}') {`,
        `    withCredentials([usernamePassword(credentialsId: '${spec.credentialId}', usernameVariable: 'REG_USER', passwordVariable: 'REG_PASS')]) {`,
        "        sh '''",
        ...script,
        "        '''",
        "    }",
        "}",
        "",
    ].join("\n");
}

/** The templates a stack gets: every kind whose images it has (kaniko's only when named). */
export function renderedAgentKinds(images: AgentImages): AgentKind[] {
    return AGENT_KINDS.filter((kind) => kind !== "kaniko" || images.kaniko !== undefined);
}

/** The ConfigMap's data: `<kind>.yaml` (the pod) and `<kind>.groovy` (the steps) for every template the stack gets. */
export function renderAgentPodsData(spec: AgentPodsSpec): Record<string, string> {
    const data: Record<string, string> = {};
    for (const kind of renderedAgentKinds(spec.images)) {
        data[`${kind}.yaml`] = YAML.stringify(renderAgentPod(kind, spec), { lineWidth: 0 });
        data[`${kind}.groovy`] = renderAgentSteps(kind, spec);
    }
    return Object.fromEntries(
        Object.keys(data)
            .sort()
            .map((k) => [k, data[k]!]),
    );
}

export interface AgentPodTemplatesArgs extends AgentPodsSpec {
    /** Jenkins's namespace (where its agents run); it must exist. */
    readonly namespace: string;
}

const AGENT_POD_TEMPLATES_TYPE = typeToken("jenkins", "AgentPodTemplates");

/** ConfigMap `dso-registry-agent-pods` with `renderAgentPodsData`'s templates, in Jenkins's namespace. */
export class AgentPodTemplates extends pulumi.ComponentResource {
    constructor(name: string, args: AgentPodTemplatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(AGENT_POD_TEMPLATES_TYPE, name, {}, withFormerType(opts, "dso:jenkins:AgentPodTemplates"));
        const { namespace, ...spec } = args;
        new k8s.core.v1.ConfigMap(
            `${name}-configmap`,
            {
                metadata: {
                    name: AGENT_PODS_CONFIG_MAP,
                    namespace,
                    labels: { "app.kubernetes.io/component": "ci-agent-templates", ...MANAGED_LABELS },
                },
                data: renderAgentPodsData(spec),
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
