/** The in-cluster Ingress as nginx runs it in tests (ingress-nginx is nginx with directives from annotations). */
import type { K8sObject } from "../../components/shared/k8sObject";

/** nginx directives for the ingress-nginx annotations the component writes on the Ingress. */
export function nginxDirectives(annotations: Record<string, string>): string[] {
    const a = (key: string) => annotations[`nginx.ingress.kubernetes.io/${key}`];
    const directives: string[] = [];
    if (a("proxy-body-size") !== undefined) directives.push(`client_max_body_size ${a("proxy-body-size")};`);
    if (a("proxy-request-buffering")) directives.push(`proxy_request_buffering ${a("proxy-request-buffering")};`);
    if (a("proxy-buffering")) directives.push(`proxy_buffering ${a("proxy-buffering")};`);
    if (a("proxy-read-timeout")) directives.push(`proxy_read_timeout ${a("proxy-read-timeout")}s;`);
    if (a("proxy-send-timeout")) directives.push(`proxy_send_timeout ${a("proxy-send-timeout")}s;`);
    if (a("proxy-connect-timeout")) directives.push(`proxy_connect_timeout ${a("proxy-connect-timeout")}s;`);
    if (a("proxy-http-version")) directives.push(`proxy_http_version ${a("proxy-http-version")};`);
    return directives;
}

/** One location of the "ingress": how ingress-nginx matches an Ingress path, and the directives of its annotations. */
export interface IngressLocation {
    /** "= /v2/token" for an Exact path, "/" for the Prefix "/", `~* "^<path>"` for a path with `use-regex`. */
    readonly match: string;
    readonly directives: readonly string[];
    /** Where this location forwards to; the configuration's `upstream` when unset. */
    readonly upstream?: string;
    /** ingress-nginx's `rewrite-target` (e.g. "/$2"): the path rewritten with the path expression's groups. */
    readonly rewrite?: { readonly pattern: string; readonly target: string };
}

/** A static file server (the UI's own nginx: files at `/`), a server block of the same nginx. */
export interface StaticSite {
    readonly listen: string;
    readonly root: string;
}

/**
 * The locations of a rendered Ingress whose paths are regular expressions (`use-regex`, e.g. the web
 * UI's `/registry(/|$)(.*)` with `rewrite-target: /$2`), as ingress-nginx writes them: a
 * case-insensitive regex location, the rewrite, the annotations' directives. `upstreamOf` names where
 * each backend Service is reached in the test.
 */
export function ingressRegexLocations(ingress: K8sObject, upstreamOf: (service: string) => string): IngressLocation[] {
    const annotations = (ingress.metadata as { annotations?: Record<string, string> }).annotations ?? {};
    if (annotations["nginx.ingress.kubernetes.io/use-regex"] !== "true") throw new Error("the Ingress has no use-regex annotation");
    const target = annotations["nginx.ingress.kubernetes.io/rewrite-target"];
    const spec = ingress.spec as { rules: { http: { paths: { path: string; backend: { service: { name: string } } }[] } }[] };
    return spec.rules.flatMap((r) =>
        r.http.paths.map((p) => ({
            match: `~* "^${p.path}"`,
            directives: nginxDirectives(annotations),
            upstream: upstreamOf(p.backend.service.name),
            ...(target ? { rewrite: { pattern: `(?i)^${p.path}`, target } } : {}),
        })),
    );
}

/**
 * ingress-nginx's rate-limit annotations as its template writes them: a `geo`/`map` pair that gives
 * the networks of `limit-whitelist` an empty key (nginx does not count an empty key), one zone per
 * limit keyed by the client address, and in the location `limit_conn` and `limit_req` with a burst of
 * the rate × `limit-burst-multiplier` (default 5), `nodelay`. Past a limit nginx answers with
 * ingress-nginx's default `limit-req-status-code` / `limit-conn-status-code`, 503.
 */
export function nginxRateLimits(id: string, annotations: Record<string, string>): { http: string[]; location: string[] } {
    const a = (key: string) => annotations[`nginx.ingress.kubernetes.io/${key}`];
    const [rpm, rps, conn] = ["limit-rpm", "limit-rps", "limit-connections"].map((k) => Number(a(k) ?? 0));
    if (!rpm && !rps && !conn) return { http: [], location: [] };
    const multiplier = Number(a("limit-burst-multiplier") ?? 5);
    const whitelist = (a("limit-whitelist") ?? "").split(",").filter((c) => c !== "");
    const http = [
        `geo $remote_addr $whitelist_${id} { default 0; ${whitelist.map((c) => `${c} 1; `).join("")}}`,
        `map $whitelist_${id} $limit_${id} { 0 $binary_remote_addr; 1 ""; }`,
        "limit_req_status 503;",
        "limit_conn_status 503;",
    ];
    const location: string[] = [];
    if (conn) {
        http.push(`limit_conn_zone $limit_${id} zone=${id}_conn:5m;`);
        location.push(`limit_conn ${id}_conn ${conn};`);
    }
    if (rps) {
        http.push(`limit_req_zone $limit_${id} zone=${id}_rps:5m rate=${rps}r/s;`);
        location.push(`limit_req zone=${id}_rps burst=${rps * multiplier} nodelay;`);
    }
    if (rpm) {
        http.push(`limit_req_zone $limit_${id} zone=${id}_rpm:5m rate=${rpm}r/m;`);
        location.push(`limit_req zone=${id}_rpm burst=${rpm * multiplier} nodelay;`);
    }
    return { http, location };
}

