/** What both placements read of `registry.maintenance.backup` once it is on: its schedule, what it keeps, and the repository password. */
import type { StackConfig } from "../config";
import { secret } from "./secret";

/** The settings every placement's backups share, with the repository password (the secret `backupRepositoryPassword`). */
export function backupCommon(cfg: StackConfig, backup: { readonly schedule: string; readonly keep: number }) {
    return { schedule: backup.schedule, keep: backup.keep, repositoryPassword: secret(cfg, "backupRepositoryPassword") };
}
