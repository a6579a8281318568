/**
 * kind-like nodes for a test Docker engine, without the kind binary: a container built here
 * from Debian's containerd 1.6, or from containerd 2 as kind's node images ship it (built from Go
 * modules by tools/containerd2/build.sh, cached), with a containerd config of version 2 or 3, labelled
 * `io.x-k8s.kind.cluster=<cluster>`, named `<cluster>-control-plane` / `<cluster>-worker[N]`, on the
 * Docker network `kind`. Its containerd socket is bind-mounted to a directory of the test, where a CRI
 * client (`criPullImage`) asks containerd's CRI plugin to pull, as the kubelet does.
 *
 * Also the node watcher's docker CLI image (Debian's docker CLI with busybox), built the same way; the
 * front's `caddy:<tag>` is test/support/dockerImages.ts's `pinnedCaddyImage` (the pinned build).
 *
 * Real kind nodes are privileged containers; this machine refuses the capabilities of one ("unable to
 * apply caps"), and pulling needs only CAP_SYS_ADMIN for the mounts of unpacking.
 *
 * Stand-ins, where a real kind node has systemd: the node's init is a shell loop that starts containerd
 * again whenever it exits, and `systemctl restart containerd` stops containerd (the loop starts it).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { DEFAULT_KIND_WATCHER_IMAGE } from "../../components/shared/defaults";
import type { DockerClient } from "./dockerEngine";
import { busyboxRootfs, copyWithLibraries, imageExists, importRootfs } from "./dockerImages";
import { privateDir, removeDir } from "./serverProcess";

/** Where kind's nodes keep the registry hosts files; the placement's node script writes there. */
export const KIND_CERTS_DIR = "/etc/containerd/certs.d";

/** A node's containerd config: the layout's version and the CRI registry's config_path. */
export interface NodeContainerdConfig {
    /**
     * 2: the CRI plugin's sections as containerd 1.x names them, the layout kind's node images ship for
     * both 1.x and 2.x (containerd 2 migrates it when loading). 3: containerd 2's own plugin names
     * (`io.containerd.cri.v1.images`).
     */
    readonly version: 2 | 3;
    /** The registry section's `config_path`; undefined: no registry section at all. */
    readonly configPath?: string;
    /**
     * `discard_unpacked_layers = true`, as kind's config sets it: containerd 2's CRI then pulls by itself
     * rather than through the transfer service (which reads no hosts directory from a default config_path).
     */
    readonly discardUnpackedLayers?: boolean;
}

/** The platform containerd 2 unpacks images for (the transfer service's `unpack_config`). */
const UNPACK_PLATFORM = `linux/${process.arch === "x64" ? "amd64" : process.arch}`;

/** containerd's config.toml for a node of `major` containerd, laid out as `config` says. */
export function nodeContainerdConfig(config: NodeContainerdConfig, major: 1 | 2): string {
    const quoted = config.configPath === undefined ? undefined : JSON.stringify(config.configPath);
    const discard = config.discardUnpackedLayers ? ["  discard_unpacked_layers = true"] : [];
    // overlayfs on the engine's storage is not available to a nested containerd here: native snapshots.
    // containerd 2 pulls through its transfer service, which unpacks only for the snapshotters it is given.
    const unpackNative =
        major === 2
            ? [
                  '[[plugins."io.containerd.transfer.v1.local".unpack_config]]',
                  `  platform = "${UNPACK_PLATFORM}"`,
                  '  snapshotter = "native"',
              ]
            : [];
    const lines =
        config.version === 2
            ? [
                  "version = 2",
                  "",
                  '[plugins."io.containerd.grpc.v1.cri"]',
                  '  sandbox_image = "registry.k8s.io/pause:3.9"',
                  '[plugins."io.containerd.grpc.v1.cri".containerd]',
                  '  snapshotter = "native"',
                  ...discard,
                  // As in kind's config; containerd 2 migrates the section's snapshotter and
                  // discard_unpacked_layers only when it names runtimes.
                  '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]',
                  '  runtime_type = "io.containerd.runc.v2"',
                  ...(quoted === undefined ? [] : ['[plugins."io.containerd.grpc.v1.cri".registry]', `  config_path = ${quoted}`]),
              ]
            : [
                  "version = 3",
                  "",
                  '[plugins."io.containerd.cri.v1.images"]',
                  '  snapshotter = "native"',
                  ...discard,
                  ...(quoted === undefined ? [] : ['[plugins."io.containerd.cri.v1.images".registry]', `  config_path = ${quoted}`]),
              ];
    return [...lines, ...unpackNative, ""].join("\n");
}

