/**
 * The scripts and files the external registry host gets, as pure functions of a typed plan: the
 * package check, the data directory, the registry and UI containers, Caddy's reload, garbage
 * collection, backups, their cron file and the post-deploy check. The components only place and run
 * them; the tests run the very same text over a real SSH session.
 *
 * Every script honours $DSO_ROOT (a prefix for every path it touches; empty on a real host), is
 * idempotent (prints "unchanged" when there is nothing to do) and reads secrets only from files or
 * stdin.
 */
import { REGISTRY_DRAIN_SECONDS } from "../accessPolicy/accessPolicy";
import { collectUnlessEmpty, DISTRIBUTION } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { OPEN_FRONT_WINDOW } from "../shared/frontWindow";
import { shQuote } from "../shared/shQuote";

/** Where things live on the host. Absolute paths; production defaults from `defaultHostLayout`. */
export interface HostLayout {
    /** Registry data (filesystem storage root), bind-mounted into the container. */
    readonly dataDir: string;
    /** Distribution's config directory on the host, mounted read-only into the container. */
    readonly registryConfigDir: string;
    /** Caddy's main config file (Debian's service reads /etc/caddy/Caddyfile). */
    readonly caddyfile: string;
    /** Directory for the users files and TLS files Caddy reads. */
    readonly caddyDir: string;
    /** Directory for the maintenance scripts. */
    readonly binDir: string;
    /** cron file for the maintenance schedules. */
    readonly cronFile: string;
    /** Lock file that serialises maintenance runs and container changes. */
    readonly lockFile: string;
    /** Caddy's data directory (certificates, ACME account); backed up, never written by the program. */
    readonly caddyDataDir: string;
    /** The Maven repository's files (when the host serves Maven), bind-mounted into the nginx container. */
    readonly mavenDataDir: string;
}

/** The production layout around a registry data directory (and the Maven repository's, `externalHost.mavenDataDir`). */
export function defaultHostLayout(dataDir: string, mavenDataDir = "/srv/data/maven"): HostLayout {
    return {
        dataDir,
        mavenDataDir,
        registryConfigDir: DISTRIBUTION.configDir,
        caddyfile: "/etc/caddy/Caddyfile",
        caddyDir: "/etc/caddy/dso-registry",
        binDir: "/usr/local/sbin",
        cronFile: "/etc/cron.d/dso-registry",
        lockFile: "/run/lock/dso-registry.lock",
        // Debian's and Fedora's caddy service runs as user caddy with HOME=/var/lib/caddy.
        caddyDataDir: "/var/lib/caddy/.local/share/caddy",
    };
}

/** Paths derived from the layout, used by both the component and the scripts. */
export function hostPaths(layout: HostLayout) {
    return {
        registryConfig: `${layout.registryConfigDir}/config.yml`,
        registryConfigReadOnly: `${layout.registryConfigDir}/config-readonly.yml`,
        caCert: `${layout.registryConfigDir}/ca.crt`,
        /** The registry container's environment file with the S3 credentials (s3 storage only), mode 0600. */
        storageEnv: `${layout.registryConfigDir}/storage.env`,
        pushUsers: `${layout.caddyDir}/users-push`,
        pullUsers: `${layout.caddyDir}/users-pull`,
        /** The Maven deploy account's users file (the only account that may PUT to the Maven repository). */
        mavenDeployUsers: `${layout.caddyDir}/users-maven-deploy`,
        /** The Maven backend's nginx.conf, in a directory mounted read-only into the nginx container. */
        mavenConfigDir: `${layout.registryConfigDir}/maven`,
        /** Exists only during the read-only window; Caddy answers writes with 503 while it does. */
        readOnlyMarker: `${layout.caddyDir}/read-only`,
        tlsCert: `${layout.caddyDir}/registry.crt`,
        tlsKey: `${layout.caddyDir}/registry.key`,
        gcScript: `${layout.binDir}/dso-registry-gc`,
        backupScript: `${layout.binDir}/dso-registry-backup`,
        statusScript: `${layout.binDir}/dso-registry-status`,
        verifyScript: `${layout.binDir}/dso-registry-verify`,
        restoreScript: `${layout.binDir}/dso-registry-restore`,
    };
}

