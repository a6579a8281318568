/**
 * The alert rules' placements the monitoring tests share (components/monitoring/alertRules.ts): the
 * external host with backups and caches, and the cluster with every job scheduled, a cache, the
 * certificate probe, cert-manager, and the registry pod's figures of its data volume (filesystem storage
 * with monitoring, as the program renders it).
 */
import type { RulesPlacement } from "../../components/monitoring/alertRules";

export const HOST_PLACEMENT: Extract<RulesPlacement, { kind: "external-host" }> = { kind: "external-host", backup: true, caches: true };

export const CLUSTER_PLACEMENT: Extract<RulesPlacement, { kind: "in-cluster" }> = {
    kind: "in-cluster",
    namespace: "dso",
    deployment: "registry",
    dataClaim: "registry-data",
    gcCronJob: "registry-gc",
    backupCronJob: "registry-backup",
    cacheClaims: ["registry-mirror-docker-io"],
    certificateProbe: "registry-certificate-probe",
    certManager: true,
    diskFigures: { data: true, maven: false },
};
