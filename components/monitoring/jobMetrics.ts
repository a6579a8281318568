/**
 * The series the program's own jobs write (node_exporter's textfile collector on the external host),
 * and the scrape jobs of the host's metrics listeners. One home for each name: the rules
 * (./alertRules.ts), the scripts' parameters and the status script read them from here.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import { stringify } from "yaml";
import { METRICS_PORTS } from "../shared/facts";

/**
 * Series names. The upkeep series carry a `task` label ("gc", "verify", "backup", "restore",
 * "cache-prune"), never `job`, which Prometheus gives the scrape job.
 */
export const JOB_METRICS = {
    /** Unix time of the last run's end, whatever its result. */
    lastRun: "dso_registry_upkeep_last_run_timestamp_seconds",
    /** Unix time of the last successful run's end (kept across failed runs). */
    lastSuccess: "dso_registry_upkeep_last_success_timestamp_seconds",
    /** 1 when the last run succeeded, 0 when it failed. */
    success: "dso_registry_upkeep_success",
    /** How long the last run took. */
    duration: "dso_registry_upkeep_duration_seconds",
    /** What the last run freed (gc, cache-prune): the measured directory's size before minus after. */
    bytesFreed: "dso_registry_upkeep_bytes_freed",
    /** The size of what the last run covered (backup, restore: the data directory). */
    bytes: "dso_registry_upkeep_bytes",
    /** The certificate the front serves: its notAfter, and whether the hourly probe could read it. */
    certificateNotAfter: "dso_registry_certificate_not_after_timestamp_seconds",
    certificateProbe: "dso_registry_certificate_probe_success",
    /**
     * The data directory's file system: free (available) and total bytes, and used (total minus free: what
     * the disk guard and the alerts call used). The registry pod reports them too, for its data volume.
     */
    dataFree: "dso_registry_data_free_bytes",
    dataSize: "dso_registry_data_size_bytes",
    dataUsed: "dso_registry_data_used_bytes",
    /** The same three of the Maven repository's file system (the registry pod's Maven volume). */
    mavenFree: "dso_registry_maven_free_bytes",
    mavenSize: "dso_registry_maven_size_bytes",
    mavenUsed: "dso_registry_maven_used_bytes",
    /** 1 while the disk guard refuses new uploads (its marker exists), 0 otherwise. */
    diskGuardRefusing: "dso_registry_disk_guard_refusing",
    /**
     * 1 while the disk guard refuses Maven deploys (the Maven directory's marker exists), 0 otherwise. A series
     * of its own, not a label on the one above: every query of that one keeps meaning the registry's uploads.
     */
    mavenDiskGuardRefusing: "dso_registry_maven_disk_guard_refusing",
    /** Each pull-through cache's size and limit (label `cache`), written by the hourly prune. */
    cacheSize: "dso_registry_cache_size_bytes",
    cacheLimit: "dso_registry_cache_limit_bytes",
    /** Tag retention's last run (label `mode`, "dry-run" or "apply"): what it removed, selected and kept, and when it ended. */
    retentionRemoved: "dso_registry_retention_removed_tags",
    retentionCandidates: "dso_registry_retention_candidate_tags",
    retentionKept: "dso_registry_retention_kept_tags",
    retentionLastRun: "dso_registry_retention_last_run_timestamp_seconds",
} as const;

/** The scrape jobs of the host's scrape file. */
export const SCRAPE_JOBS = {
    distribution: "dso-registry-distribution",
    caddy: "dso-registry-caddy",
    node: "dso-registry-node",
} as const;

/** Debian's prometheus-node-exporter reads its textfile collector's files from here. */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

/**
 * A `scrape_configs` file for a Prometheus on the host (every listener is on loopback), or for
 * `scrape_config_files`: Distribution, Caddy and node_exporter.
 */
export function renderHostScrapeConfig(ports: { readonly [K in keyof typeof METRICS_PORTS]: number } = METRICS_PORTS): string {
    const host = "127.0.0.1";
    const job = (name: string, port: number) => ({ job_name: name, static_configs: [{ targets: [`${host}:${port}`] }] });
    return `# Managed by dso-registry: the registry's metrics on the host's loopback. See docs/monitoring.md.\n${stringify(
        {
            scrape_configs: [
                job(SCRAPE_JOBS.distribution, ports.distribution),
                job(SCRAPE_JOBS.caddy, ports.caddy),
                job(SCRAPE_JOBS.node, ports.nodeExporter),
            ],
        },
        { lineWidth: 0 },
    )}`;
}
