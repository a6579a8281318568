/**
 * A client that asks the registry for a manifest without pause, from a node of a real cluster
 * (test/support/kubeNode.ts), to measure what a rollout leaves unanswered: until stopped, a GET of the URL
 * (OCI and Docker manifests accepted) with the stack's CA, at most 2 s each, 200 ms apart; each probe's
 * start and end (ms since the epoch) and the HTTP status (000: no answer) are kept.
 *
 * Usage:
 *   const probe = startNodeProbe(cluster, scratch, "rollout", url, "/root/push-certs/ca.crt");
 *   ...; await probe.stop(); probe.probes();
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { RealCluster } from "./kubeNode";

/** One probe: when it began and ended (ms since the epoch) and the HTTP status ("000": no answer). */
export interface Probe {
    readonly began: number;
    readonly ended: number;
    readonly code: string;
}

const PROBE = `#!/bin/sh
set -u
url=$1 ca=$2 results=$3 stop=$4
while [ ! -e "$stop" ]; do
  began=$(date +%s%3N)
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$ca" \\
    -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' "$url")
  echo "$began $(date +%s%3N) $code" >> "$results"
  sleep 0.2
done
`;

export interface NodeProbe {
    /** Every probe so far, in order. */
    probes(): Probe[];
    /** Stops the probe after the one under way. */
    stop(): Promise<void>;
}

/** Starts the probe of `url` on the cluster's node, its files under `scratch` named after `label`. */
export function startNodeProbe(cluster: RealCluster, scratch: string, label: string, url: string, caFile: string): NodeProbe {
    const script = path.join(scratch, "probe.sh");
    const results = path.join(scratch, `probes-${label}`);
    const stopFile = path.join(scratch, `probes-${label}-stop`);
    writeFileSync(script, PROBE, { mode: 0o755 });
    const server = cluster.node.startServer("sh", [script, url, caFile, results, stopFile]);
    return {
        probes: () =>
            existsSync(results)
                ? readFileSync(results, "utf8")
                      .trim()
                      .split("\n")
                      .map((line) => line.split(" "))
                      .map(([began, ended, code]) => ({ began: Number(began), ended: Number(ended), code: code ?? "" }))
                : [],
        async stop() {
            writeFileSync(stopFile, "");
            await server.stop();
        },
    };
}

/** The probes that were not answered 200, and how long from the first one's start to the last one's end (ms). */
export function unanswered(probes: readonly Probe[]): { readonly failed: readonly Probe[]; readonly windowMs: number } {
    const failed = probes.filter((p) => p.code !== "200");
    return {
        failed,
        windowMs: failed.length === 0 ? 0 : Math.max(...failed.map((p) => p.ended)) - Math.min(...failed.map((p) => p.began)),
    };
}
