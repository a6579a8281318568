/** The in-cluster Ingress as nginx runs it in tests (ingress-nginx is nginx with directives from annotations). */

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

/**
 * An nginx.conf for a TLS "ingress" at `listen` that forwards everything to `upstream` as
 * ingress-nginx does: the Host header as the client sent it (with its port), X-Forwarded-Proto https.
 * Every file nginx writes stays under `dir`.
 */
export function ingressNginxConf(options: {
    readonly dir: string;
    readonly listen: string;
    readonly serverNames: readonly string[];
    readonly certFile: string;
    readonly keyFile: string;
    readonly upstream: string;
    readonly directives: readonly string[];
}): string {
    const { dir } = options;
    return [
        "daemon off;",
        "master_process off;",
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/nginx-error.log warn;`,
        "events { worker_connections 256; }",
        "http {",
        "  access_log off;",
        `  client_body_temp_path ${dir}/nginx-body;`,
        `  proxy_temp_path ${dir}/nginx-proxy;`,
        `  fastcgi_temp_path ${dir}/nginx-fastcgi;`,
        `  uwsgi_temp_path ${dir}/nginx-uwsgi;`,
        `  scgi_temp_path ${dir}/nginx-scgi;`,
        "  server {",
        `    listen ${options.listen} ssl;`,
        `    server_name ${options.serverNames.join(" ")};`,
        `    ssl_certificate ${options.certFile};`,
        `    ssl_certificate_key ${options.keyFile};`,
        "    location / {",
        ...options.directives.map((d) => `      ${d}`),
        `      proxy_pass http://${options.upstream};`,
        "      proxy_set_header Host $http_host;",
        "      proxy_set_header X-Forwarded-For $remote_addr;",
        "      proxy_set_header X-Forwarded-Proto https;",
        "    }",
        "  }",
        "}",
        "",
    ].join("\n");
}
