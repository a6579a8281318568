/**
 * A node image for the real `kind create cluster` (test/support/kindCluster.ts), built here because no
 * registry can be reached: a Debian root filesystem made by debootstrap from the mirror apt uses (systemd,
 * Debian's containerd 1.6 and runc, the CNI plugins of containernetworking-plugins, iptables), the kubelet,
 * kubeadm and kubectl of the engine set (v1.37), and the images kubeadm runs, built from the engine set's
 * binaries as OCI archives under /kind/images, imported into the node's containerd at boot.
 *
 * The layout kind reads: /kind/version (the Kubernetes version), /kind/manifests/default-cni.yaml (here a
 * ConfigMap only: containerd writes each node's bridge config from its `conf_template`),
 * /kind/manifests/default-storage.yaml (the default StorageClass on kube-controller-manager's host-path
 * provisioner), /etc/containerd/config.toml, and an entrypoint that ends in systemd. The node's own files
 * are in test/support/kindNodeImage/.
 *
 * Which images kubeadm runs, and under which names (kubeadm v1.37's defaults, but etcd and CoreDNS at the
 * versions built here, which the cluster's config names with `kubeadmConfigPatches`, see
 * `kubeadmImagePatch`):
 *   registry.k8s.io/kube-{apiserver,controller-manager,scheduler,proxy}:<the engine set's version>, registry.k8s.io/pause:3.10.2,
 *   registry.k8s.io/etcd:<etcd build>-0, registry.k8s.io/coredns/coredns:v<CoreDNS build>.
 *
 * Cached by content: the image is saved (`docker save`) under the engine cache's kind-node/, keyed by the
 * hash of this directory's files, the Debian package list and the binaries, and loaded into each new Docker
 * engine; the debootstrap root filesystem is cached there too, keyed by the package list and the mirror.
 */
import { createHash } from "node:crypto";
import {
    chmodSync,
    copyFileSync,
    existsSync,
    mkdirSync,
    readdirSync,
    readFileSync,
    renameSync,
    rmSync,
    symlinkSync,
    writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import type { DockerClient } from "./dockerEngine";
import { busyboxRootfs, importRootfs, type OciArchives, pauseImage } from "./dockerImages";
import { LAYER_TAR_FLAGS } from "./ociArchive";
import { engineSet } from "./pulumiEngine";
import { privateDir, removeDir, run, runOk } from "./serverProcess";

/** The node's own files (entrypoint, units, containerd config, manifests). */
const FILES = path.join(__dirname, "kindNodeImage");

/**
 * The Kubernetes version of the engine set's kubelet, kubeadm and kubectl: the k8s.io/kubernetes that
 * tools/engine/kube/kubernetes/go.mod requires, which tools/engine/kube/build.sh stamps into them.
 */
export const KIND_NODE_KUBE_VERSION: string = (() => {
    const goMod = readFileSync(path.join(__dirname, "../../tools/engine/kube/kubernetes/go.mod"), "utf8");
    const version = /^\s*k8s\.io\/kubernetes (v\d+\.\d+\.\d+)\b/m.exec(goMod)?.[1];
    if (!version) throw new Error("tools/engine/kube/kubernetes/go.mod requires no k8s.io/kubernetes");
    return version;
})();
/** The pause image kubeadm v1.37 names (containerd's sandbox image in containerd-config.toml). */
const PAUSE_REF = "registry.k8s.io/pause:3.10.2";

/** Debian packages of the node, beside debootstrap's minimal base. */
const NODE_PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "iproute2",
    "conntrack",
    "ethtool",
    "socat",
    "kmod",
    "mount",
    "util-linux",
    "procps",
    "ca-certificates",
    "libseccomp2",
];

/** The engine cache (tools/go-build.sh's rule). */
function engineCache(): string {
    return process.env.DSO_ENGINE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "dso-registry/engine");
}

/** The version of a static binary built here (`<binary> --version` prints e.g. `etcd Version: 3.6.16`). */
function binaryVersion(binary: string, pattern: RegExp): string {
    const out = run(binary, ["--version"]);
    const found = pattern.exec(`${out.stdout}\n${out.stderr}`)?.[1];
    if (!found) throw new Error(`no version in ${binary} --version: ${out.stdout}${out.stderr}`);
    return found;
}

/** Where the binaries come from. */
export interface KindNodeBinaries {
    /** The engine set's bin/ (kubelet, kubectl, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd, coredns). */
    readonly bin: string;
    /** kubeadm, at {@link KIND_NODE_KUBE_VERSION}. */
    readonly kubeadm: string;
    readonly etcdVersion: string;
    readonly coreDnsVersion: string;
}

