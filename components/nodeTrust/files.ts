/**
 * Node trust, pure part: which files and steps each container runtime flavour needs so that a node
 * trusts and resolves the registry, the text of those files, and the shell scripts that apply and
 * remove each step. The SSH delivery (nodeTrustSsh.ts) and the DaemonSet delivery (nodeTrustDaemonSet.ts)
 * both run these same scripts; the components only feed values in and place the results.
 *
 * Every script honours $DSO_ROOT (a path prefix, empty on real nodes; "/host" in the DaemonSet;
 * a private directory in tests) and $DSO_HOST_EXEC (a prefix for commands that must run in the
 * node's own namespaces: empty over SSH, `nsenter …` in the DaemonSet).
 */
import type { NodeMirror } from "../mirrors/mirrors";
import { IPV4, type RuntimeFlavour, registryAuthority, restartsOnRegistriesChange } from "../shared/facts";
import { type HostFileSpec, placeFileBody, removeFileBody } from "../shared/hostAccess";
import { shQuote } from "../shared/shQuote";
import { registriesYamlMergeBody } from "./registriesYaml";
import { type RestartSettings, restartAfterChange } from "./restarts";

export type { RuntimeFlavour };

/** First line of every file this program writes on a node, so it can tell its files from others'. */
export const MANAGED_HEADER = "# Managed by dso-registry (node trust). Changes here are overwritten.";

/** What a node needs to know about the registry. Plain values: they decide which steps exist. */
export interface TrustTarget {
    readonly host: string;
    readonly port: number;
    /** A CA file is placed (the registry's certificate is not publicly trusted). */
    readonly hasCa: boolean;
    /**
     * Pulls need the pull-only account on the node: k3s / RKE2 `configs.<host>.auth` in registries.yaml,
     * containerd (microk8s, kind) an `Authorization` header in hosts.toml.
     */
    readonly hasPullAuth: boolean;
    /** A managed /etc/hosts block maps the host to an address. */
    readonly hasAddress: boolean;
    /** Plain HTTP instead of TLS (explicit opt-in only). */
    readonly plainHttp: boolean;
    /** Upstreams the node pulls through the registry's pull-through caches (`registry.mirrors`). */
    readonly mirrors?: readonly NodeMirror[];
}

/** One file on the node. */
export interface FileStep extends HostFileSpec {
    readonly kind: "file";
    readonly role: "ca" | "hosts-toml" | "registries-yaml" | "mirror-hosts-toml";
    /** Tells steps of one role apart in names (a mirror's upstream); unset for the registry's own steps. */
    readonly id?: string;
    /** The upstream a "mirror-hosts-toml" step is for. */
    readonly mirror?: NodeMirror;
    /** The content carries a secret (pull password). */
    readonly secret: boolean;
    /** systemd units restarted (when running and allowed) after the content changed or was removed. */
    readonly restartUnits: readonly string[];
    /**
     * The file is shared with the operator (k3s / RKE2 registries.yaml): the program merges its own
     * entries, keyed by this authority, into it instead of owning the whole file.
     */
    readonly mergeKey?: string;
}

/** A directory that belongs to this registry alone: created first, removed (when empty) last. */
export interface DirStep {
    readonly kind: "dir";
    readonly path: string;
    /** Tells directories apart in names (a mirror's upstream); unset for the registry's own. */
    readonly id?: string;
}

/** The managed /etc/hosts block. */
export interface EtcHostsStep {
    readonly kind: "etc-hosts";
    readonly path: "/etc/hosts";
}

/** containerd: the CRI plugin must read hosts.toml files from `certsDir`. */
export interface ConfigPathStep {
    readonly kind: "config-path";
    readonly configFile: string;
    readonly certsDir: string;
}

export type TrustStep = DirStep | FileStep | EtcHostsStep | ConfigPathStep;

/** The steps for one flavour, in the order they are applied (removal runs in reverse). */
export interface TrustPlan {
    readonly flavour: RuntimeFlavour;
    readonly authority: string;
    readonly steps: readonly TrustStep[];
    /** Host directories the DaemonSet mounts (each under $DSO_ROOT) to reach every step's paths. */
    readonly hostMounts: readonly { readonly path: string; readonly type: "Directory" | "DirectoryOrCreate" | "File" }[];
    /** Where the DaemonSet keeps its owner marker (one of the mounted directories). */
    readonly markerDir: string;
}

