/**
 * The Caddy a front test runs: the pinned one (`registry.caddyImage`'s version), which every placement's
 * front runs (the external host's container, the in-cluster sidecar, kind's front), built from its Go
 * module by `tools/engine/build.sh --caddy` (cached; nothing is built when warm, and nothing else is
 * built). Under `npm test`, which builds nothing, Debian's Caddy stands in for it
 * (test/support/testBinaries.ts), and the run says so first.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { caddySet } from "./pulumiEngine";
import { debianStandIns } from "./testBinaries";

/**
 * Debian's Caddy (2.6.2, /usr/bin/caddy), which no placement's front runs, on a copy of its Caddyfile without
 * the lines only the pinned Caddy reads (the body idle timeouts: test/support/caddy-stand-in.sh): it stands in
 * for the pinned one under `npm test`, and a test may run it where it plays a server the program does not run.
 */
export const DEBIAN_CADDY_STAND_IN = path.join(__dirname, "caddy-stand-in.sh");

/**
 * `caddyfile` without the lines only the pinned Caddy reads, as caddy-stand-in.sh gives Debian's Caddy: for a
 * test that runs Debian's Caddy where the script cannot be reached (as another user than the checkout's).
 */
export function withoutPinnedOnlyLines(caddyfile: string): string {
    return caddyfile
        .replace(/^[ \t]*(read_body_idle|write_max_chunk) .*\n/gm, "")
        .replace(/^([ \t]*)timeouts \{\n[ \t]*read_timeout .*\n\1\}\n/gm, "");
}

/** The pinned Caddy (tools/engine/caddy): every placement's front; Debian's stands in under `npm test`. */
export function pinnedCaddy(): string {
    return debianStandIns() ? DEBIAN_CADDY_STAND_IN : path.join(caddySet(), "bin", "caddy");
}

let previous: string | undefined;

/**
 * The Caddy the front ran in the last release that landed (tools/caddy-previous), built on the first call:
 * the upgrade test's front before this release moves it to the pinned one.
 */
export function previousCaddy(): string {
    if (!previous) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/caddy-previous/build.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/caddy-previous/build.sh failed (exit ${build.status ?? build.signal})`);
        previous = path.join(build.stdout.trim().split("\n").at(-1) as string, "caddy");
    }
    return previous;
}

/** The version of the previous Caddy (its wrapper's requirement), as its image's tag names it: "2.8.4". */
export function previousCaddyVersion(): string {
    const mod = readFileSync(path.join(__dirname, "../../tools/caddy-previous/go.mod"), "utf8");
    const version = /^require github\.com\/caddyserver\/caddy\/v2 v(\S+)$/m.exec(mod)?.[1];
    if (!version) throw new Error("tools/caddy-previous/go.mod requires no github.com/caddyserver/caddy/v2");
    return version;
}
