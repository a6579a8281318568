/**
 * The Gateway API exposure (`inCluster.exposure` "gateway"): the registry's name on one HTTPRoute to the
 * front, on a Gateway the operator names or one the stack creates with the registry's certificate.
 * Gateway API has no allowlist and no rate limit of its own: the pod's Caddy enforces the allowlist on the
 * client address the controller forwards (`sidecarPolicy`), and Traefik's rate limits are attached to the
 * token path and to requests with credentials through ExtensionRef filters when the controller is Traefik. Why: docs/in-cluster.md, Gateway API.
 */
import { ANONYMOUS_TOKEN, TOKEN_PATH } from "../accessPolicy/policy";
import { CREATED_GATEWAY_LISTENER } from "../shared/facts";
import type { K8sObject } from "../shared/k8sObject";
import { WAIT_FOR_ISSUED } from "./issuerChain";
import { meta } from "./k8sHelpers";
import { IN_CLUSTER, type InClusterGateway, type InClusterSpec } from "./spec";

const GROUP = "gateway.networking.k8s.io";

/** What the Gateway API objects are rendered from. */
export type GatewayExposureSpec = Pick<InClusterSpec, "namespace" | "host" | "tls" | "ingressController" | "loginLimit"> & {
    readonly gateway: InClusterGateway;
};

/** The namespace of the Gateway the route attaches to. */
export function gatewayNamespace(spec: GatewayExposureSpec): string {
    return spec.gateway.namespace ?? spec.namespace;
}

/**
 * The Gateway the stack creates (`inCluster.gateway.className`): one HTTPS listener for the registry's
 * name on the controller's entry point, terminating TLS with Secret `registry-tls`, routes from its own
 * namespace only. None when the Gateway is the operator's.
 */
export function renderGateway(spec: GatewayExposureSpec): K8sObject | undefined {
    const { className } = spec.gateway;
    if (!className) return undefined;
    return {
        apiVersion: `${GROUP}/v1`,
        kind: "Gateway",
        metadata: meta(spec.gateway.name, spec.namespace, "ingress"),
        spec: {
            gatewayClassName: className,
            listeners: [
                {
                    name: CREATED_GATEWAY_LISTENER,
                    protocol: "HTTPS",
                    port: spec.gateway.port,
                    hostname: spec.host,
                    tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: IN_CLUSTER.tlsSecret }] },
                    allowedRoutes: { namespaces: { from: "Same" } },
                },
            ],
        },
    };
}

/** An ExtensionRef filter naming one of Traefik's Middlewares of the route's namespace. */
const traefikMiddleware = (name: string) => ({ type: "ExtensionRef", extensionRef: { group: "traefik.io", kind: "Middleware", name } });

/**
 * HTTPRoute `registry`: every path of the registry's name to the front's plain-HTTP Service (the web UI's
 * too: the front serves it, behind the allowlist, as on the external host). With Traefik and a login limit,
 * two rate-limit Middlewares by ExtensionRef filters: the token path (an Exact match, which wins over any
 * prefix) through the token's, and every other request with an Authorization header through the
 * credentials' (`credentialRequestsPerMinute`), but for the anonymous token, which the front drops: Gateway
 * API has no negated match, so an Exact header match for it comes first, without a filter. Traefik ranks
 * the two header rules alike (one header match each) and then by their order in the route, the first first.
 * Requests without credentials meet the plain rule, unlimited.
 */
export function renderHttpRoute(spec: GatewayExposureSpec): K8sObject {
    const registry = [{ name: IN_CLUSTER.name, port: IN_CLUSTER.servicePort }];
    // The web UI's path too: the front serves it from the UI's Service behind the allowlist (sidecarPolicy).
    const rules: Record<string, unknown>[] = [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: registry }];
    if (spec.loginLimit && spec.ingressController === "traefik") {
        const authorization = (type: "Exact" | "RegularExpression", value: string) => [
            { path: { type: "PathPrefix", value: "/" }, headers: [{ type, name: "Authorization", value }] },
        ];
        rules.push(
            {
                matches: [{ path: { type: "Exact", value: TOKEN_PATH } }],
                filters: [traefikMiddleware(IN_CLUSTER.loginLimitMiddleware)],
                backendRefs: registry,
            },
            { matches: authorization("Exact", `Bearer ${ANONYMOUS_TOKEN}`), backendRefs: registry },
            {
                matches: authorization("RegularExpression", "."),
                filters: [traefikMiddleware(IN_CLUSTER.credentialsLimitMiddleware)],
                backendRefs: registry,
            },
        );
    }
    const namespace = gatewayNamespace(spec);
    return {
        apiVersion: `${GROUP}/v1`,
        kind: "HTTPRoute",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "ingress"),
        spec: {
            parentRefs: [
                {
                    group: GROUP,
                    kind: "Gateway",
                    name: spec.gateway.name,
                    ...(namespace !== spec.namespace ? { namespace } : {}),
                    ...(spec.gateway.sectionName ? { sectionName: spec.gateway.sectionName } : {}),
                },
            ],
            hostnames: [spec.host],
            rules,
        },
    };
}

/**
 * The ReferenceGrant that lets Gateways of the operator's namespace name Secret `registry-tls` in a
 * listener (the operator adds the reference); none when the Gateway lives beside the Secret.
 * v1beta1: served by every Gateway API release that has the kind, and the version controllers read.
 */
export function renderGatewayReferenceGrant(spec: GatewayExposureSpec): K8sObject | undefined {
    const namespace = gatewayNamespace(spec);
    if (namespace === spec.namespace) return undefined;
    return {
        apiVersion: `${GROUP}/v1beta1`,
        kind: "ReferenceGrant",
        metadata: meta(`${IN_CLUSTER.tlsSecret}-for-gateway`, spec.namespace, "ingress"),
        spec: {
            from: [{ group: GROUP, kind: "Gateway", namespace }],
            to: [{ group: "", kind: "Secret", name: IN_CLUSTER.tlsSecret }],
        },
    };
}

/**
 * With the operator's cert-manager issuer and no Ingress for ingress-shim to read, the registry's
 * Certificate, written by the program into Secret `registry-tls` (cert-manager's gateway-shim is off unless
 * the operator turned it on, so the program does not rely on it). Its key is cert-manager's default type,
 * new at each issuance.
 */
export function renderGatewayCertificate(spec: GatewayExposureSpec): K8sObject | undefined {
    if (spec.tls.kind !== "cert-manager" || spec.tls.chain) return undefined;
    return {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: meta(IN_CLUSTER.tlsSecret, spec.namespace, "tls", { ...WAIT_FOR_ISSUED }),
        spec: {
            secretName: IN_CLUSTER.tlsSecret,
            dnsNames: [spec.host],
            issuerRef: { group: "cert-manager.io", kind: spec.tls.issuerKind, name: spec.tls.issuerName },
            // A new key at every issuance. Without it cert-manager 1.x (rotation policy Never) will not replace a
            // key in the Secret that differs from the Certificate's (the program's ECDSA key, left in Secret
            // registry-tls by a stack moved from a generated or provided certificate): it records
            // CannotRegenerateKey, requests nothing, and `up` waits for Ready until it times out.
            privateKey: { rotationPolicy: "Always" },
        },
    };
}

/** The exposure's routing objects in creation order: grant, Gateway, route (the Certificate goes before the workloads). */
export function renderGatewayObjects(spec: GatewayExposureSpec): K8sObject[] {
    return [renderGatewayReferenceGrant(spec), renderGateway(spec), renderHttpRoute(spec)].filter((o): o is K8sObject => o !== undefined);
}
