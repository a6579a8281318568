/**
 * The kind placement's disk guard (`registry.diskGuard`, docs/runbooks.md "Disk full"): busybox crond in
 * the upkeep container runs the check every placement runs (../upkeep/sh/disk-guard.sh) on
 * Distribution's storage (`<kind.dataDir>/images`, mounted read-only there), and keeps a marker in
 * `<kind.dataDir>/window` while its file system is used past `refusePercent`. The front mounts that directory
 * read-only and answers new blob uploads 507 while the marker exists (`AccessPolicy.diskFullSignal`).
 *
 * Pure: no Pulumi, no I/O.
 */
import * as path from "node:path";
import { renderShellScript } from "../shared/shellScript";
import { KIND_DISK_FULL_MARKER, MAINTENANCE_IMAGES, WATCHER_BIN } from "./scripts";

export { KIND_DISK_FULL_MARKER } from "./scripts";

/** Every five minutes, as the external host's cron job (the refusal's message says "within five minutes"). */
export const KIND_DISK_GUARD_SCHEDULE = "*/5 * * * *";

/** The disk guard on the Docker host. */
export interface KindDiskGuard {
    /** New uploads are refused past this percentage used (`registry.diskGuard.refusePercent`). */
    readonly refusePercent: number;
    /**
     * Five-field cron schedule of the check, in the upkeep container's clock.
     * @default "*\/5 * * * *"
     */
    readonly schedule?: string;
}

/** The check (`sh/disk-guard.sh`), as the upkeep container sees its files. */
export function kindDiskGuardScript(guard: KindDiskGuard): string {
    return renderShellScript(path.join(__dirname, "sh", "disk-guard.sh"), {
        DATA_DIR: MAINTENANCE_IMAGES,
        MARKER: KIND_DISK_FULL_MARKER,
        REFUSE_PERCENT: guard.refusePercent,
    });
}

/** Its line in the upkeep container's crontab, its output in the container's log. */
export function kindDiskGuardCrontab(guard: KindDiskGuard): string {
    return `${guard.schedule ?? KIND_DISK_GUARD_SCHEDULE} /bin/sh ${WATCHER_BIN}/disk-guard.sh >/proc/1/fd/1 2>&1\n`;
}
