/**
 * The Maven repository's backend: nginx with its WebDAV module (Debian's and the official image's
 * builds carry it), which stores a `PUT` as a file and serves files on GET/HEAD. That is all a Maven
 * repository is: `mvn deploy` PUTs the artifact, its POM, `maven-metadata.xml` and their checksums,
 * and resolvers GET them back. The front (the access policy's Caddyfile) decides who may do what;
 * nginx listens where only the front reaches it and allows nothing but GET, HEAD and PUT.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */

/** Facts of the Maven backend shared by both placements, the policy and the tests. */
export const MAVEN_BACKEND = {
    /** Port nginx listens on inside the registry pod. */
    port: 5002,
    /**
     * Directory of the unix socket nginx listens on inside its container on the external host
     * (bind-mounted from the host's `mavenSocketDir`): the front reaches it there, nothing else can.
     */
    socketDir: "/run/dso-maven-socket",
    /** The socket's file name in `socketDir`. */
    socketName: "maven.sock",
    /** Directory that holds the repositories (one folder per path prefix) inside the nginx container. */
    dataDir: "/var/lib/maven",
    /** Directory of the rendered nginx.conf inside the nginx container. */
    configDir: "/etc/dso-registry/maven",
    /** Writable directory for nginx's pid file and request-body spool (an emptyDir in the pod). */
    runDir: "/run/dso-maven",
} as const;

export interface MavenNginxSpec {
    /** `host:port` nginx listens on ("127.0.0.1:5002"), or `unix:` and a socket's absolute path ("unix:/run/dso-maven-socket/maven.sock"). */
    readonly listen: string;
    /** The repository's path, as in `mavenRegistry.pathPrefix` (e.g. "maven-releases"). */
    readonly pathPrefix: string;
    /** Directory under which `<pathPrefix>/…` files are stored. */
    readonly dataDir: string;
    /** Writable directory for the pid file and temporary request bodies. */
    readonly runDir: string;
    /**
     * Where uploads are spooled before nginx moves them into place; `runDir/client-body` when unset.
     * On the data's own filesystem the move is a rename, not a copy (the external host does that).
     */
    readonly uploadTempDir?: string;
}

const PATH_SEGMENTS = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** Why a backend config cannot be rendered, or undefined. Exported for table-driven tests. */
export function mavenBackendProblem(c: MavenNginxSpec): string | undefined {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(c.listen) && !/^unix:\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(c.listen)) {
        return `listen "${c.listen}" must be "host:port" (e.g. "127.0.0.1:5002") or "unix:" and an absolute path (e.g. "unix:/run/dso-maven-socket/maven.sock")`;
    }
    if (!PATH_SEGMENTS.test(c.pathPrefix) || c.pathPrefix.split("/").some((s) => s === "." || s === "..")) {
        return `pathPrefix "${c.pathPrefix}" must be path segments of letters, digits, ".", "_" and "-" (e.g. "maven-releases")`;
    }
    for (const [key, dir] of [
        ["dataDir", c.dataDir],
        ["runDir", c.runDir],
        ["uploadTempDir", c.uploadTempDir ?? c.runDir],
    ] as const) {
        if (!/^\/[A-Za-z0-9._/-]*$/.test(dir)) return `${key} "${dir}" must be an absolute path of letters, digits, ".", "_", "-" and "/"`;
    }
    return undefined;
}

/**
 * nginx.conf for the Maven backend. It runs in the foreground as whatever user starts it (non-root in
 * the pod), logs to stderr, keeps every temporary file under `runDir`, and stores uploads under
 * `dataDir/<pathPrefix>/`. Uploads of any size are accepted (the front has no limit either); a file
 * that exists is replaced, as `maven-metadata.xml` must be on every deploy.
 */
export function renderMavenNginxConfig(c: MavenNginxSpec): string {
    const problem = mavenBackendProblem(c);
    if (problem) throw new Error(`renderMavenNginxConfig: ${problem}`);
    const run = c.runDir.replace(/\/+$/, "");
    return [
        "# Managed by dso-registry: changes here are overwritten. See docs/maven.md.",
        "daemon off;",
        "worker_processes 1;",
        `pid ${run}/nginx.pid;`,
        "error_log stderr warn;",
        "events {",
        "    worker_connections 512;",
        "}",
        "http {",
        "    access_log off;",
        "    server_tokens off;",
        "    sendfile on;",
        // Every temporary path nginx may use, so a non-root nginx with a read-only root filesystem starts.
        `    client_body_temp_path ${c.uploadTempDir?.replace(/\/+$/, "") ?? `${run}/client-body`};`,
        `    proxy_temp_path ${run}/proxy;`,
        `    fastcgi_temp_path ${run}/fastcgi;`,
        `    uwsgi_temp_path ${run}/uwsgi;`,
        `    scgi_temp_path ${run}/scgi;`,
        "    types {",
        "        application/xml xml pom;",
        "        application/java-archive jar war ear;",
        "        text/plain md5 sha1 sha256 sha512 asc;",
        "    }",
        "    default_type application/octet-stream;",
        "    server {",
        `        listen ${c.listen};`,
        "        client_max_body_size 0;",
        "        location / {",
        "            return 404;",
        "        }",
        `        location /${c.pathPrefix}/ {`,
        `            root ${c.dataDir};`,
        "            dav_methods PUT;",
        "            create_full_put_path on;",
        "            dav_access user:rw group:r all:r;",
        // A person browsing the repository sees its folders; Maven itself never lists.
        "            autoindex on;",
        "            limit_except GET HEAD PUT {",
        "                deny all;",
        "            }",
        "        }",
        "    }",
        "}",
        "",
    ].join("\n");
}