/** A containerd for the nodes: where its `containerd` and `ctr` are, and the node image's tag. */
export interface NodeContainerd {
    /** containerd's major version. */
    readonly major: 1 | 2;
    /** Directory holding `containerd` and `ctr`. */
    readonly binDir: string;
    /** Statically linked (copied as they are) or not (copied with the libraries `ldd` lists). */
    readonly static: boolean;
    /** Tag of the node image built from it. */
    readonly imageTag: string;
    /** The config baked into the node image (a node started without its own). */
    readonly defaultConfig: NodeContainerdConfig;
}

/** Debian's containerd 1.6, with config_path set (as kind's local-registry recipe sets it). */
export const DEBIAN_CONTAINERD: NodeContainerd = {
    major: 1,
    binDir: "/usr/bin",
    static: false,
    imageTag: "containerd",
    defaultConfig: { version: 2, configPath: KIND_CERTS_DIR },
};

let containerd2Dir: string | undefined;

/**
 * containerd 2 at the version kind's node images ship (tools/containerd2), built on first use into the
 * engine tier's cache (a warm cache builds nothing), with the config kind's node images (v0.27 and later)
 * ship: version 2, `discard_unpacked_layers = true`, no config_path.
 */
export function containerd2(): NodeContainerd {
    if (!containerd2Dir) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/containerd2/build.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/containerd2/build.sh failed (exit ${build.status ?? build.signal})`);
        containerd2Dir = build.stdout.trim().split("\n").at(-1) as string;
    }
    return {
        major: 2,
        binDir: containerd2Dir,
        static: true,
        imageTag: path.basename(containerd2Dir),
        defaultConfig: { version: 2, discardUnpackedLayers: true },
    };
}

const NODE_INIT = `#!/bin/sh
# The node's init: containerd, started again whenever it exits (systemd's Restart=always).
trap 'exit 0' TERM INT
while :; do
  containerd --config /etc/containerd/config.toml >>/var/log/containerd.log 2>&1
  sleep 0.2
done
`;

const SYSTEMCTL = `#!/bin/sh
# systemctl stand-in: "restart containerd" stops containerd; the node's init starts it again.
if [ "$1" = restart ] && [ "$2" = containerd ]; then
  for comm in /proc/[0-9]*/comm; do
    if [ "$(cat "$comm" 2>/dev/null)" = containerd ]; then
      pid=\${comm#/proc/}
      kill "\${pid%/comm}"
      exit 0
    fi
  done
  echo "systemctl stand-in: containerd is not running" >&2
  exit 1
fi
echo "systemctl stand-in: $* not supported" >&2
exit 1
`;

/** The node image of `containerd`: busybox, containerd and ctr, the init loop and the systemctl stand-in. */
export function kindNodeImage(client: DockerClient, containerd: NodeContainerd = DEBIAN_CONTAINERD): string {
    const ref = `dso-test/kind-node:${containerd.imageTag}`;
    if (imageExists(client, ref)) return ref;
    const scratch = privateDir("kind-node-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        mkdirSync(path.join(root, "usr/bin"), { recursive: true });
        mkdirSync(path.join(root, "usr/local/bin"), { recursive: true });
        for (const p of ["containerd", "ctr"]) {
            const from = path.join(containerd.binDir, p);
            if (containerd.static) {
                copyFileSync(from, path.join(root, "usr/bin", p));
                chmodSync(path.join(root, "usr/bin", p), 0o755);
            } else copyWithLibraries(from, root, `usr/bin/${p}`);
        }
        for (const d of ["etc/containerd", "var/log", "var/lib/containerd", "run/containerd"])
            mkdirSync(path.join(root, d), { recursive: true });
        writeFileSync(path.join(root, "etc/containerd/config.toml"), nodeContainerdConfig(containerd.defaultConfig, containerd.major));
        writeFileSync(path.join(root, "usr/local/bin/node-init"), NODE_INIT, { mode: 0o755 });
        writeFileSync(path.join(root, "usr/local/bin/systemctl"), SYSTEMCTL, { mode: 0o755 });
        importRootfs(client, root, ref, [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'VOLUME ["/var/lib/containerd"]',
            'ENTRYPOINT ["/usr/local/bin/node-init"]',
        ]);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/** `docker:<tag>-cli` as the watcher and the upkeep container use it: a shell (busybox, with crond), the docker CLI. */
export function dockerCliImage(client: DockerClient, ref = DEFAULT_KIND_WATCHER_IMAGE): string {
    if (imageExists(client, ref)) return ref;
    const scratch = privateDir("docker-cli-image");
    try {
        const root = path.join(scratch, "rootfs");
        busyboxRootfs(root);
        mkdirSync(path.join(root, "usr/local/bin"), { recursive: true });
        copyWithLibraries("/usr/bin/docker", root, "usr/local/bin/docker");
        // Alpine's accounts: busybox crond (the kind upkeep container) runs a crontab as the user it is named after.
        writeFileSync(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        writeFileSync(path.join(root, "etc/group"), "root:x:0:root\n");
        importRootfs(client, root, ref, ["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 'CMD ["sh"]']);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/** A running kind-like node. */
export interface KindNode {
    readonly name: string;
    /** The node's containerd socket, as this machine reaches it. */
    readonly socket: string;
}

/**
 * Runs node `name` of `cluster` on the network `kind` (created when missing), its containerd socket
 * in `runDir` (a new directory each time), with `containerd` (default Debian's) and its image's config,
 * or `config` instead; `configPath` false is Debian's containerd with no config_path.
 */
export function startKindNode(
    client: DockerClient,
    options: {
        readonly cluster: string;
        readonly name: string;
        readonly runDir: string;
        readonly configPath?: boolean;
        readonly containerd?: NodeContainerd;
        readonly config?: NodeContainerdConfig;
        /** `name:address` entries for the node's /etc/hosts (`--add-host`): an upstream registry's stand-in. */
        readonly hosts?: readonly string[];
        /** PEM placed as the node's system CA bundle, which containerd trusts: a stand-in upstream's CA. */
        readonly caBundle?: string;
    },
): KindNode {
    const config = options.configPath === false ? { version: 2 as const } : options.config;
    if (client.docker(["network", "inspect", "kind"]).code !== 0) client.dockerOk(["network", "create", "kind"]);
    mkdirSync(options.runDir, { recursive: true });
    const args = [
        "run",
        "-d",
        // Unpacking a layer mounts it (even with the native snapshotter): CAP_SYS_ADMIN, and mount(2) allowed.
        "--cap-add",
        "SYS_ADMIN",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--name",
        options.name,
        "--hostname",
        options.name,
        "--network",
        "kind",
        "--label",
        `io.x-k8s.kind.cluster=${options.cluster}`,
        "--label",
        "io.x-k8s.kind.role=control-plane",
        ...(options.hosts ?? []).flatMap((h) => ["--add-host", h]),
        "-v",
        `${options.runDir}:/run/containerd`,
        kindNodeImage(client, options.containerd),
    ];
    if (config || options.caBundle) {
        // Created, given its files, then started: the watcher sees its start.
        const created = client.dockerOk(["create", ...args.slice(2)]);
        if (config) {
            const file = path.join(options.runDir, "config.toml");
            writeFileSync(file, nodeContainerdConfig(config, (options.containerd ?? DEBIAN_CONTAINERD).major));
            client.dockerOk(["cp", file, `${created}:/etc/containerd/config.toml`]);
        }
        if (options.caBundle) {
            // Debian's path, which Go's TLS (containerd) reads first; the image has no /etc/ssl yet.
            const ssl = path.join(options.runDir, "ssl");
            mkdirSync(path.join(ssl, "certs"), { recursive: true });
            writeFileSync(path.join(ssl, "certs", "ca-certificates.crt"), options.caBundle);
            client.dockerOk(["cp", ssl, `${created}:/etc/`]);
        }
        client.dockerOk(["start", created]);
    } else {
        client.dockerOk(args);
    }
    return { name: options.name, socket: path.join(options.runDir, "containerd.sock") };
}

/** A length-delimited protobuf field (wire type 2). */
function lenField(field: number, body: Buffer): Buffer {
    const len: number[] = [];
    let n = body.length;
    while (n > 0x7f) {
        len.push((n & 0x7f) | 0x80);
        n >>>= 7;
    }
    len.push(n);
    return Buffer.concat([Buffer.from([(field << 3) | 2, ...len]), body]);
}

/** The first length-delimited field 1 of a protobuf message, as text. */
function firstString(message: Buffer): string {
    if (message.length === 0 || message[0] !== 0x0a) return "";
    let len = 0;
    let shift = 0;
    let i = 1;
    for (;;) {
        const b = message[i++]!;
        len |= (b & 0x7f) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
    }
    return message.subarray(i, i + len).toString("utf8");
}

/**
 * CRI `runtime.v1.ImageService/PullImage` (what the kubelet calls) on the containerd at `socket`:
 * resolves with the image's ref, or rejects with containerd's error. The request is encoded by hand:
 * `PullImageRequest{image: ImageSpec{image: ref}}`.
 */
export function criPullImage(socket: string, ref: string, timeoutMs = 60_000): Promise<string> {
    const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    const request = lenField(1, lenField(1, Buffer.from(ref, "utf8")));
    return new Promise<string>((resolve, reject) => {
        client.makeUnaryRequest(
            "/runtime.v1.ImageService/PullImage",
            (b: Buffer) => b,
            (b: Buffer) => b,
            request,
            new grpc.Metadata(),
            { deadline: Date.now() + timeoutMs },
            (error, response) => {
                client.close();
                if (error) reject(error);
                else resolve(firstString(response!));
            },
        );
    });
}

/**
 * `criPullImage` on `node`, tried again every second while containerd (re)starts or a watcher configures
 * the node, until `timeoutMs` (each try at most `attemptMs`); the last error then names the node and the ref, with `diagnose()`'s text.
 */
export async function criPullUntil(
    node: KindNode,
    ref: string,
    timeoutMs = 90_000,
    diagnose?: () => string,
    attemptMs = 30_000,
): Promise<string> {
    // A loop of its own, not vi.waitFor: an attempt started before the deadline runs to its own end, which vi.waitFor would cut.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            return await criPullImage(node.socket, ref, attemptMs);
        } catch (error) {
            if (Date.now() > deadline)
                throw new Error(`${node.name}: pull of ${ref} failed: ${String(error)}${diagnose ? `\n${diagnose()}` : ""}`);
            await new Promise((r) => setTimeout(r, 1000));
        }
    }
}

/** CRI `ImageService/RemoveImage` of `ref` (so that the next pull fetches it again). */
export function criRemoveImage(socket: string, ref: string): Promise<void> {
    const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    const request = lenField(1, lenField(1, Buffer.from(ref, "utf8")));
    return new Promise<void>((resolve, reject) => {
        client.makeUnaryRequest(
            "/runtime.v1.ImageService/RemoveImage",
            (b: Buffer) => b,
            (b: Buffer) => b,
            request,
            new grpc.Metadata(),
            { deadline: Date.now() + 30_000 },
            (error) => {
                client.close();
                if (error) reject(error);
                else resolve();
            },
        );
    });
}