const CERTS_DIRS = {
    microk8s: "/var/snap/microk8s/current/args/certs.d",
    containerd: "/etc/containerd/certs.d",
    kind: "/etc/containerd/certs.d",
    docker: "/etc/docker/certs.d",
} as const;

/** Why a target cannot be served for a flavour, or undefined. Exported for table-driven tests. */
export function trustTargetProblem(flavour: RuntimeFlavour, target: TrustTarget): string | undefined {
    if (target.plainHttp && target.hasCa) {
        return "a plain-HTTP registry has no certificate: remove the CA, or turn off nodes.insecurePlainHttp";
    }
    if (target.plainHttp && flavour === "docker") {
        return (
            'the Docker engine only talks plain HTTP to registries listed in "insecure-registries" of ' +
            "/etc/docker/daemon.json, which this program does not manage: use TLS, or set that list yourself"
        );
    }
    if (target.hasPullAuth && flavour === "docker") {
        return (
            "the Docker engine has no node-wide registry credentials that kubelet's pulls use (cri-dockerd passes only " +
            "the pod's imagePullSecrets): give workloads an imagePullSecret (dso-registry:pullSecrets.namespaces) instead"
        );
    }
    return undefined;
}

/** The steps a node of `flavour` needs for `target`. Throws with what to change when unsupported. */
export function trustPlan(flavour: RuntimeFlavour, target: TrustTarget): TrustPlan {
    const problem = trustTargetProblem(flavour, target);
    if (problem) throw new Error(`node trust (${flavour}): ${problem}`);
    const authority = registryAuthority(target.host, target.port);
    const steps: TrustStep[] = [];
    const hostMounts: { path: string; type: "Directory" | "DirectoryOrCreate" | "File" }[] = [];
    let markerDir: string;

    if (restartsOnRegistriesChange(flavour)) {
        const base = `/etc/rancher/${flavour}`;
        const units = flavour === "k3s" ? ["k3s", "k3s-agent"] : ["rke2-server", "rke2-agent"];
        if (target.hasCa) {
            steps.push({
                kind: "file",
                role: "ca",
                path: `${base}/dso-registry-ca-${authority}.crt`,
                mode: "0644",
                secret: false,
                restartUnits: [],
            });
        }
        steps.push({
            kind: "file",
            role: "registries-yaml",
            path: `${base}/registries.yaml`,
            mode: target.hasPullAuth ? "0600" : "0644",
            secret: target.hasPullAuth,
            restartUnits: units,
            mergeKey: authority,
        });
        hostMounts.push({ path: base, type: "DirectoryOrCreate" });
        markerDir = base;
    } else {
        const certsDir = CERTS_DIRS[flavour];
        const dir = `${certsDir}/${authority}`;
        steps.push({ kind: "dir", path: dir });
        if (target.hasCa) {
            steps.push({ kind: "file", role: "ca", path: `${dir}/ca.crt`, mode: "0644", secret: false, restartUnits: [] });
        }
        if (flavour !== "docker") {
            // With pull credentials hosts.toml carries them (an Authorization header): root only.
            const secret = target.hasPullAuth;
            steps.push({
                kind: "file",
                role: "hosts-toml",
                path: `${dir}/hosts.toml`,
                mode: secret ? "0600" : "0644",
                secret,
                restartUnits: [],
            });
            // Each mirrored upstream gets its own hosts.toml: the cache first, the upstream as the fallback.
            // The Docker engine has no per-upstream mirror setting (only registry-mirrors for Docker Hub, in daemon.json).
            for (const mirror of target.mirrors ?? []) {
                const id = `mirror-${mirror.pathName.replace(/\./g, "-")}`;
                const mirrorDir = `${certsDir}/${mirror.upstream}`;
                steps.push(
                    { kind: "dir", path: mirrorDir, id },
                    {
                        kind: "file",
                        role: "mirror-hosts-toml",
                        id,
                        mirror,
                        path: `${mirrorDir}/hosts.toml`,
                        mode: secret ? "0600" : "0644",
                        secret,
                        restartUnits: [],
                    },
                );
            }
        }
        if (flavour === "containerd") {
            steps.push({ kind: "config-path", configFile: "/etc/containerd/config.toml", certsDir });
            hostMounts.push({ path: "/etc/containerd", type: "DirectoryOrCreate" });
        } else {
            hostMounts.push({ path: certsDir, type: flavour === "microk8s" ? "Directory" : "DirectoryOrCreate" });
        }
        markerDir = dir;
    }
    if (target.hasAddress) {
        steps.push({ kind: "etc-hosts", path: "/etc/hosts" });
        hostMounts.push({ path: "/etc/hosts", type: "File" });
    }
    return { flavour, authority, steps, hostMounts, markerDir };
}

