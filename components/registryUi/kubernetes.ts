/**
 * The web UI as Kubernetes objects of its own, beside the registry (never in its pod): a Deployment,
 * its Service, and an Ingress that serves it under UI_PATH on the registry's host, so the UI calls
 * `/v2/` on its own origin (no CORS) while the registry's Ingress keeps every other path. Updating or
 * restarting the UI never touches the registry's pod: its settings are in no object of the registry.
 * Why: docs/in-cluster.md#the-web-ui
 *
 * Placements pass what is theirs (namespace, labels, the Ingress's class, controller and shared
 * annotations); the rest is the UI's. Everything here is pure: objects as data, no Pulumi.
 */

import type * as k8s from "@pulumi/kubernetes";
import type { IngressController } from "../shared/facts";
import type { K8sObject, Value } from "../shared/k8sObject";
import { type ContainerResources, containerResources, type PodScheduling, schedulingFields } from "../shared/podScheduling";
import { SERVICE_AWAIT_ANNOTATIONS, startupProbe } from "../shared/probes";
import { UI_PATH, uiEnvironment } from "./environment";

/** Names and numbers of the UI's objects. */
export const UI_WORKLOAD = {
    /** The Deployment, Service and Ingress. */
    name: "registry-ui",
    /** Traefik's Middleware that cuts UI_PATH off before the UI's nginx sees the request. */
    stripPrefixMiddleware: "registry-ui-strip-prefix",
    /** Where the UI's nginx listens (non-root: above 1024). */
    port: 8081,
    /** The UI image's own `nginx` user, which owns the files its entrypoint rewrites. */
    uid: 101,
} as const;

/** What a placement gives the UI's objects. */
export interface UiObjectsArgs {
    readonly namespace: string;
    /** joxit/docker-registry-ui 2.x image. */
    readonly image: Value;
    /** The registry's host name as clients write it (the Ingress's host, the UI's title and origin). */
    readonly host: string;
    /** Offer the delete button. */
    readonly deleteEnabled: boolean;
    /** Metadata labels of the UI's objects (the placement's labels for component "ui"). */
    readonly labels: Record<string, string>;
    /** The labels the Service and Deployment select the UI's pods by. */
    readonly selector: Record<string, string>;
    /** The Ingress's class, and its controller when known (nginx when unknown, like the registry's Ingress). */
    readonly ingressClass?: string;
    readonly ingressController?: IngressController;
    /** The TLS Secret of the registry's host (the registry's Ingress obtains or holds it). */
    readonly tlsSecret: string;
    /** Annotations the registry's Ingress carries that the UI's must carry too (the allowlist, the await setting). */
    readonly sharedAnnotations: Record<string, string>;
    /** Traefik Middlewares of the registry's Ingress (`<ns>-<name>@kubernetescrd`), kept ahead of the prefix strip. */
    readonly traefikMiddlewares?: readonly string[];
    /** Where the UI's pod runs: the placement's scheduling (`inCluster.pod`); the cluster's choice when unset. */
    readonly scheduling?: PodScheduling;
    /** The UI container's requests and limits; the program's defaults when unset. */
    readonly resources?: ContainerResources;
    /** How the browser reaches the registry's origin: https unless the placement serves plain HTTP (kind). */
    readonly scheme?: "https" | "http";
    /**
     * The UI's nginx serves its files under UI_PATH as well as at "/", so that an Ingress of any controller (or a
     * Gateway's route) sends UI_PATH to it as it came, with no rewrite of the controller's own (`UI_PREFIX_LINK`).
     */
    readonly servesPrefix?: boolean;
}

/** What the UI's Deployment and Service are made from: the Ingress's settings left out. */
export type UiWorkloadArgs = Omit<
    UiObjectsArgs,
    "ingressClass" | "ingressController" | "tlsSecret" | "sharedAnnotations" | "traefikMiddlewares"
>;

/**
 * The UI image's entrypoint and command (nginx's official image, which joxit/docker-registry-ui 2.x is built on:
 * its entrypoint runs the UI's settings script, then nginx), with one step before: a link `registry` → `.` in
 * the image's working directory, the directory nginx serves (/usr/share/nginx/html, the UI's own user owns it),
 * so that `/registry/index.html` is `/index.html`. The UI's pages name their files relatively: served under
 * UI_PATH, they ask for them under UI_PATH.
 */
export const UI_PREFIX_LINK = {
    command: ["/bin/sh", "-c", `ln -sfn . ${UI_PATH.replace(/\//g, "")} && exec /docker-entrypoint.sh "$@"`, "ui"],
    args: ["nginx", "-g", "daemon off;"],
} as const;

const meta = (name: string, args: Pick<UiObjectsArgs, "namespace" | "labels">, annotations?: Record<string, string>) => ({
    name,
    namespace: args.namespace,
    labels: args.labels,
    ...(annotations ? { annotations } : {}),
});

/** What the UI's probes check: its nginx takes connections. */
const UI_CHECK = { tcpSocket: { port: "http" } };
const UI_LIVENESS = { initialDelaySeconds: 5, periodSeconds: 20 };