/** The locations (and http-level zones) of rendered Ingresses for one host, as ingress-nginx merges them. */
export function ingressLocations(ingresses: readonly K8sObject[]): { http: string[]; locations: IngressLocation[] } {
    const http: string[] = [];
    const locations: IngressLocation[] = [];
    for (const ingress of ingresses) {
        const annotations = (ingress.metadata as { annotations?: Record<string, string> }).annotations ?? {};
        const name = String((ingress.metadata as { name: string }).name).replace(/[^a-z0-9]/g, "_");
        const limits = nginxRateLimits(name, annotations);
        http.push(...limits.http.filter((d) => !http.includes(d)));
        const spec = ingress.spec as { rules: { http: { paths: { path: string; pathType: string }[] } }[] };
        for (const p of spec.rules.flatMap((r) => r.http.paths)) {
            if (p.pathType !== "Prefix" && p.pathType !== "Exact")
                throw new Error(`only Prefix and Exact paths are translated, not ${p.path}`);
            locations.push({
                // A Prefix path is an nginx prefix location (for "/v2/": every path under it).
                match: p.pathType === "Exact" ? `= ${p.path}` : p.path,
                directives: [...limits.location, ...nginxDirectives(annotations)],
            });
        }
    }
    return { http, locations };
}

/**
 * An nginx.conf for an "ingress" at `listen` (TLS with `certFile`/`keyFile`, plain HTTP without them)
 * that forwards everything to `upstream` as ingress-nginx does: the Host header as the client sent it
 * (with its port), X-Forwarded-Proto the scheme the client used.
 * With `staticSites`, plain server blocks that serve files too; with no location at all, only those.
 * Every file nginx writes stays under `dir`.
 */
export function ingressNginxConf(options: {
    readonly dir: string;
    readonly listen: string;
    readonly serverNames: readonly string[];
    readonly certFile?: string;
    readonly keyFile?: string;
    readonly upstream: string;
    /** The directives of the one location "/" (when `locations` is not given). */
    readonly directives?: readonly string[];
    /** Locations of several Ingresses (`ingressLocations`), and their http-level zones. */
    readonly locations?: readonly IngressLocation[];
    readonly http?: readonly string[];
    readonly staticSites?: readonly StaticSite[];
}): string {
    const { dir } = options;
    const locations = options.locations ?? [{ match: "/", directives: options.directives ?? [] }];
    return [
        "daemon off;",
        "master_process off;",
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/nginx-error.log warn;`,
        "events { worker_connections 256; }",
        "http {",
        "  access_log off;",
        "  types { text/html html; application/javascript js; }",
        `  client_body_temp_path ${dir}/nginx-body;`,
        `  proxy_temp_path ${dir}/nginx-proxy;`,
        `  fastcgi_temp_path ${dir}/nginx-fastcgi;`,
        `  uwsgi_temp_path ${dir}/nginx-uwsgi;`,
        `  scgi_temp_path ${dir}/nginx-scgi;`,
        ...(options.http ?? []).map((d) => `  ${d}`),
        ...(locations.length === 0
            ? []
            : [
                  "  server {",
                  ...(options.certFile
                      ? [
                            `    listen ${options.listen} ssl;`,
                            `    ssl_certificate ${options.certFile};`,
                            `    ssl_certificate_key ${options.keyFile};`,
                        ]
                      : [`    listen ${options.listen};`]),
                  `    server_name ${options.serverNames.join(" ")};`,
                  ...locations.flatMap((l) => [
                      `    location ${l.match} {`,
                      ...l.directives.map((d) => `      ${d}`),
                      ...(l.rewrite ? [`      rewrite "${l.rewrite.pattern}" ${l.rewrite.target} break;`] : []),
                      `      proxy_pass http://${l.upstream ?? options.upstream};`,
                      "      proxy_set_header Host $http_host;",
                      "      proxy_set_header X-Forwarded-For $remote_addr;",
                      "      proxy_set_header X-Forwarded-Proto $scheme;",
                      "    }",
                  ]),
                  "  }",
              ]),
        ...(options.staticSites ?? []).flatMap((site) => [
            "  server {",
            `    listen ${site.listen};`,
            `    root ${site.root};`,
            "    location / { index index.html; }",
            "  }",
        ]),
        "}",
        "",
    ].join("\n");
}