/** Name of the registry container. */
export const REGISTRY_CONTAINER = "dso-registry";
/** Name of the web UI container. */
export const UI_CONTAINER = "dso-registry-ui";
/** Loopback port the web UI container is published on (Caddy's upstream for the UI). */
export const UI_HOST_PORT = 5080;

/** A container as `docker run` creates it. */
export interface ContainerSpec {
    /** Container name. */
    readonly name: string;
    /** Image reference, tag or digest. */
    readonly image: string;
    /** Loopback port the container is published on (Caddy's upstream). */
    readonly hostPort: number;
    /** Host paths the container mounts and its scripts use. */
    readonly layout: HostLayout;
    /** Where the registry keeps images; the layout's data directory when unset. */
    readonly storage?: ContainerStorage;
}

/**
 * Where the registry container keeps images: the layout's data directory, bind-mounted; or an S3
 * bucket, with nothing mounted and the credentials read by docker from `hostPaths(layout).storageEnv`.
 */
export type ContainerStorage =
    | { readonly kind: "filesystem" }
    | {
          readonly kind: "s3";
          readonly bucket: string;
          /** The object store's endpoint; AWS when unset. */
          readonly endpoint?: string;
      };

/** The S3 credentials as Distribution reads them from its environment. */
export interface S3Credentials {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
}

/**
 * The registry container's environment file (`docker run --env-file`) with the S3 credentials:
 * one `NAME=value` per line, the value taken literally to the end of the line, so a value may hold
 * any character but a line break.
 */
export function renderStorageEnvFile(credentials: S3Credentials): string {
    const entries = [
        ["REGISTRY_STORAGE_S3_ACCESSKEY", credentials.accessKeyId, "s3AccessKeyId"],
        ["REGISTRY_STORAGE_S3_SECRETKEY", credentials.secretAccessKey, "s3SecretAccessKey"],
    ] as const;
    for (const [, value, secret] of entries) {
        if (value === "" || /[\r\n]/.test(value)) {
            throw new Error(
                `the secret dso-registry:${secret} is empty or holds a line break; an S3 key is one line. Set it again with: pulumi config set --secret dso-registry:${secret} < file-with-the-key`,
            );
        }
    }
    return entries.map(([name, value]) => `${name}=${value}\n`).join("");
}

/** `docker run` arguments (without "docker run") for the registry with the given config file name. */
export function dockerRunArgs(spec: ContainerSpec, configFileName: "config.yml" | "config-readonly.yml"): string {
    const storage =
        spec.storage?.kind === "s3"
            ? `--env-file "\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).storageEnv)}`
            : `-v "\${DSO_ROOT:-}"${shQuote(spec.layout.dataDir)}:${DISTRIBUTION.dataDir}`;
    return [
        "-d",
        `--name ${shQuote(spec.name)}`,
        "--restart unless-stopped",
        `-p 127.0.0.1:${spec.hostPort}:${DISTRIBUTION.containerPort}`,
        storage,
        `-v "\${DSO_ROOT:-}"${shQuote(spec.layout.registryConfigDir)}:${DISTRIBUTION.configDir}:ro`,
        shQuote(spec.image),
        `${DISTRIBUTION.configDir}/${configFileName}`,
    ].join(" ");
}

/**
 * Sets `want`, the label the registry container carries: the spec's fingerprint and, with s3
 * storage, a digest of the environment file, so that new credentials recreate the container. The
 * digest is computed on the host: the credentials never appear in a script.
 */
export function wantedLabel(spec: ContainerSpec, specFingerprint: string): string[] {
    return [
        `want=${shQuote(specFingerprint)}`,
        ...(spec.storage?.kind === "s3"
            ? [`want="$want env:$(sha256sum < "\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).storageEnv)} | cut -c1-16)"`]
            : []),
    ];
}

/** Lines that take the maintenance lock (fd 9) for the rest of the script. */
export const LOCK = (layout: HostLayout) => [
    `lock="\${DSO_ROOT:-}"${shQuote(layout.lockFile)}`,
    `mkdir -p "$(dirname "$lock")"`,
    `exec 9>"$lock"`,
    "flock 9",
];

/**
 * Installs Docker, Caddy and cron (and restic, for backups) from the distribution's packages when
 * they are missing (apt or dnf), or, with `install` false, only reports what is missing and fails.
 */
