/**
 * Monitoring on the external host (docs/monitoring.md): prometheus-node-exporter on loopback with its
 * textfile collector, the job reporter the upkeep scripts run through, the certificate-and-disk probe
 * every five minutes, and the files for the host's Prometheus: the scrape file (every listener is on
 * loopback) and the alert rules (components/monitoring/alertRules.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { renderRulesFile } from "../monitoring/alertRules";
import { JOB_METRICS, renderHostScrapeConfig, TEXTFILE_DIR } from "../monitoring/jobMetrics";
import { METRICS_PORTS } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { type HostConnection, HostFile, hostCommand, privileged } from "../shared/hostAccess";
import { HostFilesCheck } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
import type { JobReporting } from "../upkeep/reporting";
import { METRICS_RELAY_CONTAINER } from "./metricsRelay";
import { type HostLayout, hostScript, REGISTRY_CONTAINER } from "./scripts";

/** Where monitoring's files go on the host. */
export function monitoringPaths(layout: HostLayout) {
    return {
        reporter: `${layout.binDir}/dso-registry-report`,
        probe: `${layout.binDir}/dso-registry-metrics`,
        cronFile: `${layout.cronFile}-metrics`,
        prometheusDir: `${layout.registryConfigDir}/prometheus`,
        rulesFile: `${layout.registryConfigDir}/prometheus/dso-registry.rules.yml`,
        scrapeFile: `${layout.registryConfigDir}/prometheus/dso-registry.scrape.yml`,
        textfileDir: TEXTFILE_DIR,
    };
}

/** How the host's jobs report, for the scripts that run through the reporter. */
export function hostReporting(layout: HostLayout): JobReporting {
    return { reporter: monitoringPaths(layout).reporter };
}

/** The job reporter (dso-registry-report.sh) with the series names it writes. */
export function reporterScript(): string {
    return hostScript("dso-registry-report.sh", {
        TEXTFILE_DIR,
        LAST_RUN: JOB_METRICS.lastRun,
        LAST_SUCCESS: JOB_METRICS.lastSuccess,
        SUCCESS: JOB_METRICS.success,
        DURATION: JOB_METRICS.duration,
        BYTES_FREED: JOB_METRICS.bytesFreed,
        BYTES: JOB_METRICS.bytes,
    });
}

/** What the certificate-and-disk probe looks at. */
export interface ProbeTarget {
    /** The registry's name and HTTPS port, asked on the host's loopback. */
    readonly host: string;
    readonly port: number;
    /** The certificate file the front serves (generated or provided), read when the front does not answer; "" with ACME. */
    readonly certFile: string;
    /** The data directory ("" with s3 storage). */
    readonly dataDir: string;
}

/** The certificate-and-disk probe (dso-registry-metrics.sh), which also starts a stopped metrics relay again. */
export function probeScript(t: ProbeTarget): string {
    return hostScript("dso-registry-metrics.sh", {
        TEXTFILE_DIR,
        HOST: t.host,
        PORT: t.port,
        CERT_FILE: t.certFile,
        DATA_DIR: t.dataDir,
        NOT_AFTER: JOB_METRICS.certificateNotAfter,
        PROBE: JOB_METRICS.certificateProbe,
        FREE: JOB_METRICS.dataFree,
        SIZE: JOB_METRICS.dataSize,
        RELAY_NAME: METRICS_RELAY_CONTAINER,
        REGISTRY_NAME: REGISTRY_CONTAINER,
    });
}

/** node_exporter on loopback with the textfile collector; installed when missing and `install`. */
export function nodeExporterScript(install: boolean): string {
    return hostScript("node-exporter.sh", {
        INSTALL: install,
        LISTEN: `127.0.0.1:${METRICS_PORTS.nodeExporter}`,
        TEXTFILE_DIR,
    });
}

