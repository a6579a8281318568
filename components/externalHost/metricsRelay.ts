/**
 * The external host's metrics relay: Distribution's debug listener serves Go's default mux (pprof
 * profiles and expvar beside /metrics), so it stays on the registry container's own loopback, and a
 * Caddy container sharing that container's network namespace passes `GET`/`HEAD /metrics` to it and
 * answers everything else 404. The registry container publishes the relay's port on the host's
 * loopback, where Prometheus scrapes it. The cluster does the same with its Caddy sidecar
 * (components/accessPolicy/caddyfile/observability.ts, `metricsSites`).
 */
/** Name of the relay's container. */
export const METRICS_RELAY_CONTAINER = "dso-registry-metrics";

/**
 * Port of Distribution's debug listener on the registry container's loopback: reachable only inside
 * that container's network namespace (Docker publishes to the container's own address, never to its
 * loopback), where the relay runs.
 */
export const DEBUG_LISTENER_PORT = 5090;

/** The directory on the host holding the relay's Caddyfile (under the registry's config directory), mounted read-only into its container. */
export function metricsRelayDir(registryConfigDir: string): string {
    return `${registryConfigDir}/metrics-relay`;
}

export interface MetricsRelay {
    /** Port the relay listens on in the shared network namespace, published on the host's loopback. */
    readonly port: number;
    /** Distribution's debug listener, as the relay reaches it ("127.0.0.1:5090"). */
    readonly upstream: string;
}

/**
 * The relay's Caddyfile: plain HTTP on `port`, no admin API (nothing may change it at run time), only
 * `GET`/`HEAD /metrics` relayed, 404 for any other path or method.
 */
export function renderMetricsRelayCaddyfile(relay: MetricsRelay): string {
    return [
        "# Managed by dso-registry: only Distribution's /metrics leaves its container (docs/monitoring.md).",
        "{",
        "\tadmin off",
        "\tauto_https off",
        "}",
        "",
        `http://:${relay.port} {`,
        "\t@metrics {",
        "\t\tmethod GET HEAD",
        "\t\tpath /metrics",
        "\t}",
        "\t# `route` keeps the order as written: Caddy's own order puts `respond` first.",
        "\troute {",
        `\t\treverse_proxy @metrics ${relay.upstream}`,
        "\t\trespond 404",
        "\t}",
        "}",
        "",
    ].join("\n");
}