export function packagesScript(install: boolean, restic = false): string {
    return [
        "set -eu",
        "missing=''",
        'command -v docker >/dev/null 2>&1 || missing="$missing docker"',
        'command -v caddy >/dev/null 2>&1 || missing="$missing caddy"',
        'command -v crontab >/dev/null 2>&1 || [ -d "${DSO_ROOT:-}/etc/cron.d" ] || missing="$missing cron"',
        'command -v curl >/dev/null 2>&1 || missing="$missing curl"',
        'command -v flock >/dev/null 2>&1 || missing="$missing flock"',
        ...(restic ? ['command -v restic >/dev/null 2>&1 || missing="$missing restic"'] : []),
        'if [ -z "$missing" ]; then echo "unchanged packages"; exit 0; fi',
        ...(install
            ? [
                  // Package names differ by manager only for Docker; the list is built as "$@" so
                  // that each name stays one word.
                  "if command -v apt-get >/dev/null 2>&1; then manager=apt-get; docker=docker.io",
                  "elif command -v dnf >/dev/null 2>&1; then manager=dnf; docker=docker",
                  'else echo "missing:$missing, and neither apt-get nor dnf is available: install them by hand" >&2; exit 1',
                  "fi",
                  "set --",
                  "for m in $missing; do case $m in",
                  '  docker) set -- "$@" "$docker" ;; flock) set -- "$@" util-linux ;; *) set -- "$@" "$m" ;;',
                  "esac; done",
                  'if [ "$manager" = apt-get ]; then',
                  "  export DEBIAN_FRONTEND=noninteractive",
                  '  apt-get update -qq && apt-get install -y -qq "$@"',
                  "else",
                  '  dnf install -y "$@"',
                  "fi",
                  'echo "changed packages: $*"',
              ]
            : [
                  `echo "missing on the registry host:$missing. Install them (Debian: apt-get install docker.io caddy cron curl util-linux${restic ? " restic" : ""}), or set externalHost.installPackages: true" >&2`,
                  "exit 1",
              ]),
    ].join("\n");
}

/**
 * Creates the data directory (mode 0750) and gives it to Caddy's group. The registry container runs
 * as root and writes with umask 022 (directories 0755, files 0644), so Caddy (user `caddy` in the
 * Debian and Fedora packages) can then read the blobs and serve downloads itself (see
 * docs/access-policy.md, Performance). Others get nothing. Without a `caddy` group the directory
 * stays root's and every download goes through Distribution.
 */
export function dataDirScript(layout: HostLayout): string {
    return [
        "set -eu",
        `d="\${DSO_ROOT:-}"${shQuote(layout.dataDir)}`,
        "state=unchanged",
        'if [ ! -d "$d" ]; then mkdir -p "$d"; chmod 0750 "$d"; state=changed; fi',
        'if getent group caddy >/dev/null 2>&1 && [ "$(stat -c %G:%A "$d")" != "caddy:drwxr-x---" ]; then',
        '  chgrp caddy "$d"; chmod u+rwx,g+rx,g-w,o-rwx "$d"; state=changed',
        "fi",
        'echo "$state $d"',
    ].join("\n");
}

/** On destroy: keeps the data unless `purge`, and says so. */
export function dataDirDeleteScript(layout: HostLayout, purge: boolean): string {
    return purge
        ? ["set -eu", `rm -rf "\${DSO_ROOT:-}"${shQuote(layout.dataDir)}`, `echo "removed ${layout.dataDir}"`].join("\n")
        : `echo "kept registry data in ${layout.dataDir} (externalHost.purgeDataOnDestroy is false)"`;
}

/**
 * Runs the registry container when it is missing, stopped, or was created from another spec
 * (image, ports, mounts or config: `specFingerprint`). Otherwise changes nothing.
 */
export function containerScript(spec: ContainerSpec, specFingerprint: string): string {
    const name = shQuote(spec.name);
    return [
        "set -eu",
        ...LOCK(spec.layout),
        ...wantedLabel(spec, specFingerprint),
        `have=$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' ${name} 2>/dev/null || true)`,
        'if [ "$have" = "$want true" ]; then echo "unchanged container"; exit 0; fi',
        `docker rm -f ${name} >/dev/null 2>&1 || true`,
        `docker run --label dso-registry.spec="$want" ${dockerRunArgs(spec, "config.yml")} >/dev/null`,
        'echo "changed container"',
    ].join("\n");
}

