/**
 * Node trust, pure part: which files and steps each container runtime flavour needs so that a node
 * trusts and resolves the registry, the text of those files, and the shell scripts that apply and
 * remove each step (the scripts are files in `sh/`, filled in here). The per-node delivery (nodeTrustPerNode.ts: SSH, local or kind) and the DaemonSet delivery (nodeTrustDaemonSet.ts)
 * both run these same scripts; the components only feed values in and place the results.
 *
 * Every script honours $DSO_ROOT (a path prefix, empty on real nodes; "/host" in the DaemonSet;
 * a private directory in tests) and $DSO_HOST_EXEC (a prefix for commands that must run in the
 * node's own namespaces: empty over SSH, `nsenter …` in the DaemonSet).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { mirrorApiPath, type NodeMirror } from "../mirrors/mirrors";
import { type RuntimeFlavour, registryAuthority, restartsOnRegistriesChange } from "../shared/facts";
import { type HostFileSpec, placeFileBody, removeFileBody } from "../shared/hostAccess";
import { isIpAddress } from "../shared/networks";
import { renderShellScript } from "../shared/shellScript";
import { registriesYamlScript } from "./registriesYaml";
import type { RestartSpec } from "./restarts";

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
    /**
     * Pulls of the images under `scope` (and under every other spelling of it, `signatureScopes`) need a
     * sigstore signature by one of `keyCount` keys (CRI-O and podman nodes; no other runtime checks
     * signatures when it pulls).
     */
    readonly signatures?: { readonly scope: string; readonly keyCount: number };
}

/** One file on the node. */
export interface FileStep extends HostFileSpec {
    readonly kind: "file";
    readonly role: "ca" | "hosts-toml" | "registries-yaml" | "mirror-hosts-toml" | "registries-conf" | "signature-policy";
    /** Tells steps of one role apart in names (a mirror's upstream); unset for the registry's own steps. */
    readonly id?: string;
    /** The upstream a "mirror-hosts-toml" step is for. */
    readonly mirror?: NodeMirror;
    /** How many keys a "signature-policy" step's requirement names. */
    readonly keyCount?: number;
    /** The content carries a secret (pull password). */
    readonly secret: boolean;
    /** systemd units restarted (when running and allowed) after the content changed or was removed. */
    readonly restartUnits: readonly string[];
    /**
     * The file is shared with the operator or the runtime (k3s / RKE2 registries.yaml; a mirrored
     * upstream's hosts.toml, which microk8s ships for docker.io): the program merges its own entries,
     * keyed by this authority (the registry's), into it instead of owning the whole file.
     */
    readonly mergeKey?: string;
    /**
     * systemd units reloaded (where running) after the content changed or was removed: CRI-O rereads
     * registries.conf and its drop-ins on SIGHUP, which `systemctl reload crio` sends.
     */
    readonly reloadUnits?: readonly string[];
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
    /**
     * containerd flavours: the certs.d directory holding the mirrored upstreams' hosts.toml files. The
     * DaemonSet takes the program's blocks out of the upstreams no longer mirrored there (a new pod
     * does not run the removal of the steps its predecessor had).
     */
    readonly mirrorCertsDir?: string;
}

const CERTS_DIRS = {
    microk8s: "/var/snap/microk8s/current/args/certs.d",
    containerd: "/etc/containerd/certs.d",
    kind: "/etc/containerd/certs.d",
    docker: "/etc/docker/certs.d",
    crio: "/etc/containers/certs.d",
} as const;

/** CRI-O and podman read drop-ins here (containers-registries.conf.d(5)), in name order, after registries.conf. */
const REGISTRIES_CONF_DIR = "/etc/containers/registries.conf.d";

/** The program's registries.conf drop-in for the registry `authority` (CRI-O and podman hosts). */
export function registriesConfPath(authority: string): string {
    return `${REGISTRIES_CONF_DIR}/dso-registry-${authority}.conf`;
}

