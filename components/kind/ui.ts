/**
 * The web UI with registry.mode "kind" (docs/kind.md#the-web-ui), two ways:
 * - in the cluster (`kindUiObjects`, the default): joxit/docker-registry-ui as a Deployment in the UI's
 *   namespace behind the cluster's ingress controller, which serves UI_PATH from it and `/v2` from the
 *   registry's front through a Service of type ExternalName, one origin (`http://localhost:8080/registry/`);
 * - served by the front (`kindUiUpstream`, `kind.ui.servedBy` "front"): a container beside the registry's on
 *   the backend network the front shares with Distribution, at http://localhost:<port>/registry/, for clusters
 *   without an ingress controller; the UI then works before any cluster exists and after one is deleted.
 * Either way the page and the API it calls are one origin (no CORS, whose preflights the registry would answer
 * with 401), and the front's policy applies to the UI's requests as to any client's.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { UI_PATH, uiEnvironment } from "../registryUi/environment";
import { renderUiDeployment, renderUiService, UI_WORKLOAD } from "../registryUi/kubernetes";
import { MANAGED_LABELS } from "../shared/facts";
import type { K8sObject } from "../shared/k8sObject";
import { httpAuthority } from "./front";
import { type KindLayout, kindPaths } from "./scripts";

/** The web UI of the kind placement (`registry.ui`). */
export interface KindUi {
    /** `registry.ui.image`. */
    readonly image: string;
    /** Offer the delete button (`registry.ui.deleteEnabled` where the registry accepts deletes). */
    readonly deleteEnabled: boolean;
}

/** Where the UI's nginx listens in its container (the image's default, said here once for its environment and the front's upstream). */
const UI_CONTAINER_PORT = 80;

/** The UI as the front reaches it on the backend network, by its container's name: the Caddyfile's `uiUpstream`. */
export function kindUiUpstream(layout: KindLayout): string {
    return `${kindPaths(layout).uiName}:${UI_CONTAINER_PORT}`;
}

/** The page's address: the front's own origin on the Docker host, under UI_PATH. */
export function kindUiUrl(layout: Pick<KindLayout, "port">): string {
    return `http://${httpAuthority("localhost", layout.port)}${UI_PATH}`;
}

/**
 * The UI container's environment as `NAME=value` words (none holds a space): the registry at the front's
 * origin on the Docker host, the origin the browser opened the page on, over plain HTTP.
 */
export function kindUiEnvironment(layout: Pick<KindLayout, "port">, ui: Pick<KindUi, "deleteEnabled">): string[] {
    return uiEnvironment({
        registryHost: httpAuthority("localhost", layout.port),
        deleteEnabled: ui.deleteEnabled,
        scheme: "http",
        listenPort: UI_CONTAINER_PORT,
    }).map(({ name, value }) => `${name}=${value}`);
}

/**
 * The UI in the cluster (`kind.ui.servedBy` "ingress", the default): its Deployment and Service in the UI's
 * namespace, and the cluster's ingress controller in front at `http://<host>:<port>/`, which the Docker host
 * reaches through the port mapping of the node the controller runs on.
 */
export interface KindUiIngress {
    /** The host name the browser opens the UI at (`kind.ui.host`): the Ingress's host and the page's origin. */
    readonly host: string;
    /** The port of the Docker host where the cluster's ingress answers (`kind.ui.port`). */
    readonly port: number;
    /** The namespace of the UI's objects (`kind.ui.namespace`). */
    readonly namespace: string;
    /** Create the namespace (and delete it on destroy); else it must exist, and stays (`kind.ui.createNamespace`). */
    readonly createNamespace: boolean;
    /** The Ingress's class (`kind.ui.ingressClass`); the cluster's default when unset. */
    readonly ingressClass?: string;
}

/** Names of the UI's objects in the cluster. */
export const KIND_UI_OBJECTS = {
    /** The UI's Deployment, its Service and the Ingress. */
    ui: UI_WORKLOAD.name,
    /** The Service of type ExternalName that names the front's container on the kind network. */
    api: "registry-api",
} as const;

