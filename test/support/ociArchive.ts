/**
 * Image archives for a containerd that no registry can reach (a real node's, test/support/kubeNode.ts): a
 * root filesystem and Dockerfile-style changes (the same ones `docker import --change` takes) written as an
 * OCI image layout in one tar, one uncompressed layer, named in its index with containerd's
 * `io.containerd.image.name` annotation, so that `ctr -n k8s.io images import FILE` gives the image under
 * the name a pod spec pins (`docker.io/library/registry:3.1.2` for `registry:3.1.2`).
 *
 * Usage:
 *   writeOciArchive(rootfsDir, "caddy:2.8.4", ['CMD ["caddy", "run"]'], "/tmp/x/caddy.tar");
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { runOk } from "./serverProcess";

/** How a root file system becomes a layer: owned by root, file capabilities kept (Caddy's, as the official image has it). */
export const LAYER_TAR_FLAGS = ["--numeric-owner", "--owner=0", "--group=0", "--xattrs", "--xattrs-include=security.capability"];

/** The reference as containerd names it: `caddy:2.8.4` → `docker.io/library/caddy:2.8.4`. */
export function normalizedReference(ref: string): string {
    const slash = ref.indexOf("/");
    const first = slash === -1 ? "" : ref.slice(0, slash);
    const hasRegistry = first.includes(".") || first.includes(":") || first === "localhost";
    if (hasRegistry) return ref;
    return slash === -1 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
}

/** An image config's `config` from Dockerfile-style changes (ENV, ENTRYPOINT, CMD, EXPOSE, VOLUME, WORKDIR, USER). */
export function imageConfigOf(changes: readonly string[]): Record<string, unknown> {
    const config: Record<string, unknown> = {};
    const env: string[] = [];
    const set = (key: string, value: unknown) => {
        config[key] = value;
    };
    for (const change of changes) {
        const [instruction = "", ...rest] = change.split(" ");
        const value = rest.join(" ");
        switch (instruction.toUpperCase()) {
            case "ENV":
                env.push(value);
                break;
            case "ENTRYPOINT":
            case "CMD":
                set(instruction === "CMD" ? "Cmd" : "Entrypoint", value.startsWith("[") ? JSON.parse(value) : ["/bin/sh", "-c", value]);
                break;
            case "EXPOSE":
                set("ExposedPorts", Object.fromEntries(rest.map((p) => [p.includes("/") ? p : `${p}/tcp`, {}])));
                break;
            case "VOLUME":
                set("Volumes", Object.fromEntries((JSON.parse(value) as string[]).map((v) => [v, {}])));
                break;
            case "WORKDIR":
                set("WorkingDir", value);
                break;
            case "USER":
                set("User", value);
                break;
            default:
                throw new Error(`writeOciArchive: change not understood: ${change}`);
        }
    }
    if (env.length > 0) config.Env = env;
    return config;
}

/** Writes `root` with `changes` as image `ref` to the OCI archive `out`. */
export function writeOciArchive(root: string, ref: string, changes: readonly string[], out: string): void {
    const layout = `${out}.layout`;
    rmSync(layout, { recursive: true, force: true });
    const blobs = path.join(layout, "blobs", "sha256");
    mkdirSync(blobs, { recursive: true });
    const put = (bytes: Buffer): { digest: string; size: number } => {
        const hex = createHash("sha256").update(bytes).digest("hex");
        writeFileSync(path.join(blobs, hex), bytes);
        return { digest: `sha256:${hex}`, size: bytes.length };
    };
    try {
        const layerFile = path.join(layout, "layer.tar");
        runOk("tar", [...LAYER_TAR_FLAGS, "-C", root, "-cf", layerFile, "."]);
        const layerBytes = readFileSync(layerFile);
        rmSync(layerFile);
        const layer = put(layerBytes);
        const config = put(
            Buffer.from(
                JSON.stringify({
                    architecture: "amd64",
                    os: "linux",
                    config: imageConfigOf(changes),
                    rootfs: { type: "layers", diff_ids: [layer.digest] },
                }),
            ),
        );
        const manifest = put(
            Buffer.from(
                JSON.stringify({
                    schemaVersion: 2,
                    mediaType: "application/vnd.oci.image.manifest.v1+json",
                    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
                    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
                }),
            ),
        );
        const name = normalizedReference(ref);
        writeFileSync(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
        writeFileSync(
            path.join(layout, "index.json"),
            JSON.stringify({
                schemaVersion: 2,
                manifests: [
                    {
                        mediaType: "application/vnd.oci.image.manifest.v1+json",
                        ...manifest,
                        platform: { architecture: "amd64", os: "linux" },
                        annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.split(":").pop() },
                    },
                ],
            }),
        );
        runOk("tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", layout, "-cf", `${out}.partial`, "."]);
        renameSync(`${out}.partial`, out);
    } finally {
        rmSync(layout, { recursive: true, force: true });
    }
}