/** The signature policy of containers/image (CRI-O, podman, skopeo), containers-policy.json(5). */
export const SIGNATURE_POLICY_FILE = "/etc/containers/policy.json";

/**
 * Where node trust keeps what it needs to give the node's policy.json back for the registry `authority`
 * (`sh/policy-json.sh`), and the copy of the node's file from before the first change.
 */
export function signaturePolicyFiles(authority: string): { state: string; backup: string; registriesD: string } {
    return {
        state: `${SIGNATURE_POLICY_FILE}.dso-registry-${authority}`,
        backup: `${SIGNATURE_POLICY_FILE}.before-dso-registry`,
        // containers-registries.d(5): every *.yaml file of the directory is read.
        registriesD: `/etc/containers/registries.d/dso-registry-${authority}.yaml`,
    };
}

/**
 * The repositories whose pulls need a signature: `<authority>/<pathPrefix>` (where the pipelines push),
 * the whole registry when the prefix is empty. containers/image matches a policy scope and a
 * registries.d namespace by whole path components.
 */
export function signatureScope(authority: string, pathPrefix: string): string {
    const prefix = pathPrefix.replace(/^\/+|\/+$/g, "");
    return prefix === "" ? authority : `${authority}/${prefix}`;
}

/**
 * Every spelling of the registry's authority that an image reference can carry and that reaches the
 * registry, the canonical one (`registryAuthority`) first: containers/image matches policy scopes as
 * strings, so `host:443/…` and `host/…` are different scopes although both reach port 443. With port 443
 * the host with and without `:443`, otherwise `host:port`; and the same for `address`, the registry's
 * address (`registryAddress`, IPv6 in brackets) that the node's /etc/hosts maps the host to. Not
 * enumerable, and refused by the registry's front instead: a port with leading zeros (`host:0443`) and
 * a host name in other cases (`Registry.example.com`), which containers/image sends on as written.
 */
export function registryAuthoritySpellings(host: string, port: number, address?: string): string[] {
    const forms = (name: string) => (port === 443 ? [name, `${name}:443`] : [`${name}:${port}`]);
    const names = [host, ...(address === undefined || address === "" ? [] : [address.includes(":") ? `[${address}]` : address])];
    return [...new Set(names.flatMap(forms))];
}

/** `signatureScope` for every spelling of the authority (`registryAuthoritySpellings`), the canonical one first. */
export function signatureScopes(host: string, port: number, pathPrefix: string, address?: string): string[] {
    return registryAuthoritySpellings(host, port, address).map((authority) => signatureScope(authority, pathPrefix));
}

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
    if (target.hasPullAuth && flavour === "crio") {
        return (
            "this program gives CRI-O no node-wide registry credentials (its pulls use the credentials kubelet passes, the " +
            "pod's imagePullSecrets): give workloads an imagePullSecret (dso-registry:pullSecrets.namespaces) instead"
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
    let mirrorCertsDir: string | undefined;

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
    } else if (flavour === "crio") {
        // containers/image (CRI-O, podman) reads the CA from certs.d on each connection, and mirrors and
        // plain HTTP from a registries.conf drop-in, which CRI-O rereads on a reload.
        const dir = `${CERTS_DIRS.crio}/${authority}`;
        steps.push({ kind: "dir", path: dir });
        if (target.hasCa) {
            steps.push({ kind: "file", role: "ca", path: `${dir}/ca.crt`, mode: "0644", secret: false, restartUnits: [] });
        }
        steps.push({
            kind: "file",
            role: "registries-conf",
            path: registriesConfPath(authority),
            mode: "0644",
            secret: false,
            restartUnits: [],
            reloadUnits: ["crio"],
        });
        // The node's signature policy gets one entry per spelling of the registry's scope (the scopes travel with
        // the requirement, renderSignaturePolicyInput); every other entry stays the node's.
        if (target.signatures) {
            steps.push({
                kind: "file",
                role: "signature-policy",
                path: SIGNATURE_POLICY_FILE,
                mode: "0644",
                secret: false,
                restartUnits: [],
                mergeKey: target.signatures.scope,
                keyCount: target.signatures.keyCount,
            });
        }
        hostMounts.push({ path: "/etc/containers", type: "DirectoryOrCreate" });
        markerDir = dir;
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
            // Each mirrored upstream's hosts.toml gets the cache first, the upstream as the fallback. The
            // runtime may ship that file itself (microk8s: docker.io), or the operator may have written it:
            // the cache goes into it as a marked block, and the file is otherwise left as it is.
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
                        mergeKey: authority,
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
        if (flavour !== "docker") mirrorCertsDir = certsDir;
    }
    if (target.hasAddress) {
        steps.push({ kind: "etc-hosts", path: "/etc/hosts" });
        hostMounts.push({ path: "/etc/hosts", type: "File" });
    }
    return { flavour, authority, steps, hostMounts, markerDir, ...(mirrorCertsDir ? { mirrorCertsDir } : {}) };
}

