/**
 * How clients reach the registry: its Services, the Ingress with its controller's annotations, the
 * Traefik allowlist Middleware, and the KEP-1755 ConfigMap that tells local tools where it is.
 */
import type * as k8s from "@pulumi/kubernetes";
import { loginIngressAnnotations, traefikCredentialsRule, traefikLoginRateLimit } from "../accessPolicy/loginLimit";
import { ANONYMOUS_TOKEN, TOKEN_PATH } from "../accessPolicy/policy";
import { UI_PATH } from "../registryUi/environment";
import { renderUiObjects } from "../registryUi/kubernetes";
import { registryAuthority } from "../shared/facts";
import type { K8sObject } from "../shared/k8sObject";
import { SERVICE_AWAIT_ANNOTATIONS } from "../shared/probes";
import { labels, meta, selector } from "./k8sHelpers";
import { IN_CLUSTER, type InClusterSpec } from "./spec";

/** The Service the ingress sends to: Caddy's plain-HTTP listener. */
export function renderService(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry", { ...SERVICE_AWAIT_ANNOTATIONS }),
        spec: {
            type: "ClusterIP",
            selector: selector("registry"),
            ports: [{ name: "http", port: IN_CLUSTER.servicePort, targetPort: "http", protocol: "TCP" }],
        },
    } satisfies k8s.types.input.core.v1.Service;
}

/**
 * The sidecar's TLS listener as a Service: pods that resolve the registry's public name to this
 * Service's ClusterIP (CoreDNS) reach the same policy and certificate as through the ingress, on 443.
 */
export function renderTlsService(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(IN_CLUSTER.tlsService, spec.namespace, "registry", { ...SERVICE_AWAIT_ANNOTATIONS }),
        spec: {
            type: "ClusterIP",
            selector: selector("registry"),
            ports: [{ name: "https", port: IN_CLUSTER.tlsServicePort, targetPort: "https", protocol: "TCP" }],
        },
    } satisfies k8s.types.input.core.v1.Service;
}

/**
 * ingress-nginx settings for multi-GB layers: no body limit (the default is 1m), long proxy timeouts,
 * and no request or response buffering, so a layer streams instead of spooling to the controller's disk.
 * Traefik streams bodies without a limit by default and takes no per-Ingress timeouts.
 */
const NGINX_ANNOTATIONS: Readonly<Record<string, string>> = {
    "nginx.ingress.kubernetes.io/proxy-body-size": "0",
    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-connect-timeout": "30",
    "nginx.ingress.kubernetes.io/proxy-http-version": "1.1",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "900",
    "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "900",
    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
};

/**
 * Every Ingress's own annotation. pulumi-kubernetes waits until an Ingress's `.status.loadBalancer` has an
 * address and fails the update after 10 minutes otherwise. A controller that is not set up to publish its
 * address (ingress-nginx without `--publish-service`, for one) routes requests all the same, so the wait
 * would fail deploys that work.
 */
export const INGRESS_AWAIT_ANNOTATIONS: Readonly<Record<string, string>> = { "pulumi.com/skipAwait": "true" };

/**
 * The Ingress's annotations for its controller. The Caddy sidecar sees only the controller's address,
 * so the client-network allowlist is enforced by the controller: ingress-nginx with an annotation,
 * Traefik with the Middleware of `renderAllowlistMiddleware`, referenced here. With a controller this
 * program does not know, the ingress-nginx settings are written as before and no allowlist is allowed.
 */
