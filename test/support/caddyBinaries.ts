/**
 * The Caddy a front test runs: the pinned one (`registry.caddyImage`'s version), which every placement's
 * front runs (the external host's container, the in-cluster sidecar, kind's front), built from its Go
 * module by `tools/engine/build.sh --caddy` (cached; nothing is built when warm, and nothing else is
 * built). Under `npm test`, which builds nothing, Debian's Caddy stands in for it
 * (test/support/testBinaries.ts), and the run says so first.
 */
import * as path from "node:path";
import { caddySet } from "./pulumiEngine";
import { debianStandIns } from "./testBinaries";

/**
 * Debian's Caddy (2.6.2): no placement's front runs it. It stands in for the pinned one under `npm test`,
 * and a test may run it where it plays a server the program does not run (say so there).
 */
export const DEBIAN_CADDY = "/usr/bin/caddy";

/** The pinned Caddy (tools/engine/caddy): every placement's front; Debian's stands in under `npm test`. */
export function pinnedCaddy(): string {
    return debianStandIns() ? DEBIAN_CADDY : path.join(caddySet(), "bin", "caddy");
}
