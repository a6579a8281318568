/**
 * What the registry's users in the cluster are given: Jenkins credentials and the pipeline-config
 * ConfigMap, pull secrets, and copies of the registry's CA.
 */
import { z } from "zod";
import { DEFAULT_AGENT_IMAGES } from "../../shared/defaults";
import { credentialId, imageRef, k8sName } from "./values";

/** Key `jenkins`: the Jenkins credentials and the pipeline-config ConfigMap. */
export const jenkins = z.strictObject({
    enabled: z.boolean().default(false).describe("Manage the Jenkins credentials and the pipeline-config ConfigMap."),
    url: z
        .url({ error: "must be a URL such as https://jenkins.example.com" })
        .optional()
        .describe('Jenkins base URL, e.g. "https://jenkins.example.com".'),
    allowPlainHttp: z
        .boolean()
        .default(false)
        .describe(
            "Allow an http:// jenkins.url. Over plain HTTP the API token (or password) and every credential this program writes to Jenkins travel in clear: only for a Jenkins reached on a trusted network, such as a lab cluster's ingress. Without it an http:// URL is refused.",
        ),
    user: z.string().min(1).default("admin").describe("Jenkins user the API calls are made as."),
    auth: z
        .enum(["token", "password"])
        .default("token")
        .describe('"token": API token (`jenkinsApiToken`, no crumb needed); "password" (`jenkinsPassword`, crumb + session).'),
    caCertificate: z
        .string()
        .includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" })
        .optional()
        .describe("CA certificate (PEM) for Jenkins's TLS when it is not publicly trusted."),
    registryHostCredentialId: credentialId
        .optional()
        .describe("Credential ID of a secret-text credential holding the registry host, for pipelines that want it."),
    pipelineConfigNamespace: k8sName.default("jenkins").describe("Namespace of the pipeline-config ConfigMap."),
    pipelineConfigName: k8sName.default("pipeline-config").describe("Name of the pipeline-config ConfigMap."),
    timeoutSeconds: z.number().int().min(1).max(300).default(30).describe("Request timeout in seconds."),
    agentImages: z
        .strictObject({
            dockerCli: imageRef.default(DEFAULT_AGENT_IMAGES.dockerCli).describe("Docker CLI of the docker-in-docker agent template."),
            dockerDaemon: imageRef
                .default(DEFAULT_AGENT_IMAGES.dockerDaemon)
                .describe("Docker engine sidecar of the docker-in-docker agent template."),
            kaniko: imageRef
                .optional()
                .describe(
                    "kaniko executor of a kaniko agent template, which is rendered only when this is set: kaniko was archived upstream in June 2025 and gets no more fixes (a warning says so). A `-debug` tag, which has the shell `sh` steps need.",
                ),
            buildah: imageRef.default(DEFAULT_AGENT_IMAGES.buildah).describe("buildah of the buildah agent template."),
        })
        .prefault({})
        .describe(
            "Images of the agent pod templates in ConfigMap `dso-registry-agent-pods` (docs/ci-agents.md); mirror them for clusters without internet access.",
        ),
    usernameSecret: z
        .boolean()
        .default(false)
        .describe(
            'Mask the user names of the username/password credentials in build logs (Jenkins\'s "Treat username as secret"). Written on every update; a change made in Jenkins shows up as drift after a refresh.',
        ),
});

/** Key `pullSecrets`: pull secrets built from the pull-only account. */
export const pullSecrets = z.strictObject({
    namespaces: z
        .array(k8sName)
        .default([])
        .describe("Namespaces that get a `kubernetes.io/dockerconfigjson` Secret for the pull-only account."),
    secretName: k8sName.default("registry-pull").describe("Name of those Secrets."),
    flux: z.boolean().default(false).describe("Create the Flux `registry-credentials` Secret in flux-system."),
});

/** Key `caConfigMap`: how the registry's CA reaches the namespaces that need it. */
export const caConfigMap = z.strictObject({
    delivery: z
        .enum(["program", "trust-manager"])
        .default("program")
        .describe(
            'Who writes ConfigMap `dso-registry-ca` (key `ca.crt`) into Jenkins\'s namespace and every pullSecrets.namespaces entry: "program" writes one ConfigMap per namespace; "trust-manager" creates a cert-manager trust-manager Bundle `dso-registry-ca`, and trust-manager (installed in the cluster) writes and keeps the copies. Needs a CA the program publishes; with several namespaces, a trust-manager that reads `namespaceSelector.matchExpressions` (docs/in-cluster.md, CA copies through trust-manager).',
        ),
    trustNamespace: k8sName
        .default("cert-manager")
        .describe(
            "trust-manager's trust namespace (its Helm value `app.trust.namespace`), where the Bundle's source ConfigMap `dso-registry-ca-source` is written; trust-manager reads sources only there.",
        ),
});