export function ingressAnnotations(
    spec: Pick<InClusterSpec, "tls" | "allowedNetworks" | "ingressController" | "namespace">,
): Record<string, string> {
    const allowlist = spec.allowedNetworks.length > 0;
    if (allowlist && spec.ingressController === undefined) {
        throw new Error("in-cluster registry: an allowlist needs a known ingress controller (the config rules refuse this first)");
    }
    const annotations: Record<string, string> = {
        ...INGRESS_AWAIT_ANNOTATIONS,
        ...(spec.ingressController === "traefik" ? {} : NGINX_ANNOTATIONS),
    };
    if (allowlist && spec.ingressController === "nginx") {
        annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] = spec.allowedNetworks.join(",");
    }
    if (allowlist && spec.ingressController === "traefik") {
        annotations["traefik.ingress.kubernetes.io/router.middlewares"] = traefikMiddlewareRef(spec, IN_CLUSTER.allowlistMiddleware);
    }
    // The program's own chain has a Certificate of its own (issuerChain.ts); ingress-shim would make a second one.
    if (spec.tls.kind === "cert-manager" && !spec.tls.chain) {
        const key = spec.tls.issuerKind === "ClusterIssuer" ? "cert-manager.io/cluster-issuer" : "cert-manager.io/issuer";
        annotations[key] = spec.tls.issuerName;
        // A new key at every issuance, as the Gateway's Certificate has (gateway.ts): with cert-manager's
        // default (Never) a key left in Secret registry-tls that differs from the Certificate's blocks issuing.
        annotations["cert-manager.io/private-key-rotation-policy"] = "Always";
    }
    return Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The web UI's objects (components/registryUi/kubernetes.ts) in the registry's namespace, on the
 * registry's host and certificate, behind the same allowlist; none when the UI is off. Its Ingress
 * carries the allowlist and the await setting of the registry's, never the certificate request (one
 * Ingress asks cert-manager for the Secret both use).
 */
export function renderUiObjectsOf(spec: InClusterSpec): K8sObject[] {
    if (!spec.ui.enabled) return [];
    if (spec.gateway) {
        // The HTTPRoute routes the UI's path (gateway.ts): the UI's workload and Service only.
        return renderUiObjects(uiArgs(spec, {}, [])).filter((o) => o.kind === "Deployment" || o.kind === "Service");
    }
    const registryAnnotations = ingressAnnotations(spec);
    const whitelist = "nginx.ingress.kubernetes.io/whitelist-source-range";
    const middlewares = registryAnnotations["traefik.ingress.kubernetes.io/router.middlewares"];
    return renderUiObjects(
        uiArgs(
            spec,
            {
                ...INGRESS_AWAIT_ANNOTATIONS,
                ...(registryAnnotations[whitelist] ? { [whitelist]: registryAnnotations[whitelist] } : {}),
            },
            middlewares ? [middlewares] : [],
        ),
    );
}

/** The UI's arguments from the registry's spec, with its Ingress's shared annotations and Traefik Middlewares. */
function uiArgs(spec: InClusterSpec, sharedAnnotations: Record<string, string>, traefikMiddlewares: string[]) {
    return {
        namespace: spec.namespace,
        image: spec.images.ui,
        host: spec.host,
        deleteEnabled: spec.ui.deleteEnabled,
        scheduling: spec.pod,
        resources: spec.pod?.resources?.ui,
        labels: labels("ui"),
        selector: selector("ui"),
        ingressClass: spec.ingressClass,
        ingressController: spec.ingressController,
        tlsSecret: IN_CLUSTER.tlsSecret,
        sharedAnnotations,
        traefikMiddlewares,
    };
}

/** Traefik's ipAllowList Middleware (traefik.io/v1alpha1, Traefik v3) for the allowlist; none otherwise. */
export function renderAllowlistMiddleware(spec: InClusterSpec): K8sObject | undefined {
    if (spec.gateway || spec.ingressController !== "traefik" || spec.allowedNetworks.length === 0) return undefined;
    return {
        apiVersion: "traefik.io/v1alpha1",
        kind: "Middleware",
        metadata: meta(IN_CLUSTER.allowlistMiddleware, spec.namespace, "ingress"),
        spec: { ipAllowList: { sourceRange: [...spec.allowedNetworks] } },
    };
}

/** What the Ingresses are rendered from. */
export type IngressSpec = Pick<
    InClusterSpec,
    "namespace" | "host" | "ingressClass" | "ingressController" | "tls" | "allowedNetworks" | "loginLimit"
> &
    Partial<Pick<InClusterSpec, "gateway" | "ui">>;

