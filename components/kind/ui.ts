/**
 * The web UI with registry.mode "kind" (docs/kind.md#the-web-ui): the UI's own Deployment and Service
 * in the cluster (components/registryUi), and one host on the cluster's ingress controller that serves
 * `/registry/` from the UI and `/v2/` from the registry's front on the Docker host, so the UI calls the
 * API on its own origin (no CORS). Pods reach the front by its container name on the kind network:
 * kind's CoreDNS forwards to the node's resolver, Docker's embedded DNS, which knows that name. The UI
 * lives in no container of the registry: restarting or updating it never touches them.
 *
 * Everything here is pure: objects as data, no Pulumi.
 */
import { renderUiDeployment, renderUiIngress, renderUiService } from "../registryUi/kubernetes";
import type { K8sObject, Value } from "../shared/k8sObject";

/** What the kind UI's objects are rendered from. */
export interface KindUiSpec {
    /** `kind.ui.namespace`. */
    readonly namespace: string;
    /** `kind.ui.host`: the host name of the browser's origin (plain HTTP on the ingress controller). */
    readonly host: string;
    /** `kind.ui.port`: the port of that origin, where the Docker host publishes the ingress controller. */
    readonly uiPort: number;
    /** `kind.ui.ingressClass`. */
    readonly ingressClass: string;
    /** `registry.ui.image`. */
    readonly image: Value;
    /** Offer the delete button (`registry.ui.deleteEnabled` where the registry accepts deletes). */
    readonly deleteEnabled: boolean;
    /** The front's container name on the kind network (`kind.containerName`). */
    readonly registryName: string;
    /** The front's port on the kind network (`kind.hostPort`). */
    readonly port: number;
}

/** The Service that names the front on the Docker host, and the Ingress of the API's path. */
export const KIND_API_BACKEND = "registry-api";

const labels = (component: string) => ({
    "app.kubernetes.io/name": "dso-registry",
    "app.kubernetes.io/component": component,
    "app.kubernetes.io/managed-by": "dso-registry",
});

/**
 * The API's path on the UI's host: every `/v2/` request goes to the front unchanged, with its Host
 * (ingress-nginx keeps it), which the front accepts as one of its site names. Uploads stream through
 * without a size limit or buffering, as they do on the front itself.
 */
function renderApiIngress(spec: KindUiSpec): K8sObject {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: {
            name: KIND_API_BACKEND,
            namespace: spec.namespace,
            labels: labels("ingress"),
            annotations: {
                "nginx.ingress.kubernetes.io/proxy-body-size": "0",
                "nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
                "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
            },
        },
        spec: {
            ingressClassName: spec.ingressClass,
            rules: [
                {
                    host: spec.host,
                    http: {
                        paths: [
                            {
                                path: "/v2/",
                                pathType: "Prefix",
                                backend: { service: { name: KIND_API_BACKEND, port: { number: spec.port } } },
                            },
                        ],
                    },
                },
            ],
        },
    };
}

/** The front on the Docker host as a Service of the cluster: its container name on the kind network. */
function renderApiService(spec: KindUiSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: KIND_API_BACKEND, namespace: spec.namespace, labels: labels("ingress") },
        spec: {
            type: "ExternalName",
            externalName: spec.registryName,
            ports: [{ name: "http", port: spec.port, targetPort: spec.port, protocol: "TCP" }],
        },
    };
}

/** Every object of the kind UI, in creation order: its namespace first. */
export function renderKindUiObjects(spec: KindUiSpec): K8sObject[] {
    const ui = {
        namespace: spec.namespace,
        image: spec.image,
        host: spec.host,
        ...(spec.uiPort === 80 ? {} : { originPort: spec.uiPort }),
        deleteEnabled: spec.deleteEnabled,
        labels: labels("ui"),
        selector: { "app.kubernetes.io/name": "dso-registry", "app.kubernetes.io/component": "ui" },
        ingressClass: spec.ingressClass,
        ingressController: "nginx" as const,
        sharedAnnotations: {},
    };
    return [
        {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: {
                name: spec.namespace,
                labels: { ...labels("ui"), "pod-security.kubernetes.io/enforce": "restricted" },
            },
        },
        renderUiDeployment(ui),
        renderUiService(ui),
        renderUiIngress(ui),
        renderApiService(spec),
        renderApiIngress(spec),
    ];
}