/** The engine set's binaries (tools/engine/kube/build.sh builds kubeadm beside the kubelet, from the same module). */
export function kindNodeBinaries(): KindNodeBinaries {
    const bin = path.join(engineSet(), "bin");
    const kubeadm = path.join(bin, "kubeadm");
    if (!existsSync(kubeadm)) throw new Error("kubeadm is not in the engine set: run `npm run engine:build`");
    return {
        bin,
        kubeadm,
        etcdVersion: binaryVersion(path.join(bin, "etcd"), /etcd Version: (\S+)/),
        coreDnsVersion: binaryVersion(path.join(bin, "coredns"), /CoreDNS-(\S+)/),
    };
}

/** The ClusterConfiguration patch that names the etcd and CoreDNS images built here (kind's `kubeadmConfigPatches`). */
export function kubeadmImagePatch(binaries: KindNodeBinaries): string {
    return [
        "kind: ClusterConfiguration",
        "etcd:",
        "  local:",
        `    imageTag: ${binaries.etcdVersion}-0`,
        "dns:",
        `  imageTag: v${binaries.coreDnsVersion}`,
        "",
    ].join("\n");
}

/** sha256 of the files given, in order (names and contents). */
function hashFiles(files: readonly string[]): string {
    const hash = createHash("sha256");
    for (const file of files) {
        hash.update(`${path.basename(file)}\0`);
        hash.update(runOk("sha256sum", [file]).stdout.split(" ")[0] as string);
    }
    return hash.digest("hex");
}

/** The Debian mirror and suite apt uses on this machine (deb822 `.sources` or one-line `.list`), for debootstrap. */
function aptMirror(): { readonly uri: string; readonly suite: string } {
    const release = /^VERSION_CODENAME=(\S+)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
    if (!release) throw new Error("no VERSION_CODENAME in /etc/os-release");
    const sources = ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d").map((f) => path.join("/etc/apt/sources.list.d", f))];
    for (const file of sources.filter((f) => existsSync(f))) {
        const text = readFileSync(file, "utf8");
        for (const stanza of text.split(/\n\s*\n/)) {
            const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
            const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
            if (uri && suites.includes(release) && /\/debian\/?$/.test(uri)) return { uri, suite: release };
        }
        for (const line of text.split("\n")) {
            const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/.exec(line);
            if (m && m[2] === release && /\/debian\/?$/.test(m[1] as string)) return { uri: m[1] as string, suite: release };
        }
    }
    throw new Error(`no Debian mirror for ${release} in apt's sources`);
}