/** An Ingress for the registry's host name over TLS (certificate in Secret `registry-tls`), for its paths. */
function ingressFor(
    spec: IngressSpec,
    name: string,
    annotations: Record<string, string>,
    paths: readonly { readonly path: string; readonly pathType: "Prefix" | "Exact" }[],
): K8sObject {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: meta(name, spec.namespace, "ingress", annotations),
        spec: {
            // Unset: the API server gives the Ingress the cluster's default class when it creates it.
            ...(spec.ingressClass !== undefined ? { ingressClassName: spec.ingressClass } : {}),
            tls: [{ hosts: [spec.host], secretName: IN_CLUSTER.tlsSecret }],
            rules: [
                {
                    host: spec.host,
                    http: {
                        paths: paths.map((path) => ({ ...path, backend: { service: { name: IN_CLUSTER.name, port: { name: "http" } } } })),
                    },
                },
            ],
        },
    } satisfies k8s.types.input.networking.v1.Ingress;
}

/** The Ingress that serves the registry's host name over TLS, with its certificate in Secret `registry-tls`. */
export function renderIngress(spec: IngressSpec): K8sObject | undefined {
    if (spec.gateway) return undefined;
    return ingressFor(spec, IN_CLUSTER.name, ingressAnnotations(spec), [{ path: "/", pathType: "Prefix" }]);
}

/** Traefik's name for a Middleware of this namespace: <namespace>-<name>@kubernetescrd. */
function traefikMiddlewareRef(spec: Pick<IngressSpec, "namespace">, name: string): string {
    return `${spec.namespace}-${name}@kubernetescrd`;
}

/**
 * Traefik's rateLimit Middleware for the token endpoint (`traefikLoginRateLimit`), named by the token's
 * Ingress or, behind a Gateway, by the HTTPRoute's ExtensionRef filter; none without Traefik or a limit.
 */
export function renderLoginLimitMiddleware(spec: IngressSpec): K8sObject | undefined {
    if (!spec.loginLimit || spec.ingressController !== "traefik") return undefined;
    return {
        apiVersion: "traefik.io/v1alpha1",
        kind: "Middleware",
        metadata: meta(IN_CLUSTER.loginLimitMiddleware, spec.namespace, "ingress"),
        spec: traefikLoginRateLimit(spec.loginLimit.tokenRequestsPerMinute),
    };
}

/**
 * Traefik's rateLimit Middleware for every other request that carries credentials
 * (`credentialRequestsPerMinute`), named by the IngressRoute of `renderCredentialsRoute` or, behind a
 * Gateway, by the HTTPRoute's ExtensionRef filter; none without Traefik or a limit.
 */
export function renderCredentialsLimitMiddleware(spec: IngressSpec): K8sObject | undefined {
    if (!spec.loginLimit || spec.ingressController !== "traefik") return undefined;
    return {
        apiVersion: "traefik.io/v1alpha1",
        kind: "Middleware",
        metadata: meta(IN_CLUSTER.credentialsLimitMiddleware, spec.namespace, "ingress"),
        spec: traefikLoginRateLimit(spec.loginLimit.credentialRequestsPerMinute),
    };
}

/**
 * The paths an Ingress of their own sends past the front's password checks' limit here: the token
 * endpoint (its own limit) and, with the web UI, the UI's prefix as Traefik's strict prefix match writes
 * it (the UI's Ingress sends those to the UI, never to the front). A path that Traefik's looser prefix
 * match also gives the UI (`/registryX`) is not excluded: the credentials' router has the longer rule, so
 * it wins there and the request reaches the front limited.
 */
function credentialsRouteExclusions(spec: IngressSpec): { path: string; exact: boolean }[] {
    const ui = UI_PATH.replace(/\/$/, "");
    return [
        { path: TOKEN_PATH, exact: true },
        ...(spec.ui?.enabled
            ? [
                  { path: ui, exact: true },
                  { path: UI_PATH, exact: false },
              ]
            : []),
    ];
}

/**
 * Traefik's IngressRoute (traefik.io/v1alpha1) for every request to the registry's name that carries
 * credentials other than the anonymous token, outside the token endpoint (`traefikCredentialsRule`): to the
 * same Service as the main Ingress, through the allowlist's Middleware and the credentials' rate limit. A
 * request without credentials never matches it (anonymous pulls, the kubelet's among them, are not
 * limited); the front only ever checks a password that came in an Authorization header. No entry points
 * and no `tls`: like the Ingresses' routers, it is served on Traefik's default entry points with their
 * TLS, so no entry point that reaches the front without it remains. The rule is longer than the main
 * Ingress's (`Host && PathPrefix("/")`), so Traefik's default priority (the rule's length) puts it first.
 * Why: docs/decisions/access-policy.md#repeated-failed-logins-are-refused-before-a-password-check
 */