/**
 * The same-origin UI (joxit/docker-registry-ui) on loopback: it talks to the registry through the
 * page's own origin, so no CORS is involved; deletes only when the registry allows them. Recreated
 * when its image, port or delete setting changes.
 */
export function uiContainerScript(spec: ContainerSpec, deletesEnabled: boolean): string {
    const fp = fingerprint(spec.image, String(spec.hostPort), String(deletesEnabled));
    return [
        "set -eu",
        `have=$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' ${spec.name} 2>/dev/null || true)`,
        `if [ "$have" = "${fp} true" ]; then echo "unchanged ui container"; exit 0; fi`,
        `docker rm -f ${spec.name} >/dev/null 2>&1 || true`,
        [
            `docker run -d --name ${spec.name} --restart unless-stopped --label dso-registry.spec=${fp}`,
            `-p 127.0.0.1:${spec.hostPort}:80`,
            "-e SINGLE_REGISTRY=true -e REGISTRY_TITLE=dso-registry",
            `-e DELETE_IMAGES=${deletesEnabled} -e SHOW_CONTENT_DIGEST=true`,
            `'${spec.image}' >/dev/null`,
        ].join(" "),
        'echo "changed ui container"',
    ].join("\n");
}

/** Removes a container (the registry's data stays in the data directory). */
export function containerDeleteScript(spec: ContainerSpec): string {
    return ["set -eu", `docker rm -f ${shQuote(spec.name)} >/dev/null 2>&1 || true`, `echo "removed container ${spec.name}"`].join("\n");
}

/**
 * Validates the Caddyfile with Caddy itself, then applies it: `caddy reload` when Caddy is running
 * (its admin endpoint answers), otherwise starts the caddy service. An invalid Caddyfile fails the
 * update and leaves the running config alone. `reloadFingerprint` makes the script's text change
 * (and so re-run) whenever a file Caddy reads changes.
 */
export function caddyApplyScript(layout: HostLayout, reloadFingerprint: string): string {
    return [
        "set -eu",
        `# files: ${reloadFingerprint}`,
        `f="\${DSO_ROOT:-}"${shQuote(layout.caddyfile)}`,
        'if ! out=$(caddy validate --adapter caddyfile --config "$f" 2>&1); then',
        '  echo "$out" | grep -v \'"level":"info"\' >&2',
        '  echo "caddy validate rejected $f; the running Caddy config was not changed" >&2',
        "  exit 1",
        "fi",
        'if timeout 50 caddy reload --adapter caddyfile --config "$f" >/dev/null 2>&1; then',
        '  echo "reloaded caddy"',
        "elif command -v systemctl >/dev/null 2>&1; then",
        "  systemctl enable caddy >/dev/null 2>&1 || true",
        "  systemctl restart caddy",
        '  echo "restarted caddy"',
        "else",
        '  echo "Caddy is not running and there is no systemd to start it: start it with caddy start --config $f" >&2',
        "  exit 1",
        "fi",
    ].join("\n");
}

/**
 * On destroy: replaces the registry's Caddyfile with one that serves no site (so Caddy keeps
 * running for anything else the operator adds later) and reloads.
 */
export function caddyRemoveScript(layout: HostLayout, admin?: string): string {
    const empty = `# The dso-registry site was removed by pulumi destroy.\n${admin ? `{\n\tadmin ${admin}\n}\n` : ""}`;
    return [
        "set -eu",
        `f="\${DSO_ROOT:-}"${shQuote(layout.caddyfile)}`,
        `printf '%s' ${shQuote(empty)} > "$f"`,
        'timeout 50 caddy reload --adapter caddyfile --config "$f" >/dev/null 2>&1 || (command -v systemctl >/dev/null 2>&1 && systemctl reload caddy) || true',
        'echo "removed caddy site"',
    ].join("\n");
}

export interface MaintenanceOptions {
    readonly garbageCollection: { readonly enabled: boolean; readonly schedule: string; readonly deleteUntagged: boolean };
    /** Scheduled backups; none when unset. */
    readonly backup?: { readonly schedule: string };
}