function listDir(dir: string): string[] {
    return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * The node's Debian root filesystem as a tarball in the cache (debootstrap, about a minute cold), keyed by the
 * package list and the mirror. Returns the tarball's path.
 */
function debianRootfs(cacheDir: string): string {
    const mirror = aptMirror();
    const key = createHash("sha256")
        .update(JSON.stringify([mirror, NODE_PACKAGES]))
        .digest("hex")
        .slice(0, 16);
    const tarball = path.join(cacheDir, `rootfs-${mirror.suite}-${key}.tar`);
    if (existsSync(tarball)) return tarball;
    const scratch = privateDir("kind-rootfs");
    try {
        const root = path.join(scratch, "rootfs");
        runOk("debootstrap", ["--variant=minbase", `--include=${NODE_PACKAGES.join(",")}`, mirror.suite, root, mirror.uri], {
            timeout: 20 * 60_000,
        });
        // What a node never needs: package caches, documentation, manuals, locales.
        for (const d of ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"]) {
            rmSync(path.join(root, d), { recursive: true, force: true });
            mkdirSync(path.join(root, d), { recursive: true });
        }
        runOk("tar", [...LAYER_TAR_FLAGS, "-C", root, "-cf", `${tarball}.partial`, "."], { timeout: 10 * 60_000 });
        renameSync(`${tarball}.partial`, tarball);
        return tarball;
    } finally {
        removeDir(scratch);
    }
}

/** A busybox image in `target` holding `binary` at /usr/local/bin/<name> (on PATH), with `command` as its entrypoint when given. */
function binaryImage(target: OciArchives, ref: string, binary: string, name: string, entrypoint?: readonly string[]): void {
    const scratch = privateDir("kind-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        mkdirSync(path.join(root, "usr/local/bin"), { recursive: true });
        copyFileSync(binary, path.join(root, "usr/local/bin", name));
        chmodSync(path.join(root, "usr/local/bin", name), 0o755);
        importRootfs(target, root, ref, [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ...(entrypoint ? [`ENTRYPOINT ${JSON.stringify(entrypoint)}`] : []),
        ]);
    } finally {
        removeDir(scratch);
    }
}

/**
 * kube-proxy's image: the binary and iptables (the node root filesystem's nft backend, with its libraries and
 * extensions), as kube-proxy's own image carries them.
 */
function kubeProxyImage(target: OciArchives, ref: string, kubeProxy: string, nodeRoot: string): void {
    const scratch = privateDir("kind-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        for (const d of ["usr/local/bin", "usr/sbin", "run", "var/run"]) mkdirSync(path.join(root, d), { recursive: true });
        copyFileSync(kubeProxy, path.join(root, "usr/local/bin/kube-proxy"));
        chmodSync(path.join(root, "usr/local/bin/kube-proxy"), 0o755);
        // The node's own iptables, run with the node's libraries through its loader.
        const multi = "usr/sbin/xtables-nft-multi";
        const libs = runOk("chroot", [nodeRoot, "ldd", `/${multi}`])
            .stdout.split("\n")
            .map((line) => /(\/\S+) \(0x/.exec(line)?.[1])
            .filter((lib): lib is string => lib !== undefined);
        for (const file of [multi, ...libs.map((l) => l.slice(1))]) {
            mkdirSync(path.join(root, path.dirname(file)), { recursive: true });
            copyFileSync(path.join(nodeRoot, file), path.join(root, file));
        }
        chmodSync(path.join(root, multi), 0o755);
        // iptables' extensions, in Debian's multiarch directory (usr/lib/<triplet>/xtables).
        for (const triplet of listDir(path.join(nodeRoot, "usr/lib")).filter((d) =>
            existsSync(path.join(nodeRoot, "usr/lib", d, "xtables")),
        )) {
            const xtables = path.join("usr/lib", triplet, "xtables");
            mkdirSync(path.join(root, path.dirname(xtables)), { recursive: true });
            runOk("cp", ["-a", path.join(nodeRoot, xtables), path.join(root, path.dirname(xtables))]);
        }
        for (const tool of ["iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"]) {
            rmSync(path.join(root, "usr/sbin", tool), { force: true });
            symlinkSync("xtables-nft-multi", path.join(root, "usr/sbin", tool));
        }
        importRootfs(target, root, ref, ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]);
    } finally {
        removeDir(scratch);
    }
}

/** systemd units the node never starts in a container (as kind's base image leaves them out). */
function trimSystemd(root: string): void {
    const clear = (dir: string, match: (f: string) => boolean = () => true) => {
        for (const f of listDir(path.join(root, dir)).filter(match)) rmSync(path.join(root, dir, f), { recursive: true, force: true });
    };
    clear("lib/systemd/system/sysinit.target.wants", (f) => f === "systemd-tmpfiles-setup.service");
    clear("lib/systemd/system/multi-user.target.wants");
    clear("lib/systemd/system/local-fs.target.wants");
    clear("lib/systemd/system/basic.target.wants");
    clear("lib/systemd/system/sockets.target.wants", (f) => f.includes("udev") || f.includes("initctl"));
    for (const wants of listDir(path.join(root, "etc/systemd/system")).filter((d) => d.endsWith(".wants")))
        clear(path.join("etc/systemd/system", wants));
    // The kernel's log is the machine's, not the node's.
    writeFileSync(path.join(root, "etc/systemd/journald.conf"), "[Journal]\nReadKMsg=no\n");
    for (const masked of ["systemd-binfmt.service"]) {
        rmSync(path.join(root, "etc/systemd/system", masked), { force: true });
        symlinkSync("/dev/null", path.join(root, "etc/systemd/system", masked));
    }
}

/** Installs `file` of FILES at `target` in `root` with `mode`. */
function install(root: string, file: string, target: string, mode = 0o644): void {
    mkdirSync(path.join(root, path.dirname(target)), { recursive: true });
    copyFileSync(path.join(FILES, file), path.join(root, target));
    chmodSync(path.join(root, target), mode);
}

/** Enables `unit` for multi-user.target. */
function enable(root: string, unit: string): void {
    const wants = path.join(root, "etc/systemd/system/multi-user.target.wants");
    mkdirSync(wants, { recursive: true });
    symlinkSync(`/etc/systemd/system/${unit}`, path.join(wants, unit));
}

/** Builds the node's root filesystem into `root` and its image archives into root/kind/images. */
function assemble(root: string, rootfsTar: string, binaries: KindNodeBinaries): void {
    mkdirSync(root, { recursive: true });
    runOk("tar", ["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root, "-xf", rootfsTar], { timeout: 10 * 60_000 });
    trimSystemd(root);
    // kind's layout.
    install(root, "entrypoint", "usr/local/bin/entrypoint", 0o755);
    install(root, "containerd-config.toml", "etc/containerd/config.toml");
    install(root, "cni-template.json", "etc/containerd/cni-template.json");
    install(root, "default-cni.yaml", "kind/manifests/default-cni.yaml");
    install(root, "default-storage.yaml", "kind/manifests/default-storage.yaml");
    install(root, "preload-images", "kind/bin/preload-images", 0o755);
    writeFileSync(path.join(root, "kind/version"), `${KIND_NODE_KUBE_VERSION}\n`);
    for (const unit of ["containerd.service", "kubelet.service", "kubelet.slice", "dso-preload-images.service"])
        install(root, unit, `etc/systemd/system/${unit}`);
    // Debian's own containerd unit asks for what this machine withholds (OOMScoreAdjust=-999, unlimited limits).
    rmSync(path.join(root, "lib/systemd/system/containerd.service"), { force: true });
    for (const unit of ["containerd.service", "kubelet.service", "dso-preload-images.service"]) enable(root, unit);
    mkdirSync(path.join(root, "etc/kubernetes/manifests"), { recursive: true });
    mkdirSync(path.join(root, "etc/containerd/certs.d"), { recursive: true });
    mkdirSync(path.join(root, "etc/cni/net.d"), { recursive: true });
    // The kubelet, kubeadm and kubectl of the engine set.
    for (const [from, name] of [
        [path.join(binaries.bin, "kubelet"), "kubelet"],
        [path.join(binaries.bin, "kubectl"), "kubectl"],
        [binaries.kubeadm, "kubeadm"],
    ] as const) {
        copyFileSync(from, path.join(root, "usr/bin", name));
        chmodSync(path.join(root, "usr/bin", name), 0o755);
    }
    // The images kubeadm runs.
    const images: OciArchives = { archiveDir: path.join(root, "kind/images") };
    mkdirSync(images.archiveDir, { recursive: true });
    pauseImage(images, PAUSE_REF);
    for (const component of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
        binaryImage(images, `registry.k8s.io/${component}:${KIND_NODE_KUBE_VERSION}`, path.join(binaries.bin, component), component);
    kubeProxyImage(images, `registry.k8s.io/kube-proxy:${KIND_NODE_KUBE_VERSION}`, path.join(binaries.bin, "kube-proxy"), root);
    binaryImage(images, `registry.k8s.io/etcd:${binaries.etcdVersion}-0`, path.join(binaries.bin, "etcd"), "etcd");
    binaryImage(images, `registry.k8s.io/coredns/coredns:v${binaries.coreDnsVersion}`, path.join(binaries.bin, "coredns"), "coredns", [
        "/usr/local/bin/coredns",
    ]);
}

/** The node image's reference for these binaries and files (the cache key is its tag). */
function imageKey(binaries: KindNodeBinaries): string {
    const own = listDir(FILES)
        .sort()
        .map((f) => path.join(FILES, f));
    const bins = ["kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "etcd", "coredns"].map(
        (b) => path.join(binaries.bin, b),
    );
    return createHash("sha256")
        .update(hashFiles([...own, __filename, ...bins, binaries.kubeadm]))
        .update(JSON.stringify(NODE_PACKAGES))
        .digest("hex")
        .slice(0, 16);
}

/**
 * The node image in `client`'s engine, built (or loaded from the cache) when missing. Returns its reference,
 * `dso-test/kind-node:<version>-<key>`, and how long getting it took.
 */
export function kindNodeImage(client: DockerClient, binaries: KindNodeBinaries = kindNodeBinaries()): { ref: string; seconds: number } {
    const started = Date.now();
    const ref = `dso-test/kind-node:${KIND_NODE_KUBE_VERSION}-${imageKey(binaries)}`;
    const done = () => ({ ref, seconds: Math.round((Date.now() - started) / 1000) });
    if (client.docker(["image", "inspect", ref]).code === 0) return done();
    const cacheDir = path.join(engineCache(), "kind-node");
    mkdirSync(cacheDir, { recursive: true });
    const saved = path.join(cacheDir, `${ref.replace(/[^A-Za-z0-9._-]/g, "_")}.tar`);
    if (!existsSync(saved)) {
        const rootfsTar = debianRootfs(cacheDir);
        const scratch = privateDir("kind-node");
        try {
            const root = path.join(scratch, "rootfs");
            assemble(root, rootfsTar, binaries);
            importRootfs(client, root, ref, [
                "ENV container=docker",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
            ]);
        } finally {
            removeDir(scratch);
        }
        client.dockerOk(["save", "-o", `${saved}.partial`, ref]);
        renameSync(`${saved}.partial`, saved);
        // One node image is kept (about 1 GB): those of other files or binaries are stale.
        for (const stale of listDir(cacheDir).filter((f) => f.startsWith("dso-test_kind-node_") && f !== path.basename(saved)))
            rmSync(path.join(cacheDir, stale), { force: true });
        return done();
    }
    client.dockerOk(["load", "-i", saved]);
    return done();
}
