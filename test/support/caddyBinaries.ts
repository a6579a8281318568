/**
 * The two Caddys a front test can run: Debian's (2.6.2, what the external host installs from its
 * distribution) and the pinned one (`registry.caddyImage`'s version, what the in-cluster sidecar and
 * kind's front container run), built from its Go module by `tools/engine/build.sh --caddy` (cached;
 * nothing is built when warm, and nothing else is built). A test that stands for one placement's front runs that placement's Caddy
 * (`frontCaddy`); a test of a policy every placement renders runs its cases on each (`FRONT_CADDYS`).
 */
import * as path from "node:path";
import { caddySet } from "./pulumiEngine";
import { debianStandIns } from "./testBinaries";

/** Debian's Caddy: the external host's front. */
export const DEBIAN_CADDY = "/usr/bin/caddy";

/** The pinned Caddy (tools/engine/caddy): the cluster's and kind's fronts; Debian's stands in under `npm test`. */
export function pinnedCaddy(): string {
    return debianStandIns() ? DEBIAN_CADDY : path.join(caddySet(), "bin", "caddy");
}

/** A placement whose front is Caddy. */
export type FrontPlacement = "external host" | "in-cluster sidecar" | "kind front";

/** The Caddy a placement's front runs: Debian's on the external host, the pinned one in the cluster and in kind. */
export function frontCaddy(placement: FrontPlacement): string {
    return placement === "external host" ? DEBIAN_CADDY : pinnedCaddy();
}

const ALL_FRONT_CADDYS = [
    { caddy: "Debian's Caddy 2.6.2 (the external host)", binary: (): string => DEBIAN_CADDY },
    { caddy: "pinned Caddy 2.8.4 (the in-cluster sidecar, kind's front)", binary: pinnedCaddy },
] as const;

/**
 * Each Caddy a front runs, with the placements that run it: the rows of a test that runs one policy on
 * every placement's Caddy (`describe.each(FRONT_CADDYS)("… on $caddy", …)`). Under `npm test`, where
 * Debian's Caddy stands in for the pinned one, the one row: the same binary twice would prove nothing more.
 */
export const FRONT_CADDYS: readonly (typeof ALL_FRONT_CADDYS)[number][] = debianStandIns()
    ? ALL_FRONT_CADDYS.slice(0, 1)
    : ALL_FRONT_CADDYS;
