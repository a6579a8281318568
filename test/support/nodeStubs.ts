/**
 * Stand-ins for a node's `systemctl` and `k3s`, put first on the PATH of the SSH sessions that play a
 * node (test/support/sshServer.ts `pathPrefix`). They log each call under the session's root
 * (`$DSO_ROOT/systemctl.log`, `$DSO_ROOT/k3s.log`) and answer from files a test writes there:
 * - `active-units`: the units `systemctl is-active` reports active, one per line;
 * - `dies-on-restart`: when present, a restart leaves no unit active (a unit that fails to come back);
 * - `node-ready`: what `k3s kubectl get node … -o jsonpath` prints for the node's Ready condition.
 */
import { chmodSync, writeFileSync } from "node:fs";
import * as path from "node:path";

const SYSTEMCTL = [
    "#!/bin/sh",
    'echo "$*" >> "$DSO_ROOT/systemctl.log"',
    'if [ "$1" = is-active ]; then grep -qx "$3" "$DSO_ROOT/active-units" 2>/dev/null; exit $?; fi',
    'if [ "$1" = restart ] && [ -e "$DSO_ROOT/dies-on-restart" ]; then : > "$DSO_ROOT/active-units"; fi',
    "exit 0",
    "",
].join("\n");

const K3S = ["#!/bin/sh", 'echo "$*" >> "$DSO_ROOT/k3s.log"', 'cat "$DSO_ROOT/node-ready" 2>/dev/null', "exit 0", ""].join("\n");

/** Writes the stand-ins into `dir` (made by the caller, removed by it). */
export function writeNodeStubs(dir: string): void {
    for (const [name, text] of [
        ["systemctl", SYSTEMCTL],
        ["k3s", K3S],
    ] as const) {
        writeFileSync(path.join(dir, name), text);
        chmodSync(path.join(dir, name), 0o755);
    }
    chmodSync(dir, 0o755);
}
