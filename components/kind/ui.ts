/**
 * The web UI with registry.mode "kind" (docs/kind.md#the-web-ui): joxit/docker-registry-ui as a container
 * beside the registry's on the Docker host, on the backend network the front shares with Distribution,
 * served by the front at http://localhost:<port>/registry/. The page and the API it calls are one origin
 * (no CORS, whose preflights the registry would answer with 401), the front's policy applies to the UI's
 * requests as to any client's, and the cluster needs no ingress controller, no port mapping and no object
 * of the UI: the UI works before any cluster exists and after one is deleted.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { UI_PATH, uiEnvironment } from "../registryUi/environment";
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