// ---------------------------------------------------------------------------------------------
// File contents
// ---------------------------------------------------------------------------------------------

/**
 * A string as a TOML basic string (also a valid YAML double-quoted scalar). The TOML here is written
 * by hand, not with a TOML library, because the files must stay byte-identical to what nodes already
 * hold (a library's layout differs, and it writes no comments or markers); test/unit/tomlFiles.test.ts
 * reads them with smol-toml.
 */
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

/** Marker lines around the program's block in a mirrored upstream's hosts.toml, for the registry `authority`. */
export function mirrorBlockMarkers(authority: string): { begin: string; end: string } {
    return {
        begin: `# BEGIN dso-registry ${authority} mirror (managed block, do not edit)`,
        end: `# END dso-registry ${authority} mirror`,
    };
}

/**
 * A mirrored upstream's hosts.toml as node trust places it: the rendered file (header, `server`, the
 * cache's `[host]` tables) with the tables between the markers of the registry `authority`. A node
 * without the file gets it whole; into a file of the runtime's or the operator's, the merge script
 * (`sh/mirror-hosts-toml.sh`) puts only the marked block.
 */
export function markMirrorHostsToml(rendered: string, authority: string): string {
    const tables = rendered.search(/^\[/m);
    if (tables < 0) throw new Error("a mirror's hosts.toml without a [host] table");
    const { begin, end } = mirrorBlockMarkers(authority);
    return `${rendered.slice(0, tables)}${begin}\n${rendered.slice(tables).replace(/\n+$/, "")}\n${end}\n`;
}

/**
 * The registries.conf drop-in (version 2) of a CRI-O or podman host: for each mirrored upstream a
 * `[[registry]]` whose mirror is the registry's cache (`<authority>/mirrors/<upstream>`, the front's
 * mirror path less `/v2`), which containers/image tries first, then the upstream itself; and, for a
 * plain-HTTP registry, its `insecure` entry. The CA needs no entry: it is in certs.d. A drop-in's
 * `[[registry]]` replaces one with the same prefix in registries.conf or an earlier drop-in.
 */
export function renderRegistriesConf(target: Pick<TrustTarget, "host" | "port" | "plainHttp" | "mirrors">): string {
    const authority = registryAuthority(target.host, target.port);
    const insecure = target.plainHttp ? ["insecure = true"] : [];
    const lines = [MANAGED_HEADER, "# containers-registries.conf.d(5): CRI-O reads it after a reload, podman and skopeo on each run."];
    if (target.plainHttp) {
        lines.push("", "[[registry]]", `prefix = ${quoted(authority)}`, `location = ${quoted(authority)}`, ...insecure);
    }
    for (const mirror of target.mirrors ?? []) {
        const cache = `${authority}${mirrorApiPath(mirror).replace(/^\/v2/, "")}`;
        lines.push(
            "",
            `# ${mirror.upstream} through the registry's pull-through cache; ${mirror.upstream} itself when the cache fails or lacks the image.`,
            "[[registry]]",
            `prefix = ${quoted(mirror.upstream)}`,
            `location = ${quoted(mirror.upstream)}`,
            "",
            "[[registry.mirror]]",
            `location = ${quoted(cache)}`,
            ...insecure,
        );
    }
    return `${lines.join("\n")}\n`;
}

/**
 * The value of `transports.docker["<scope>"]` in the node's policy.json: a sigstore signature by one of
 * `publicKeys` (PEM, cosign.pub), whose claimed repository is the image's. One key is `keyData`, which
 * containers/image reads since sigstore signatures came in (podman 4.2); several are `keyDatas` ("any of
 * them"), which containers/image reads from 5.33 on: a list of requirements would need all of them.
 * `matchRepository` because cosign signs a repository without tag or digest.
 */
export function renderSignatureRequirement(publicKeys: readonly string[]): string {
    if (publicKeys.length === 0) throw new Error("a signature requirement needs at least one public key");
    const data = publicKeys.map((pem) => Buffer.from(normalizePem(pem), "utf8").toString("base64"));
    const keys = data.length === 1 ? { keyData: data[0] } : { keyDatas: data };
    return JSON.stringify([{ type: "sigstoreSigned", ...keys, signedIdentity: { type: "matchRepository" } }], null, 4);
}

/** The registries.d drop-in's lines before its scopes (`sh/policy-json.sh` writes the same file). */
const REGISTRIES_D_HEADER = [
    MANAGED_HEADER,
    "# containers-registries.d(5): read the sigstore signatures attached to these images (the node's policy.json requires them).",
    "docker:",
];

/**
 * The registries.d drop-in: containers/image reads the signatures cosign attaches to the images under
 * each of `scopes`. `sh/policy-json.sh` writes exactly this text from the scopes it is given.
 */
export function renderSignatureRegistriesD(scopes: readonly string[]): string {
    return [...REGISTRIES_D_HEADER, ...scopes.flatMap((scope) => [`  ${quoted(scope)}:`, "    use-sigstore-attachments: true"]), ""].join(
        "\n",
    );
}

/** What a scope may hold: a host name or address (IPv6 in brackets), a port, repository path components. */
const SCOPE_PATTERN = /^[A-Za-z0-9._\-[\]:]+(?:\/[a-z0-9._-]+)*$/;

/**
 * What the signature-policy step reads on stdin (`sh/policy-json.sh`): one line `scope <scope>` for each
 * scope the requirement goes under (`signatureScopes`, the canonical one first), then the requirement
 * (`renderSignatureRequirement`). The scopes travel with the content because one of them may come from
 * the registry's address, which may be known only once the registry is deployed.
 */
export function renderSignaturePolicyInput(scopes: readonly string[], publicKeys: readonly string[]): string {
    if (scopes.length === 0) throw new Error("a signature requirement needs at least one scope");
    const bad = scopes.find((scope) => !SCOPE_PATTERN.test(scope));
    if (bad !== undefined) throw new Error(`"${bad}" is not a scope of a docker image reference`);
    if (new Set(scopes).size !== scopes.length) throw new Error(`a scope is given twice: ${scopes.join(", ")}`);
    return `${scopes.map((scope) => `scope ${scope}`).join("\n")}\n${renderSignatureRequirement(publicKeys)}\n`;
}

/** A PEM bundle with exactly one trailing newline (the config schema has checked that it is PEM). */
export function normalizePem(pem: string): string {
    return `${pem.trim()}\n`;
}

/** Why an address cannot go into /etc/hosts, or undefined. */
export function hostsAddressProblem(address: string): string | undefined {
    if (isIpAddress(address)) return undefined;
    return `"${address}" is not an IP address; /etc/hosts maps names to IPv4 or IPv6 addresses`;
}

// ---------------------------------------------------------------------------------------------
// Scripts (bodies run as root; the caller adds sudo, docker exec or the DaemonSet's environment)
// ---------------------------------------------------------------------------------------------

/** A script of node trust, in `sh/` beside this file. */
function script(name: string): string {
    return path.join(__dirname, "sh", name);
}

/** Marker lines of the managed /etc/hosts block for `host`. */
export function etcHostsMarkers(host: string): { begin: string; end: string } {
    return {
        begin: `# BEGIN dso-registry ${host} (managed block, do not edit)`,
        end: `# END dso-registry ${host}`,
    };
}

/**
 * Puts the managed block mapping `host` to `address` into /etc/hosts, or removes it when `address`
 * is undefined (`sh/etc-hosts.sh`). Lines outside the block stay as they are; a block already present
 * is replaced where it stands; a damaged block (BEGIN without END) stops the script without writing.
 * The new content replaces the file with a rename, or by copying over it where it is a bind mount
 * (containers, kind nodes, the DaemonSet). Prints "changed <path>" or "unchanged <path>".
 */
export function etcHostsScript(host: string, address: string | undefined): string {
    if (address !== undefined) {
        const problem = hostsAddressProblem(address);
        if (problem) throw new Error(`node trust: ${problem}`);
    }
    const { begin, end } = etcHostsMarkers(host);
    return renderShellScript(script("etc-hosts.sh"), { HOST: host, ADDRESS: address ?? "", BEGIN_MARKER: begin, END_MARKER: end });
}

/**
 * Where a node records which node entry of a stack owns the stack's trust files on it: one marker per
 * stack (`project.stack`), so that the stacks of two registries on one node do not meet, and none per
 * registry host, so that a renamed registry host keeps its node's marker.
 */
export function ownerMarkerPath(stack: string): string {
    return `/var/lib/dso-registry/node-trust/${stack}.owner`;
}

/**
 * Claims the node for `entry` (a node entry of the stack `stack`), gives it up again, or checks it before
 * a delete (`sh/owner.sh`): a renamed entry's old deletes, which the engine runs after the new entry's
 * creates on the same machine, then leave the new entry's files in place.
 */
export function ownerScript(action: "claim" | "release" | "check", stack: string, entry: string): string {
    return renderShellScript(script("owner.sh"), { ACTION: action, MARKER: ownerMarkerPath(stack), OWNER: entry });
}

/** A delete body that runs only while the node still belongs to `entry` (it says so and stops otherwise). */
export function whileOwned(stack: string, entry: string, body: string): string {
    return `${ownerScript("check", stack, entry)}\n${body}`;
}

/** Creates a directory that belongs to the registry alone (`sh/dir-create.sh`). */
export function dirCreateScript(dir: string): string {
    return renderShellScript(script("dir-create.sh"), { DIR: dir });
}

/**
 * Removes that directory, after the program's own files in it, if nothing else was put into it
 * (`sh/dir-remove.sh`).
 * @param dir the directory (absolute).
 * @param files names of the files the program places directly in it.
 */
export function dirRemoveScript(dir: string, files: readonly string[] = []): string {
    return renderShellScript(script("dir-remove.sh"), { DIR: dir, FILES: files.join(" ") });
}

/**
 * Names of the files a plan places directly in a directory and owns whole (what its removal takes
 * first). A file the program merges into (a mirrored upstream's hosts.toml) is not one of them: its
 * own removal takes out the program's block only.
 */
export function filesPlacedIn(plan: TrustPlan, dir: string): string[] {
    return plan.steps
        .filter((s): s is FileStep => s.kind === "file" && s.mergeKey === undefined && path.posix.dirname(s.path) === dir)
        .map((s) => path.posix.basename(s.path));
}

/** Places a file that is shared with the operator (registries.yaml): merges the entries on stdin, then restarts. */
function mergeWithRestartBody(step: FileStep, authority: string, restart: RestartSpec, action: "apply" | "remove" | "check"): string {
    const flavour = step.path.startsWith("/etc/rancher/rke2/") ? "rke2" : "k3s";
    return registriesYamlScript(
        { path: step.path, authority, secret: step.secret },
        { flavour, units: step.restartUnits, settings: restart },
        action,
    );
}

/**
 * Puts the program's block (stdin: the whole file, `markMirrorHostsToml`) into a mirrored upstream's
 * hosts.toml, or takes it out (`sh/mirror-hosts-toml.sh`). The file stays the runtime's or the
 * operator's: every other byte is kept, and removal gives it back as it was (its mode too, where the
 * pull password made it root-only). A node without the file gets the program's own, removed with its
 * last block.
 */
export function mirrorHostsTomlScript(step: FileStep, action: "apply" | "remove" | "check"): string {
    return mirrorHostsTomlParams(step.mergeKey!, { ACTION: action, FILE: step.path, MODE: step.mode, SECRET: step.secret });
}

/**
 * The DaemonSet's clean-up after `registry.mirrors` changed: takes the blocks of the registry
 * `authority` out of every hosts.toml under `certsDir` but the upstreams in `keep`, as their removal
 * would, and a file an earlier version wrote whole for one of them (`sh/mirror-hosts-toml.sh`, "prune").
 */
export function mirrorHostsTomlPruneScript(certsDir: string, authority: string, keep: readonly string[]): string {
    return mirrorHostsTomlParams(authority, { ACTION: "prune", CERTS_DIR: certsDir, KEEP: [...keep] });
}

function mirrorHostsTomlParams(
    authority: string,
    params: { ACTION: string; FILE?: string; MODE?: string; SECRET?: boolean; CERTS_DIR?: string; KEEP?: string[] },
): string {
    const { begin, end } = mirrorBlockMarkers(authority);
    return renderShellScript(script("mirror-hosts-toml.sh"), {
        FILE: "",
        MODE: "0644",
        SECRET: false,
        CERTS_DIR: "",
        KEEP: [],
        ...params,
        BEGIN_MARKER: begin,
        END_MARKER: end,
        MANAGED_HEADER,
        // How the cache's [host] table of an earlier version's whole file starts.
        LEGACY_MATCH: `[host."https://${authority}${mirrorApiPath({ pathName: "" })}`,
    });
}

const POLICY_MERGE_AWK = readFileSync(script("policy-json-merge.awk"), "utf8");

/**
 * Puts the registry's requirement under each of its scopes (stdin: `renderSignaturePolicyInput`) into the
 * node's policy.json and places the registries.d drop-in, takes all of them out again, or says whether
 * placing would change them (`sh/policy-json.sh`). The node's file keeps every other byte; removal gives it
 * back as it was.
 */
export function signaturePolicyScript(step: FileStep, authority: string, action: "apply" | "remove" | "check"): string {
    const files = signaturePolicyFiles(authority);
    return renderShellScript(script("policy-json.sh"), {
        ACTION: action,
        FILE: step.path,
        SCOPE: step.mergeKey!,
        KEY_COUNT: step.keyCount ?? 1,
        STATE_FILE: files.state,
        BACKUP_FILE: files.backup,
        REGISTRIES_D_FILE: files.registriesD,
        REGISTRIES_D_HEADER: REGISTRIES_D_HEADER.join("\n"),
        MERGE_AWK: POLICY_MERGE_AWK,
    });
}

/** The registry's authority of a signature-policy step: the first component of its scope (signatureScope). */
function stepAuthority(step: FileStep): string {
    return step.mergeKey!.split("/")[0] as string;
}

/** Marker beside the registries.conf drop-in: it changed, and CRI-O has not been reloaded since. */
const RELOAD_PENDING_FILE = ".dso-registry-reload-pending";

/**
 * Places the CRI-O / podman registries.conf drop-in (stdin), or removes it, and reloads the running
 * units among `reloadUnits` after a change (`sh/registries-conf.sh`).
 */
export function registriesConfScript(step: FileStep, action: "apply" | "remove"): string {
    return renderShellScript(script("registries-conf.sh"), {
        ACTION: action,
        FILE: step.path,
        MODE: step.mode,
        UNITS: [...(step.reloadUnits ?? [])],
        PENDING_FILE: RELOAD_PENDING_FILE,
    });
}

/**
 * The body that places a file step's content (stdin) on the node: the shared file placement; for a
 * shared file the merge of the program's entries (registries.yaml, and the restart that follows; a
 * mirrored upstream's hosts.toml); for CRI-O's drop-in the placement and the reload.
 */
export function placeFileStepBody(step: FileStep, restart: RestartSpec): string {
    switch (step.role) {
        case "registries-yaml":
            return mergeWithRestartBody(step, step.mergeKey!, restart, "apply");
        case "mirror-hosts-toml":
            return mirrorHostsTomlScript(step, "apply");
        case "registries-conf":
            return registriesConfScript(step, "apply");
        case "signature-policy":
            return signaturePolicyScript(step, stepAuthority(step), "apply");
        default:
            return placeFileBody(step);
    }
}

/**
 * For a file the program merges its entries into (registries.yaml, a mirrored upstream's hosts.toml),
 * the body that reads what placing reads on stdin and prints "changed <file>" when placing it would
 * change the file, "unchanged <file>" otherwise, writing and restarting nothing; none for the other
 * steps (whole files are read back by their digest, read-placed-files.sh).
 */
export function checkFileStepBody(step: FileStep, restart: RestartSpec): string | undefined {
    switch (step.role) {
        case "registries-yaml":
            return mergeWithRestartBody(step, step.mergeKey!, restart, "check");
        case "mirror-hosts-toml":
            return mirrorHostsTomlScript(step, "check");
        case "signature-policy":
            return signaturePolicyScript(step, stepAuthority(step), "check");
        default:
            return undefined;
    }
}

/** The body that removes a file step's file again (for a shared file, only the program's entries). */
export function removeFileStepBody(step: FileStep, restart: RestartSpec): string {
    switch (step.role) {
        case "registries-yaml":
            return mergeWithRestartBody(step, step.mergeKey!, restart, "remove");
        case "mirror-hosts-toml":
            return mirrorHostsTomlScript(step, "remove");
        case "registries-conf":
            return registriesConfScript(step, "remove");
        case "signature-policy":
            return signaturePolicyScript(step, stepAuthority(step), "remove");
        default:
            return removeFileBody(step);
    }
}

/**
 * Checks that containerd's CRI plugin reads hosts.toml files from `certsDir` (its `config_path`),
 * and with `allowRestart` sets it (`sh/config-path.sh`, "apply"). When it does not, it reports what to
 * change; with `allowRestart` it sets config_path itself (keeping a copy of the original and a checksum
 * of what it wrote, so removal can put the original back), validates the result with `containerd
 * config dump` where containerd is installed, and restarts containerd. It never edits a config that
 * still has entries in the deprecated `registry.mirrors` / `registry.configs` tables, which containerd
 * refuses together with config_path.
 */
export function configPathCheckScript(step: ConfigPathStep, allowRestart: boolean): string {
    return configPathScript(step, allowRestart, "apply");
}

/**
 * Undoes configPathCheckScript (`sh/config-path.sh`, "remove"): puts the original config back when the
 * file is still exactly what this program wrote, and restarts containerd; otherwise says where the
 * original is.
 */
export function configPathRemoveScript(step: ConfigPathStep, allowRestart: boolean): string {
    return configPathScript(step, allowRestart, "remove");
}

function configPathScript(step: ConfigPathStep, allowRestart: boolean, action: "apply" | "remove"): string {
    return renderShellScript(script("config-path.sh"), {
        ACTION: action,
        CONFIG_FILE: step.configFile,
        CERTS_DIR: step.certsDir,
        ALLOW_RESTART: allowRestart,
    });
}
