/**
 * What the kind placement's upkeep container (busybox crond, the watcher's image) runs: scheduled
 * garbage collection (`gc.sh`, with tag retention and, with retention by last pull, the pull history's
 * harvest) and the disk guard (./diskGuard.ts), each when it is on, from one crontab. Without either there
 * is no upkeep container.
 *
 * Pure: no Pulumi, no I/O.
 */
import { fingerprint } from "../shared/fingerprint";
import { type KindDiskGuard, kindDiskGuardCrontab, kindDiskGuardScript } from "./diskGuard";
import {
    gcScript,
    type KindGarbageCollection,
    type KindLayout,
    kindPaths,
    kindPullHarvestScript,
    kindRetentionScript,
    upkeepCrontab,
} from "./scripts";

/** One of the upkeep container's files in `kind.dataDir`: its role (the HostFile's name suffix), path and text. */
export interface KindUpkeepFile {
    readonly id: string;
    readonly path: string;
    readonly content: string;
}

/** The upkeep container's files and their fingerprint (`KindFileDigests.upkeep`); undefined when nothing is on. */
export function kindUpkeep(
    layout: KindLayout,
    gc: KindGarbageCollection | undefined,
    diskGuard: KindDiskGuard | undefined,
): { readonly files: readonly KindUpkeepFile[]; readonly digest: string; readonly keepsPulls: boolean } | undefined {
    if (!gc && !diskGuard) return undefined;
    const p = kindPaths(layout);
    const script = gc ? gcScript(layout, gc) : "";
    const crontab = `${gc ? upkeepCrontab(gc) : ""}${diskGuard ? kindDiskGuardCrontab(diskGuard) : ""}`;
    const retention = gc?.retention ? kindRetentionScript(gc.retention) : "";
    const guard = diskGuard ? kindDiskGuardScript(diskGuard) : "";
    const harvest = kindPullHarvestScript(layout, gc) ?? "";
    return {
        files: [
            ...(gc ? [{ id: "gc-script", path: p.gcScript, content: script }] : []),
            { id: "crontab", path: p.crontab, content: crontab },
            ...(retention ? [{ id: "retention-script", path: p.retentionScript, content: retention }] : []),
            ...(harvest ? [{ id: "pull-harvest-script", path: p.pullHarvestScript, content: harvest }] : []),
            ...(guard ? [{ id: "disk-guard-script", path: p.diskGuardScript, content: guard }] : []),
        ],
        digest: fingerprint(script, crontab, retention, ...(guard ? [guard] : []), ...(harvest ? [harvest] : [])),
        keepsPulls: harvest !== "",
    };
}