/**
 * Lines that restart the registry read-only for the rest of the script and bring it back writable
 * (with its normal spec, hence an empty cache) when the script exits, also on failure: garbage
 * collection's window. The marker file tells Caddy the window is open: from before the writable
 * registry stops until it is back, writes get 503 with Retry-After and a message instead of
 * Distribution's 405 or a failed connection. (The backup needs no restart: `MARKER_ONLY_WINDOW`.)
 */
export function readOnlyWindow(spec: ContainerSpec, specFingerprint: string): string[] {
    const name = shQuote(spec.name);
    // docker stop: SIGTERM, and Distribution lets the requests under way finish (http.draintimeout)
    // so that an upload already past the front completes instead of being cut.
    const stop = `docker stop -t ${REGISTRY_DRAIN_SECONDS + 5} ${name} >/dev/null 2>&1 || true`;
    return [
        `marker="\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).readOnlyMarker)}`,
        ...wantedLabel(spec, specFingerprint),
        "restore() {",
        `  ${stop}`,
        `  docker rm -f ${name} >/dev/null 2>&1 || true`,
        `  docker run --label dso-registry.spec="$want" ${dockerRunArgs(spec, "config.yml")} >/dev/null`,
        // docker-proxy accepts connections before Distribution listens and then drops them, which the
        // front cannot retry for a PUT (502): close the window only once the registry answers.
        "  tries=0",
        `  until curl -s -o /dev/null --max-time 2 http://127.0.0.1:${spec.hostPort}/v2/; do`,
        '    tries=$((tries + 1)); [ "$tries" -ge 30 ] && break; sleep 1',
        "  done",
        '  rm -f "$marker"',
        "}",
        "trap restore EXIT",
        // The settle wait lets a write that passed the front just before the marker arrive before the
        // stop closes the front's idle connections, or the front answers it 502 (a PUT is not retried
        // on a dropped connection).
        ...OPEN_FRONT_WINDOW,
        stop,
        `docker rm -f ${name} >/dev/null`,
        `docker run --label dso-registry.spec=read-only ${dockerRunArgs(spec, "config-readonly.yml")} >/dev/null`,
    ];
}

/** Lines that end the read-only window before the script ends: the writable registry is back. */
export const END_READ_ONLY_WINDOW = ["restore", "trap - EXIT"];

/**
 * The garbage-collection script (a file on the host). Safe by construction: the registry is
 * recreated read-only (pulls keep working, pushes are refused instead of being half deleted,
 * distribution#3045: Caddy answers them 503 with Retry-After while the window's marker exists), the collection runs, and the registry is recreated writable, which
 * also starts it with an empty blob-descriptor cache (distribution#3743). The writable registry
 * comes back even when the collection fails. Then dso-registry-verify HEADs every tagged image's
 * blobs through that fresh registry and fails the run, naming the images, when any is missing.
 * With s3 storage the collection runs against the bucket (the container has the credentials in its
 * environment, `docker exec` inherits them).
 */
export function gcScript(
    spec: ContainerSpec,
    specFingerprint: string,
    deleteUntagged: boolean,
    /** More collection run in the same window (the Maven repository's, `mavenCleanupLines`). */
    alsoInWindow: readonly string[] = [],
): string {
    const name = shQuote(spec.name);
    const collect = `docker exec ${name} registry garbage-collect${deleteUntagged ? " --delete-untagged" : ""} ${DISTRIBUTION.configDir}/config.yml`;
    return [
        "#!/bin/sh",
        "# Managed by dso-registry: registry garbage collection in read-only mode. See docs/external-host.md.",
        "set -eu",
        ...LOCK(spec.layout),
        ...readOnlyWindow(spec, specFingerprint),
        'echo "registry is read-only; collecting garbage"',
        ...(spec.storage?.kind === "s3" ? [collect] : collectUnlessEmpty(collect, `"\${DSO_ROOT:-}"${shQuote(spec.layout.dataDir)}`)),
        ...alsoInWindow,
        ...END_READ_ONLY_WINDOW,
        'echo "garbage collection done; registry back to writable with an empty cache; checking every tagged image"',
        `"\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).verifyScript)}`,
        "",
    ].join("\n");
}

