/**
 * The web UI's settings (joxit/docker-registry-ui reads them from its environment), the same in both
 * placements: one registry, the same origin as the registry's API (no CORS), titled with the host name
 * people pull from, each image's tag count on the catalog page, content digests shown, and the delete
 * button only where the registry accepts DELETE (docs/deletes-and-gc.md). Only where nginx listens in
 * the container differs: its default port 80 on the external host (published on loopback), a port of
 * the pod's own in the cluster.
 */

/** What the UI's environment is made from. */
export interface UiEnvironmentOptions {
    /** The registry's host name, as clients write it in image references: the page's title. */
    readonly registryHost: string;
    /** Offer a delete button. */
    readonly deleteEnabled: boolean;
    /** Where the UI's nginx listens inside its container; the image's default (80) when unset. */
    readonly listenPort?: number;
}

/** The UI container's environment, as name and value pairs in a fixed order. */
export function uiEnvironment(options: UiEnvironmentOptions): { name: string; value: string }[] {
    return [
        ...(options.listenPort === undefined ? [] : [{ name: "NGINX_LISTEN_PORT", value: String(options.listenPort) }]),
        { name: "SINGLE_REGISTRY", value: "true" },
        { name: "REGISTRY_TITLE", value: options.registryHost },
        { name: "DELETE_IMAGES", value: String(options.deleteEnabled) },
        { name: "SHOW_CONTENT_DIGEST", value: "true" },
        { name: "SHOW_CATALOG_NB_TAGS", value: "true" },
    ];
}