// ---------------------------------------------------------------------------------------------
// File contents
// ---------------------------------------------------------------------------------------------

/** A string as a TOML basic string (also a valid YAML double-quoted scalar). */
function quoted(value: string): string {
    return JSON.stringify(value);
}

/**
 * containerd's hosts.toml for the registry. `ca` is relative to the file's directory, so the same
 * text works under microk8s's snap path, /etc/containerd and inside kind node containers.
 *
 * With `auth`, every request containerd sends to the registry carries the pull-only account as a
 * Basic `Authorization` header (hosts.toml's `header` table, containerd 1.5+ and 2.x): containerd's
 * resolver reads it for the CRI plugin (kubelet's pulls) as for `ctr --hosts-dir`, and Go's HTTP
 * client drops the header when a redirect leaves the registry's host. The file is then root-only.
 */
export function renderHostsToml(
    target: Pick<TrustTarget, "host" | "port" | "hasCa" | "plainHttp"> & {
        readonly auth?: { readonly username: string; readonly password: string };
    },
): string {
    const authority = registryAuthority(target.host, target.port);
    const url = `${target.plainHttp ? "http" : "https"}://${authority}`;
    const basic = target.auth && Buffer.from(`${target.auth.username}:${target.auth.password}`, "utf8").toString("base64");
    return [
        MANAGED_HEADER,
        `server = ${quoted(url)}`,
        ``,
        `[host.${quoted(url)}]`,
        `  capabilities = ["pull", "resolve"]`,
        ...(target.hasCa ? [`  ca = "ca.crt"`] : []),
        ...(basic ? [``, `[host.${quoted(url)}.header]`, `  Authorization = ${quoted(`Basic ${basic}`)}`] : []),
        ``,
    ].join("\n");
}

/** A PEM bundle with exactly one trailing newline (the config schema has checked that it is PEM). */
export function normalizePem(pem: string): string {
    return `${pem.trim()}\n`;
}

const IPV6 = /^[0-9a-f:.]+$/i;

/** Why an address cannot go into /etc/hosts, or undefined. */
export function hostsAddressProblem(address: string): string | undefined {
    if (IPV4.test(address) || (address.includes(":") && IPV6.test(address))) return undefined;
    return `"${address}" is not an IP address; /etc/hosts maps names to IPv4 or IPv6 addresses`;
}

// ---------------------------------------------------------------------------------------------
// Scripts (bodies run as root; the caller adds sudo, docker exec or the DaemonSet's environment)
// ---------------------------------------------------------------------------------------------

/** Marker lines of the managed /etc/hosts block for `host`. */
export function etcHostsMarkers(host: string): { begin: string; end: string } {
    return {
        begin: `# BEGIN dso-registry ${host} (managed block, do not edit)`,
        end: `# END dso-registry ${host}`,
    };
}

/**
 * Puts the managed block mapping `host` to `address` into /etc/hosts, or removes it when `address`
 * is undefined. Lines outside the block stay as they are; a block already present is replaced where
 * it stands; a damaged block (BEGIN without END) stops the script without writing. The new content
 * goes to a temp file next to the original and replaces it with a rename, or by copying over the
 * original where it is a bind mount (containers, kind nodes, the DaemonSet) and cannot be renamed.
 * Prints "changed <path>" or "unchanged <path>".
 */