export function renderCredentialsRoute(spec: IngressSpec): K8sObject | undefined {
    if (!spec.loginLimit || spec.ingressController !== "traefik" || spec.gateway) return undefined;
    const allowlist = spec.allowedNetworks.length > 0 ? [{ name: IN_CLUSTER.allowlistMiddleware }] : [];
    return {
        apiVersion: "traefik.io/v1alpha1",
        kind: "IngressRoute",
        metadata: meta(IN_CLUSTER.credentialsRoute, spec.namespace, "ingress"),
        spec: {
            routes: [
                {
                    kind: "Rule",
                    match: traefikCredentialsRule(spec.host, ANONYMOUS_TOKEN, credentialsRouteExclusions(spec)),
                    middlewares: [...allowlist, { name: IN_CLUSTER.credentialsLimitMiddleware }],
                    services: [{ name: IN_CLUSTER.name, port: "http" }],
                },
            ],
        },
    };
}

/**
 * The paths of the login Ingress. Traefik: the token endpoint alone (every other request with
 * credentials has the IngressRoute above). ingress-nginx, which cannot tell requests apart by a header:
 * the token endpoint and the ping (`/v2`, `/v2/`), the two paths where a guess never shares its path with
 * a pull; one Ingress, so one zone counts both.
 */
function loginPaths(spec: IngressSpec): string[] {
    return spec.ingressController === "nginx" ? [TOKEN_PATH, "/v2", "/v2/"] : [TOKEN_PATH];
}

/**
 * The login Ingress, with the controller's per-address limit (docs/access-policy.md, Failed logins are
 * limited): ingress-nginx's annotations, or Traefik's rateLimit Middleware after the allowlist's. Both
 * controllers merge it with the main Ingress for the same host, and an Exact path wins over the Prefix "/"
 * (ingress-nginx by its rules, Traefik by the longer rule), so every request for its paths goes through
 * the limit. Unknown controllers get none (the config warns that the setting has no effect there). Its
 * certificate comes from the main Ingress (no cert-manager annotation here: one Certificate per Secret).
 */
export function renderLoginIngress(spec: IngressSpec): K8sObject | undefined {
    if (!spec.loginLimit || spec.ingressController === undefined || spec.gateway) return undefined;
    const {
        "cert-manager.io/cluster-issuer": _cluster,
        "cert-manager.io/issuer": _issuer,
        "cert-manager.io/private-key-rotation-policy": _rotation,
        ...annotations
    } = ingressAnnotations(spec);
    const middlewares = "traefik.ingress.kubernetes.io/router.middlewares";
    const limits =
        spec.ingressController === "nginx"
            ? loginIngressAnnotations(spec.loginLimit.tokenRequestsPerMinute, spec.loginLimit.ignoreNetworks)
            : {
                  [middlewares]: [annotations[middlewares], traefikMiddlewareRef(spec, IN_CLUSTER.loginLimitMiddleware)]
                      .filter((m) => m !== undefined)
                      .join(","),
              };
    const all = { ...annotations, ...limits };
    return ingressFor(
        spec,
        IN_CLUSTER.loginIngress,
        Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b))),
        loginPaths(spec).map((path) => ({ path, pathType: "Exact" as const })),
    );
}

/** KEP-1755: tells tools (Tilt, ctlptl, Skaffold…) where the local registry is. */
export function renderLocalRegistryHosting(spec: InClusterSpec): K8sObject | undefined {
    if (!spec.publishLocalRegistryHosting) return undefined;
    const body = [
        `host: ${JSON.stringify(registryAuthority(spec.host, spec.port))}`,
        `hostFromContainerRuntime: ${JSON.stringify(registryAuthority(spec.host, spec.port))}`,
        `hostFromClusterNetwork: ${JSON.stringify(`${IN_CLUSTER.name}.${spec.namespace}.svc:${IN_CLUSTER.servicePort}`)}`,
        "",
    ].join("\n");
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: meta("local-registry-hosting", "kube-public", "discovery"),
        data: { "localRegistryHosting.v1": body },
    } satisfies k8s.types.input.core.v1.ConfigMap;
}