/** The origin the browser opens the UI on, as its Host header carries it: `<host>:<port>` (the host alone on port 80). */
export function kindUiOrigin(ingress: Pick<KindUiIngress, "host" | "port">): string {
    return httpAuthority(ingress.host, ingress.port);
}

/** The page's address: the front's origin with the UI served by the front, the ingress's with the UI in the cluster. */
export function kindUiPageUrl(layout: Pick<KindLayout, "port">, ingress?: Pick<KindUiIngress, "host" | "port">): string {
    return ingress ? `http://${kindUiOrigin(ingress)}${UI_PATH}` : kindUiUrl(layout);
}

/** Labels of the UI's objects in the cluster, and the labels its Service and Deployment select its pods by. */
function kindUiLabels(name: string, component: string): { labels: Record<string, string>; selector: Record<string, string> } {
    const selector = { "app.kubernetes.io/name": name, "app.kubernetes.io/component": component };
    return { selector, labels: { ...selector, ...MANAGED_LABELS } };
}

/**
 * The UI's objects in the cluster, in creation order, as the design of the kind registry has them: the UI a
 * Deployment (the UI's nginx serving UI_PATH itself: no rewrite of the controller's own, so every controller
 * serves it), the front a Service of type ExternalName naming its container on the kind network (kind's
 * CoreDNS forwards the name to Docker's DNS there), and one Ingress on the UI's host that sends UI_PATH to the
 * UI and `/v2` to the front: page and API on one origin, no CORS. The controller must allow ExternalName
 * Services (Traefik: `providers.kubernetesIngress.allowExternalNameServices`). The front's policy holds on
 * that path as on any other: the Ingress reaches the front, never Distribution. The Ingress skips the
 * provider's await: a kind cluster's controller publishes no address in its status.
 */
export function kindUiObjects(
    layout: Pick<KindLayout, "registryName" | "port">,
    ui: Pick<KindUi, "image" | "deleteEnabled">,
    ingress: KindUiIngress,
): K8sObject[] {
    const { namespace } = ingress;
    const origin = kindUiOrigin(ingress);
    const ui$ = kindUiLabels(KIND_UI_OBJECTS.ui, "ui");
    const api$ = kindUiLabels(KIND_UI_OBJECTS.api, "api");
    const namespaceObject: K8sObject = {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: namespace, labels: { ...MANAGED_LABELS, "pod-security.kubernetes.io/enforce": "restricted" } },
    };
    const apiService: K8sObject = {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: KIND_UI_OBJECTS.api, namespace, labels: api$.labels },
        spec: {
            type: "ExternalName",
            externalName: layout.registryName,
            ports: [{ name: "http", port: layout.port, targetPort: layout.port, protocol: "TCP" }],
        },
    };
    const path = (prefix: string, service: string) => ({
        path: prefix,
        pathType: "Prefix",
        backend: { service: { name: service, port: { name: "http" } } },
    });
    const ingressObject: K8sObject = {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: { name: KIND_UI_OBJECTS.ui, namespace, labels: ui$.labels, annotations: { ...KIND_UI_INGRESS_ANNOTATIONS } },
        spec: {
            ...(ingress.ingressClass ? { ingressClassName: ingress.ingressClass } : {}),
            rules: [
                {
                    host: ingress.host,
                    http: { paths: [path(UI_PATH, KIND_UI_OBJECTS.ui), path("/v2", KIND_UI_OBJECTS.api)] },
                },
            ],
        },
    };
    const workload = { namespace, labels: ui$.labels, selector: ui$.selector };
    return [
        ...(ingress.createNamespace ? [namespaceObject] : []),
        renderUiDeployment({
            ...workload,
            image: ui.image,
            host: origin,
            scheme: "http",
            deleteEnabled: ui.deleteEnabled,
            servesPrefix: true,
        }),
        renderUiService(workload),
        apiService,
        ingressObject,
    ];
}

/** The Ingress's annotations: the provider does not wait for an address (a kind cluster's controller publishes none). */
const KIND_UI_INGRESS_ANNOTATIONS = { "pulumi.com/skipAwait": "true" } as const;
