/**
 * The two Caddys a front test can run: Debian's (2.6.2, what the external host installs from its
 * distribution) and the pinned one (`registry.caddyImage`'s version, what the in-cluster sidecar and
 * kind's front container run), built from its Go module by tools/engine/build.sh (cached; nothing is
 * built when warm).
 */
import * as path from "node:path";
import { engineSet } from "./pulumiEngine";

/** Debian's Caddy: the external host's front. */
export const DEBIAN_CADDY = "/usr/bin/caddy";

/** The pinned Caddy (tools/engine/caddy): the cluster's and kind's fronts. */
export function pinnedCaddy(): string {
    return path.join(engineSet(), "bin", "caddy");
}
