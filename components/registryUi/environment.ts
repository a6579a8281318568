/**
 * The web UI's settings (joxit/docker-registry-ui 2.x reads them from its environment), the same in
 * every placement: one registry, on the same origin as the registry's API (no CORS, no proxy of its
 * own), titled with the host name people pull from, each image's tag count on the catalog page,
 * content digests shown, and the delete button only where the registry accepts DELETE
 * (docs/deletes-and-gc.md). Only where nginx listens in the container differs: its default port 80 on
 * the external host (published on loopback) and beside kind's front, a port of the UI's own Deployment in
 * the cluster.
 */

/**
 * The most repositories the UI asks the catalog for in one request (`/v2/_catalog?n=`). Distribution
 * 2.8 refuses a larger `n` than its `catalog.maxentries` (1000 by default) with 400, and the UI's own
 * default (100000) would leave its catalog page empty with an error.
 */
export const UI_CATALOG_LIMIT = 1000;

/** Where the UI is served on the registry's origin (the Ingress's path, Caddy's route on the external host). */
export const UI_PATH = "/registry/";

/** What the UI's environment is made from. */
export interface UiEnvironmentSpec {
    /** The registry's host name (with a port unless 443), as clients write it in image references: the page's title and the origin it calls. */
    readonly registryHost: string;
    /** Offer a delete button. */
    readonly deleteEnabled: boolean;
    /** Where the UI's nginx listens inside its container; the image's default (80) when unset. */
    readonly listenPort?: number;
    /** How the browser reaches the registry's origin: https unless a placement serves plain HTTP (kind). */
    readonly scheme?: "https" | "http";
}

/** The UI container's environment, as name and value pairs in a fixed order. */
export function uiEnvironment(options: UiEnvironmentSpec): { name: string; value: string }[] {
    return [
        ...(options.listenPort === undefined ? [] : [{ name: "NGINX_LISTEN_PORT", value: String(options.listenPort) }]),
        // Served under UI_PATH, the UI would otherwise call <origin>/registry/v2/…: the API is at the origin's /v2/.
        { name: "REGISTRY_URL", value: `${options.scheme ?? "https"}://${options.registryHost}` },
        { name: "SINGLE_REGISTRY", value: "true" },
        { name: "REGISTRY_TITLE", value: options.registryHost },
        { name: "DELETE_IMAGES", value: String(options.deleteEnabled) },
        { name: "SHOW_CONTENT_DIGEST", value: "true" },
        { name: "SHOW_CATALOG_NB_TAGS", value: "true" },
        { name: "CATALOG_ELEMENTS_LIMIT", value: String(UI_CATALOG_LIMIT) },
    ];
}