export function etcHostsScript(host: string, address: string | undefined): string {
    if (address !== undefined) {
        const problem = hostsAddressProblem(address);
        if (problem) throw new Error(`node trust: ${problem}`);
    }
    const { begin, end } = etcHostsMarkers(host);
    const entry = address === undefined ? "" : `${address} ${host}`;
    return [
        "set -eu",
        `hosts="\${DSO_ROOT:-}/etc/hosts"`,
        `begin=${shQuote(begin)}`,
        `end=${shQuote(end)}`,
        `entry=${shQuote(entry)}`,
        `if [ ! -e "$hosts" ]; then`,
        `  if [ -z "$entry" ]; then echo "unchanged $hosts"; exit 0; fi`,
        `  : > "$hosts"`,
        `fi`,
        `if ! awk -v b="$begin" -v e="$end" '$0==b{if(open)bad=1;open=1;next} $0==e{if(!open)bad=1;open=0;next} END{exit (open||bad)?1:0}' "$hosts"; then`,
        `  echo "$hosts has a damaged dso-registry block for ${host} (a BEGIN line without its END line, or the reverse)." >&2`,
        `  echo "Nothing was changed. Remove the lines between and including the markers by hand, then run again." >&2`,
        `  exit 1`,
        `fi`,
        `others=$(awk -v b="$begin" -v e="$end" -v h=${shQuote(host)} '$0==b{s=1;next} s{if($0==e)s=0;next} $1 !~ /^#/ {for(i=2;i<=NF;i++) if($i==h) printf "%s ", NR}' "$hosts")`,
        `if [ -n "$others" ]; then`,
        `  echo "note: $hosts also maps ${host} outside the managed block (line $others); the first line for a name wins"`,
        `fi`,
        `dir=$(dirname "$hosts")`,
        `tmp=$(mktemp "$dir/.dso-hosts.XXXXXX")`,
        `trap 'rm -f "$tmp"' EXIT`,
        `awk -v b="$begin" -v e="$end" -v l="$entry" 'function block(){ if (l != "") { print b; print l; print e } } $0==b { if (!done) block(); done=1; skip=1; next } skip { if ($0==e) skip=0; next } { print } END { if (!done) block() }' "$hosts" > "$tmp"`,
        `if cmp -s "$tmp" "$hosts"; then echo "unchanged $hosts"; exit 0; fi`,
        `chmod "$(stat -c %a "$hosts")" "$tmp"`,
        `if ! mv -f "$tmp" "$hosts" 2>/dev/null; then cat "$tmp" > "$hosts"; fi`,
        `echo "changed $hosts"`,
    ].join("\n");
}

/** Creates a directory that belongs to the registry alone. */
export function dirCreateScript(path: string): string {
    return `set -eu\nmkdir -p "\${DSO_ROOT:-}"${shQuote(path)}`;
}

/** Removes that directory if nothing else was put into it. */
export function dirRemoveScript(path: string): string {
    return `set -eu\nrmdir "\${DSO_ROOT:-}"${shQuote(path)} 2>/dev/null || true`;
}

/**
 * Restarts those of `units` that are running (containerd after its config_path changed; containerd
 * comes back by itself and running containers keep running). $DSO_HOST_EXEC reaches the node's
 * systemd from a pod. One `if` per unit rather than a loop: a loop over one word is a lint finding.
 */
function restartUnitsScript(units: readonly string[], reason: string): string {
    return [
        `restarted=""`,
        ...units.flatMap((unit) => [
            `if \${DSO_HOST_EXEC:-} systemctl is-active --quiet ${shQuote(unit)}; then`,
            `  \${DSO_HOST_EXEC:-} systemctl restart ${shQuote(unit)}`,
            `  restarted="$restarted ${unit}"`,
            `fi`,
        ]),
        `if [ -n "$restarted" ]; then echo "restarted$restarted (${reason})"; else echo "none of ${units.join(", ")} is running; it reads the change when it starts"; fi`,
    ].join("\n");
}

/** Places a file that is shared with the operator (registries.yaml): merges the entries on stdin, then restarts. */
function mergeWithRestartBody(step: FileStep, authority: string, restart: RestartSettings, action: "apply" | "remove"): string {
    const flavour = step.path.startsWith("/etc/rancher/rke2/") ? "rke2" : "k3s";
    return [
        "set -eu",
        registriesYamlMergeBody({ path: step.path, authority, secret: step.secret }, action),
        restartAfterChange(flavour, step.path, step.restartUnits, restart, action),
    ].join("\n");
}

/**
 * The body that places a file step's content (stdin) on the node: the shared file placement, or for
 * a shared file (registries.yaml) the merge of the program's entries and the restart that follows.
 */