/** /etc/cron.d file for the enabled maintenance jobs (root, logs to syslog through logger). */
export function cronFile(layout: HostLayout, maintenance: MaintenanceOptions): string {
    const paths = hostPaths(layout);
    const lines = [
        "# Managed by dso-registry. See docs/external-host.md.",
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ];
    if (maintenance.garbageCollection.enabled) {
        lines.push(`${maintenance.garbageCollection.schedule} root ${paths.gcScript} 2>&1 | logger -t dso-registry-gc`);
    }
    if (maintenance.backup) {
        lines.push(`${maintenance.backup.schedule} root ${paths.backupScript} 2>&1 | logger -t dso-registry-backup`);
    }
    return `${lines.join("\n")}\n`;
}

/** What the post-deploy check expects through Caddy. */
export interface CheckExpectations {
    /** Host name clients use, and the HTTPS port Caddy listens on. */
    readonly host: string;
    readonly port: number;
    /** CA file to verify with; the system trust store when unset; "insecure" skips verification. */
    readonly caFile?: string | "insecure";
    readonly requiresAuthForPull: boolean;
    /** Loopback is outside the allowlist: every answer is 403. */
    readonly loopbackRefused: boolean;
    /** How long to wait for Caddy (and an ACME certificate) before failing. */
    readonly waitSeconds: number;
}

/**
 * Asks the registry through Caddy, from the host itself (name resolved to 127.0.0.1), whether the
 * policy holds: the ping is challenged, an anonymous read is allowed or challenged as configured,
 * and an anonymous upload is refused. Fails the update (non-zero) when any answer is wrong.
 */
export function postDeployCheckScript(e: CheckExpectations): string {
    const base = `https://${e.host}:${e.port}`;
    const tlsArg = e.caFile === "insecure" ? "--insecure" : e.caFile ? `--cacert "\${DSO_ROOT:-}"${shQuote(e.caFile)}` : "";
    const expectPing = e.loopbackRefused ? 403 : 401;
    const expectRead = e.loopbackRefused ? 403 : e.requiresAuthForPull ? 401 : 200;
    const expectWrite = e.loopbackRefused ? 403 : 401;
    return [
        "set -eu",
        // curl prints 000 itself when it gets no answer.
        `ask() { curl -sS -o /dev/null -w '%{http_code}' --max-time 20 ${tlsArg} --resolve ${shQuote(`${e.host}:${e.port}:127.0.0.1`)} -X "$1" ${shQuote(base)}"$2" 2>/dev/null || true; }`,
        `deadline=$(( $(date +%s) + ${e.waitSeconds} ))`,
        'while [ "$(ask GET /v2/)" = 000 ]; do',
        '  if [ "$(date +%s)" -ge "$deadline" ]; then',
        `    echo "the registry does not answer on ${base} (through Caddy on this host); see: journalctl -u caddy" >&2; exit 1`,
        "  fi",
        "  sleep 2",
        "done",
        "fail=0",
        "check() {",
        '  got=$(ask "$2" "$3")',
        '  if [ "$got" = "$4" ]; then echo "ok   $1: $2 $3 -> $got"; else echo "FAIL $1: $2 $3 -> $got, expected $4" >&2; fail=1; fi',
        "}",
        `check "ping is challenged" GET /v2/ ${expectPing}`,
        `check "anonymous read" GET /v2/_catalog ${expectRead}`,
        `check "anonymous upload is refused" POST /v2/dso-check/blobs/uploads/ ${expectWrite}`,
        'if [ "$fail" != 0 ]; then echo "the registry does not enforce the expected access policy; the update failed" >&2; exit 1; fi',
    ].join("\n");
}

/** A script operators run on the host to see the registry's state (placed as dso-registry-status). */
export function statusScript(spec: ContainerSpec): string {
    return [
        "#!/bin/sh",
        "# Managed by dso-registry: the registry's state at a glance.",
        `echo "== container"; docker ps -a --filter name=^/${spec.name}$ --format '{{.Names}} {{.Image}} {{.Status}} {{.Labels}}'`,
        `echo "== last log lines"; docker logs --tail 20 ${shQuote(spec.name)} 2>&1`,
        'echo "== caddy"; systemctl --no-pager --lines=5 status caddy 2>&1 || true',
        spec.storage?.kind === "s3"
            ? `echo "== data"; echo ${shQuote(`s3 bucket ${spec.storage.bucket} at ${spec.storage.endpoint ?? "AWS"}`)}`
            : `echo "== data"; du -sh ${shQuote(spec.layout.dataDir)} 2>/dev/null || true`,
        "",
    ].join("\n");
}
