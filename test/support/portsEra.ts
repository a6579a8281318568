/**
 * The external host's cache commands as the program rendered them before the caches moved from
 * loopback ports to unix sockets, recorded in portsEraCaches.prod.json (see its `_recorded`), for the
 * plan and replay rows "upgrade from ports to sockets".
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { RecordedResource } from "../../tools/mockRuntime";

/** The prod stack's `resources` with each cache command's create, delete and stdin as the ports-era program rendered them. */
export function portsEra(resources: readonly RecordedResource[]): RecordedResource[] {
    const recorded = JSON.parse(readFileSync(path.join(__dirname, "portsEraCaches.prod.json"), "utf8")) as Record<string, object>;
    return resources.map((r) => (recorded[r.name] ? { ...r, rawInputs: { ...r.rawInputs, ...recorded[r.name] } } : r));
}
