/**
 * What the front tells its operators: the access log (credentials removed) and the metrics listeners
 * (Caddy's own metrics, Distribution's, and the textfile the upkeep jobs write).
 */

import { posix } from "node:path";
import { AUTHORIZATION_LOG_MARKER } from "../loginLimit";
import type { AccessLog, MetricsListener } from "../policy";

/**
 * The access log: JSON with Caddy's own field names, with the credentials a request or an answer may
 * carry removed (Cookie, Set-Cookie; Authorization's value replaced by a marker; the user name stays in
 * `user_id`), rotated.
 * Why: docs/monitoring.md#access-log
 */
export function accessLog(log: AccessLog): string[] {
    const output =
        log.kind === "stdout"
            ? ["\t\toutput stdout"]
            : [`\t\toutput file ${log.path} {`, "\t\t\troll_size 100MiB", "\t\t\troll_keep 10", "\t\t\troll_keep_for 720h", "\t\t}"];
    return [
        "\tlog {",
        ...output,
        "\t\tformat filter {",
        "\t\t\twrap json",
        "\t\t\tfields {",
        // Authorization's value is replaced, not the field removed: its presence tells a refused login
        // from the anonymous challenge (the login limit's filter, loginLimit.ts).
        ...REDACTED_LOG_FIELDS.map((field) =>
            field === "request>headers>Authorization" ? `\t\t\t\t${field} replace ${AUTHORIZATION_LOG_MARKER}` : `\t\t\t\t${field} delete`,
        ),
        "\t\t\t}",
        "\t\t}",
        "\t}",
    ];
}

/** The access log's fields that could hold a credential: removed before the entry is written. */
export const REDACTED_LOG_FIELDS = [
    "request>headers>Authorization",
    "request>headers>Proxy-Authorization",
    "request>headers>Cookie",
    "resp_headers>Set-Cookie",
] as const;

/**
 * The metrics listeners: plain HTTP, bound as the policy says, answering /metrics (and the textfile's
 * path, with one) and nothing else (404). Why not on the site or Caddy's admin API: docs/monitoring.md#metrics
 */
export function metricsSites(m: MetricsListener): string[] {
    const bind = m.bindAddress ? [`\tbind ${m.bindAddress}`] : [];
    // `route` keeps the order as written: Caddy's own order puts `respond` before `metrics`.
    const sites = [
        "",
        `http://:${m.port} {`,
        ...bind,
        ...(m.textfiles ?? []).flatMap((t, i) => textfileMatchers(t, i)),
        "\troute {",
        "\t\tmetrics /metrics",
    ];
    for (const [i, t] of (m.textfiles ?? []).entries()) sites.push(...textfileRoute(t, i));
    sites.push("\t\trespond 404", "\t}", "}");
    if (m.registry) {
        sites.push(
            "",
            `http://:${m.registry.port} {`,
            ...bind,
            "\troute {",
            `\t\treverse_proxy /metrics ${m.registry.upstream}`,
            "\t\trespond 404",
            "\t}",
            "}",
        );
    }
    return sites;
}

/** The version of Prometheus's text format, which the textfiles' writers follow (`MetricsListener.textfiles`). */
export const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Textfile = NonNullable<MetricsListener["textfiles"]>[number];

/** The matchers' names of the `index`th textfile: the first keeps the names it always had. */
const textfileNames = (index: number) => {
    const suffix = index === 0 ? "" : String(index + 1);
    return { served: `@textfile${suffix}`, written: `@textfileWritten${suffix}` };
};

/** The metrics listener's matchers for one textfile: its path, and its path once the file exists. */
function textfileMatchers(t: Textfile, index: number): string[] {
    const names = textfileNames(index);
    const dir = posix.dirname(t.file);
    const name = posix.basename(t.file);
    const request = ["\t\tmethod GET HEAD", `\t\tpath ${t.path}`];
    return [
        `\t${names.served} {`,
        ...request,
        "\t}",
        `\t${names.written} {`,
        ...request,
        "\t\tfile {",
        `\t\t\troot ${dir}`,
        `\t\t\ttry_files /${name}`,
        "\t\t}",
        "\t}",
    ];
}

/**
 * The textfile's route, after /metrics: the file as it is, or an empty answer before it exists (no
 * series, where a 404 would make the scrape target fail), with Prometheus's text format as its type
 * (file_server keeps a Content-Type set before it).
 */
function textfileRoute(t: Textfile, index: number): string[] {
    const names = textfileNames(index);
    return [
        `\t\theader ${names.served} Content-Type "${PROMETHEUS_TEXT_CONTENT_TYPE}"`,
        `\t\thandle ${names.written} {`,
        `\t\t\troot * ${posix.dirname(t.file)}`,
        `\t\t\trewrite * /${posix.basename(t.file)}`,
        "\t\t\tfile_server",
        "\t\t}",
        `\t\trespond ${names.served} 200`,
    ];
}