export function placeFileStepBody(step: FileStep, restart: RestartSettings): string {
    if (step.mergeKey !== undefined) return mergeWithRestartBody(step, step.mergeKey, restart, "apply");
    return placeFileBody(step);
}

/** The body that removes a file step's file again (for a shared file, only the program's entries, and restarts). */
export function removeFileStepBody(step: FileStep, restart: RestartSettings): string {
    if (step.mergeKey !== undefined) return mergeWithRestartBody(step, step.mergeKey, restart, "remove");
    return removeFileBody(step);
}

/** containerd 1.x (config version 2) and 2.x (version 3) spell the CRI registry section differently. */
const REGISTRY_SECTIONS = {
    v2: `[plugins."io.containerd.grpc.v1.cri".registry]`,
    v3: `[plugins."io.containerd.cri.v1.images".registry]`,
};

/** Text for use inside a double-quoted shell string: `"`, `\\`, `$` and backquotes escaped. */
function inDoubleQuotes(text: string): string {
    return text.replace(/["\\$`]/g, "\\$&");
}

/**
 * Checks that containerd's CRI plugin reads hosts.toml files from `certsDir` (its `config_path`).
 * When it does not, it reports what to change; with `allowRestart` it sets config_path itself
 * (keeping a copy of the original and a checksum of what it wrote, so removal can put the original
 * back), validates the result with `containerd config dump` where containerd is installed, and
 * restarts containerd. It never edits a config that still has entries in the deprecated
 * `registry.mirrors` / `registry.configs` tables, which containerd refuses together with config_path.
 */
export function configPathCheckScript(step: ConfigPathStep, allowRestart: boolean): string {
    const want = step.certsDir;
    return [
        "set -eu",
        `conf="\${DSO_ROOT:-}"${shQuote(step.configFile)}`,
        `want=${shQuote(want)}`,
        `current=""`,
        `if [ -f "$conf" ]; then`,
        `  current=$(awk '/^[ \\t]*\\[/ { s=$0; gsub(/[ \\t]/, "", s); next } s ~ /\\.registry\\]$/ && /^[ \\t]*config_path[ \\t]*=/ { v=$0; sub(/^[^=]*=[ \\t]*["\\047]/, "", v); sub(/["\\047].*$/, "", v); print v; exit }' "$conf")`,
        `fi`,
        `case ":$current:" in`,
        `  *":$want:"*) echo "containerd config_path ok: $current"; exit 0 ;;`,
        `esac`,
        `problem="containerd's CRI plugin does not read $want (config_path is \\"$current\\" in ${step.configFile}), so kubelet pulls ignore the registry's hosts.toml"`,
        ...(allowRestart
            ? [
                  `if [ -f "$conf" ] && grep -Eq '\\.registry\\.(mirrors|configs)\\.' "$conf"; then`,
                  `  echo "WARNING: $problem. ${step.configFile} still has entries under registry.mirrors/registry.configs, which containerd refuses together with config_path: move them to hosts.toml files under $want, then run again." >&2`,
                  `  exit 0`,
                  `fi`,
                  `dir=$(dirname "$conf")`,
                  `mkdir -p "$dir"`,
                  `tmp=$(mktemp "$dir/.dso-config.XXXXXX")`,
                  `trap 'rm -f "$tmp"' EXIT`,
                  `if [ ! -f "$conf" ]; then`,
                  `  printf 'version = 2\\n\\n%s\\n  config_path = "%s"\\n' ${shQuote(REGISTRY_SECTIONS.v2)} "$want" > "$tmp"`,
                  `elif [ -n "$current" ] || awk '/^[ \\t]*\\[/ { s=$0; gsub(/[ \\t]/, "", s); if (s ~ /\\.registry\\]$/) found=1 } END { exit found ? 0 : 1 }' "$conf"; then`,
                  // A registry section exists: replace its config_path value (keeping other paths) or add the key under it.
                  `  awk -v want="$want" -v cur="$current" '`,
                  `    /^[ \\t]*\\[/ { if (insec && !done) { print "  config_path = \\"" want "\\""; done=1 } s=$0; gsub(/[ \\t]/, "", s); insec = (s ~ /\\.registry\\]$/); print; next }`,
                  `    insec && !done && /^[ \\t]*config_path[ \\t]*=/ { v = (cur == "") ? want : want ":" cur; print "  config_path = \\"" v "\\""; done=1; next }`,
                  `    { print }`,
                  `    END { if (insec && !done) print "  config_path = \\"" want "\\"" }' "$conf" > "$tmp"`,
                  `else`,
                  `  cat "$conf" > "$tmp"`,
                  `  if grep -Eq '^[ \\t]*version[ \\t]*=[ \\t]*3' "$conf"; then section=${shQuote(REGISTRY_SECTIONS.v3)}; else section=${shQuote(REGISTRY_SECTIONS.v2)}; fi`,
                  `  printf '\\n%s\\n  config_path = "%s"\\n' "$section" "$want" >> "$tmp"`,
                  `fi`,
                  // From the DaemonSet, containerd runs in the node's mount namespace: the path loses the /host prefix.
                  `check="$tmp"`,
                  `if [ -n "\${DSO_HOST_EXEC:-}" ]; then check="\${tmp#"\${DSO_ROOT:-}"}"; fi`,
                  `if \${DSO_HOST_EXEC:-} sh -c 'command -v containerd' >/dev/null 2>&1; then`,
                  `  if ! \${DSO_HOST_EXEC:-} containerd --config "$check" config dump >/dev/null 2>&1; then`,
                  `    echo "WARNING: $problem. Setting it automatically gave a config containerd rejects; nothing was changed. Set it by hand." >&2`,
                  `    exit 0`,
                  `  fi`,
                  `fi`,
                  `if [ -f "$conf" ]; then`,
                  `  [ -e "$conf.before-dso-registry" ] || cp -p "$conf" "$conf.before-dso-registry"`,
                  `  chmod "$(stat -c %a "$conf")" "$tmp"`,
                  `else`,
                  `  : > "$conf.created-by-dso-registry"`,
                  `  chmod 0644 "$tmp"`,
                  `fi`,
                  `mv -f "$tmp" "$conf"`,
                  `sha256sum "$conf" | cut -d " " -f 1 > "$conf.dso-registry.sha256"`,
                  `echo "containerd config_path set to include $want in ${step.configFile}"`,
                  ...restartUnitsScript(["containerd"], "config_path changed").split("\n"),
              ]
            : [
                  `echo "WARNING: $problem. Add config_path = \\"$want\\" under ${inDoubleQuotes(REGISTRY_SECTIONS.v2)} (containerd 1.x) or ${inDoubleQuotes(REGISTRY_SECTIONS.v3)} (2.x) and restart containerd, or set dso-registry:nodes.allowContainerdRestart true to let this program do it." >&2`,
                  `echo "config_path missing"`,
              ]),
    ].join("\n");
}

/**
 * Undoes configPathCheckScript: puts the original config back when the file is still exactly what
 * this program wrote, and restarts containerd; otherwise says where the original is.
 */
export function configPathRemoveScript(step: ConfigPathStep, allowRestart: boolean): string {
    return [
        "set -eu",
        `conf="\${DSO_ROOT:-}"${shQuote(step.configFile)}`,
        `[ -f "$conf.dso-registry.sha256" ] || exit 0`,
        `if [ -f "$conf" ] && [ "$(sha256sum "$conf" | cut -d " " -f 1)" = "$(cat "$conf.dso-registry.sha256")" ]; then`,
        `  if [ -e "$conf.created-by-dso-registry" ]; then rm -f "$conf" "$conf.created-by-dso-registry"; else mv -f "$conf.before-dso-registry" "$conf"; fi`,
        `  rm -f "$conf.dso-registry.sha256"`,
        `  echo "restored ${step.configFile} as it was before dso-registry set config_path"`,
        ...(allowRestart
            ? restartUnitsScript(["containerd"], "config_path restored")
                  .split("\n")
                  .map((l) => `  ${l}`)
            : [`  echo "restart containerd to apply it"`]),
        `else`,
        `  rm -f "$conf.dso-registry.sha256" "$conf.created-by-dso-registry"`,
        `  echo "${step.configFile} was changed after dso-registry set config_path; left as it is (the earlier version is ${step.configFile}.before-dso-registry, if it exists)" >&2`,
        `fi`,
    ].join("\n");
}