/** /etc/cron.d file that runs the probe every five minutes (root, output to syslog). */
export function probeCronFile(probe: string): string {
    return [
        "# Managed by dso-registry: the certificate's expiry and the free disk as metrics. See docs/monitoring.md.",
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        `*/5 * * * * root ${probe} 2>&1 | logger -t dso-registry-metrics`,
        "",
    ].join("\n");
}

export interface HostMonitoringArgs {
    readonly connection: HostConnection;
    readonly layout: HostLayout;
    /** Install prometheus-node-exporter when it is missing (`externalHost.installPackages`). */
    readonly installPackages: boolean;
    readonly probe: ProbeTarget;
    /** Backups are scheduled, pull-through caches run: their alerts are wanted. */
    readonly backup: boolean;
    readonly caches: boolean;
    /** `registry.monitoring.runbookBaseUrl`. */
    readonly runbookBaseUrl: string;
    /** With a rotation by age, when the generated passwords' next period begins (Unix seconds): an alert past it. */
    readonly passwordsRotationDue?: number;
    /** The disk guard's thresholds for the alerts (`AlertRulesSpec.diskGuard`); the alert at 10% free when unset. */
    readonly diskGuard?: { readonly warnPercent: number; readonly refusing: boolean };
    /** The disk guard on the Maven data directory (`AlertRulesSpec.mavenDiskGuard`): an alert while it refuses deploys; none when unset. */
    readonly mavenDiskGuard?: { readonly refusePercent: number };
}

const HOST_MONITORING_TYPE = typeToken("externalHost", "HostMonitoring");

/** The exporter, the reporter, the probe and its schedule, and the Prometheus files; all removed on destroy but the package. */
export class HostMonitoring extends pulumi.ComponentResource {
    /** The reporter and the probe: the jobs that run through them depend on these. */
    readonly scripts: pulumi.Resource[];

    constructor(name: string, args: HostMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super(HOST_MONITORING_TYPE, name, {}, withFormerType(opts, "dso:externalHost:HostMonitoring"));
        const { connection, layout } = args;
        const paths = monitoringPaths(layout);
        /** Every file as placed: read back at each refresh (HostFilesCheck). */
        const checked: { path: string; mode: string; content: string }[] = [];
        const placed: pulumi.Resource[] = [];
        const file = (role: string, path: string, mode: string, content: string, dependsOn: pulumi.Resource[] = []) => {
            checked.push({ path, mode, content });
            const placedFile = new HostFile(`${name}-${role}`, { connection, path, mode, content }, { parent: this, dependsOn });
            placed.push(placedFile);
            return placedFile;
        };
        const exporter = hostCommand(
            `${name}-node-exporter`,
            {
                connection,
                create: privileged(nodeExporterScript(args.installPackages), connection.sudo),
                delete: privileged('echo "prometheus-node-exporter is left installed"', connection.sudo),
            },
            { parent: this },
        );
        const reporter = file("reporter", paths.reporter, "0755", reporterScript(), [exporter]);
        const probe = file("probe", paths.probe, "0755", probeScript(args.probe), [exporter]);
        file("probe-cron", paths.cronFile, "0644", probeCronFile(paths.probe), [probe]);
        file(
            "rules",
            paths.rulesFile,
            "0644",
            renderRulesFile({
                placement: { kind: "external-host", backup: args.backup, caches: args.caches, dataDisk: args.probe.dataDir !== "" },
                runbookBaseUrl: args.runbookBaseUrl,
                passwordsRotationDue: args.passwordsRotationDue,
                ...(args.diskGuard ? { diskGuard: args.diskGuard } : {}),
                ...(args.mavenDiskGuard ? { mavenDiskGuard: args.mavenDiskGuard } : {}),
            }),
        );
        file("scrape", paths.scrapeFile, "0644", renderHostScrapeConfig());
        // The scripts run as they are at each use, and Prometheus reads the rules and scrape files at its next reload: nothing follows a repair.
        new HostFilesCheck(`${name}-files-check`, { connection, files: checked }, { parent: this, dependsOn: placed });
        this.scripts = [reporter, probe];
        this.registerOutputs({});
    }
}
