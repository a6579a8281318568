/**
 * How the upkeep jobs report their outcome on the external host: each script runs itself again through
 * the reporter (components/externalHost/sh/dso-registry-report.sh, sourced piece sh/reported.sh), which
 * leaves when it ended, whether it succeeded, how long it took and what it freed for node_exporter's
 * textfile collector. In the cluster the jobs are Kubernetes Jobs: kube-state-metrics reports them, and
 * the scripts get no reporter.
 */

/** The reporter on the host; no reporting (monitoring off, or the cluster) when a script gets none. */
export interface JobReporting {
    /** Path of the reporter script on the host. */
    readonly reporter: string;
}

/**
 * The parameters of a script that sources sh/reported.sh: the reporter, the script's own path, and the
 * directory whose size the job changes or covers ("" for none).
 */
export function reportingParams(reporting: JobReporting | undefined, self: string, measured = "") {
    return reporting
        ? { REPORTER: reporting.reporter, REPORT_SELF: self, REPORT_MEASURED: measured }
        : { REPORTER: "", REPORT_SELF: "", REPORT_MEASURED: "" };
}
