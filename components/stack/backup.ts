/** What both placements read of `registry.maintenance.backup`, and the one way they treat a destination the rules should have refused. */
import type { StackConfig } from "../config";
import { secret } from "./secret";

/** The backup settings when backups are on with a destination, or none; with the repository password both placements need. */
export function backupSettings(cfg: StackConfig) {
    const b = cfg.registry.maintenance.backup;
    const d = b.destination;
    if (!b.enabled || !d) return undefined;
    return {
        settings: b,
        destination: d,
        common: { schedule: b.schedule, keep: b.keep, repositoryPassword: secret(cfg, "backupRepositoryPassword") },
    };
}

/**
 * A destination the config rules (components/config/rules.ts, backupProblems) let through but the
 * placement cannot use: a defect of the program, never silently no backup.
 */
export function destinationNotValidated(placement: string, destination: { readonly kind: string }): Error {
    return new Error(
        `registry.maintenance.backup.destination (kind "${destination.kind}") passed the config check but is not complete for the ${placement}; the program is at fault`,
    );
}