/** The UI's Deployment: one replica, restricted Pod Security, probes on its nginx. */
export function renderUiDeployment(args: UiWorkloadArgs): K8sObject {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: meta(UI_WORKLOAD.name, args),
        spec: {
            replicas: 1,
            selector: { matchLabels: args.selector },
            template: {
                metadata: { labels: args.labels },
                spec: {
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    ...schedulingFields(args.scheduling),
                    securityContext: {
                        runAsNonRoot: true,
                        runAsUser: UI_WORKLOAD.uid,
                        runAsGroup: UI_WORKLOAD.uid,
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                        {
                            name: "ui",
                            image: args.image,
                            ...(args.servesPrefix ? { command: [...UI_PREFIX_LINK.command], args: [...UI_PREFIX_LINK.args] } : {}),
                            env: uiEnvironment({
                                registryHost: args.host,
                                deleteEnabled: args.deleteEnabled,
                                listenPort: UI_WORKLOAD.port,
                                ...(args.scheme ? { scheme: args.scheme } : {}),
                            }),
                            ports: [{ name: "http", containerPort: UI_WORKLOAD.port, protocol: "TCP" }],
                            resources: containerResources(args.resources, {
                                requests: { cpu: "10m", memory: "32Mi" },
                                limits: { cpu: "500m", memory: "128Mi" },
                            }),
                            // The image's entrypoint writes its settings into its own files at start: the
                            // root filesystem stays writable (this pod holds nothing else).
                            securityContext: {
                                allowPrivilegeEscalation: false,
                                capabilities: { drop: ["ALL"] },
                                privileged: false,
                                readOnlyRootFilesystem: false,
                                runAsNonRoot: true,
                                runAsUser: UI_WORKLOAD.uid,
                                runAsGroup: UI_WORKLOAD.uid,
                                seccompProfile: { type: "RuntimeDefault" },
                            },
                            readinessProbe: { ...UI_CHECK, periodSeconds: 10 },
                            livenessProbe: { ...UI_CHECK, ...UI_LIVENESS },
                            startupProbe: startupProbe(UI_CHECK, UI_LIVENESS),
                        },
                    ],
                },
            },
        },
    } satisfies k8s.types.input.apps.v1.Deployment;
}

/** The UI's Service: what the UI's Ingress sends to. */
export function renderUiService(args: Pick<UiWorkloadArgs, "namespace" | "labels" | "selector">): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(UI_WORKLOAD.name, args, { ...SERVICE_AWAIT_ANNOTATIONS }),
        spec: {
            type: "ClusterIP",
            selector: args.selector,
            ports: [{ name: "http", port: 80, targetPort: "http", protocol: "TCP" }],
        },
    } satisfies k8s.types.input.core.v1.Service;
}

/** UI_PATH without its trailing slash ("/registry"). */
const PREFIX = UI_PATH.replace(/\/$/, "");

/**
 * The path of the UI's Ingress and its annotations for the controller: ingress-nginx matches the
 * regular expression and rewrites to what follows the prefix (an Ingress's rewrite applies to all its
 * paths: hence an Ingress of its own); Traefik matches the prefix and strips it with a Middleware.
 * The UI's nginx serves its files at "/".
 */
export function uiIngressRoute(args: Pick<UiObjectsArgs, "ingressController" | "namespace" | "traefikMiddlewares">): {
    path: string;
    pathType: "Prefix" | "ImplementationSpecific";
    annotations: Record<string, string>;
} {
    if (args.ingressController === "traefik") {
        const strip = `${args.namespace}-${UI_WORKLOAD.stripPrefixMiddleware}@kubernetescrd`;
        return {
            path: PREFIX,
            pathType: "Prefix",
            annotations: { "traefik.ingress.kubernetes.io/router.middlewares": [...(args.traefikMiddlewares ?? []), strip].join(",") },
        };
    }
    return {
        path: `${PREFIX}(/|$)(.*)`,
        pathType: "ImplementationSpecific",
        annotations: {
            "nginx.ingress.kubernetes.io/use-regex": "true",
            "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
        },
    };
}

/** The UI's Ingress: the registry's host and certificate, the UI's path only. */
export function renderUiIngress(args: UiObjectsArgs): K8sObject {
    const route = uiIngressRoute(args);
    const annotations = Object.fromEntries(
        Object.entries({ ...args.sharedAnnotations, ...route.annotations }).sort(([a], [b]) => a.localeCompare(b)),
    );
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: meta(UI_WORKLOAD.name, args, annotations),
        spec: {
            ...(args.ingressClass ? { ingressClassName: args.ingressClass } : {}),
            tls: [{ hosts: [args.host], secretName: args.tlsSecret }],
            rules: [
                {
                    host: args.host,
                    http: {
                        paths: [
                            {
                                path: route.path,
                                pathType: route.pathType,
                                backend: { service: { name: UI_WORKLOAD.name, port: { name: "http" } } },
                            },
                        ],
                    },
                },
            ],
        },
    } satisfies k8s.types.input.networking.v1.Ingress;
}

/** Traefik's StripPrefix Middleware (traefik.io/v1alpha1) for the UI's Ingress; none for other controllers. */
export function renderUiStripPrefixMiddleware(args: UiObjectsArgs): K8sObject | undefined {
    if (args.ingressController !== "traefik") return undefined;
    return {
        apiVersion: "traefik.io/v1alpha1",
        kind: "Middleware",
        metadata: meta(UI_WORKLOAD.stripPrefixMiddleware, args),
        spec: { stripPrefix: { prefixes: [PREFIX] } },
    };
}

/** Every object of the UI, in creation order. */
export function renderUiObjects(args: UiObjectsArgs): K8sObject[] {
    return [renderUiStripPrefixMiddleware(args), renderUiDeployment(args), renderUiService(args), renderUiIngress(args)].filter(
        (o): o is K8sObject => o !== undefined,
    );
}
