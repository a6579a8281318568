/**
 * A client of a registry front whose disk guard is under test (registry.diskGuard, docs/runbooks.md "Disk
 * full"), run inside a test network namespace: pushes of random images with skopeo as the push account,
 * anonymous pulls, the start of a blob upload with curl, the digest of a manifest as a pull reads it, and a
 * look at the storage for blobs whose bytes do not match their digest (a half-written blob that landed).
 * Used by the tests of the in-cluster pod's guard and kind's (the external host's has its own helpers).
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { TestNetns } from "./netns";
import { makeOciImage, type TestAccount, writeAuthFile } from "./realRegistry";
import { type RunResult, removeDir, run } from "./serverProcess";

export interface DiskGuardClientOptions {
    /** Where the clients run: their /etc (hosts, the CA) is the namespace's. */
    readonly ns: Pick<TestNetns, "run">;
    /** `host[:port]` as images name the registry. */
    readonly authority: string;
    /** https with `certDir` (its ca.crt), or plain http. */
    readonly scheme: "https" | "http";
    /** A directory with ca.crt, for https. */
    readonly certDir?: string;
    readonly push: TestAccount;
    /** A directory of the test's for images, auth files and headers. */
    readonly scratch: string;
}

export interface DiskGuardClient {
    /** Pushes an image of `payloadBytes` random bytes to `repository:tag` as the push account; skopeo's result. */
    push(reference: string, payloadBytes: number): RunResult;
    /** An anonymous pull of `repository:tag` with every layer: skopeo's result. */
    pull(reference: string): RunResult;
    /** Deletes the manifest `repository:tag` as the push account: skopeo's result. */
    deleteTag(reference: string): RunResult;
    /** POST …/blobs/uploads/ as the push account: the status and body. */
    startUpload(repository: string): { readonly status: string; readonly body: string };
    /** The digest of the manifest `repository:tag` as an anonymous pull reads it, or "" when there is none. */
    manifestDigest(reference: string): string;
}

export function diskGuardClient(o: DiskGuardClientOptions): DiskGuardClient {
    const tls = (side: "src" | "dest" | "") =>
        o.scheme === "https" ? [`--${side ? `${side}-` : ""}cert-dir`, o.certDir!] : [`--${side ? `${side}-` : ""}tls-verify=false`];
    const noAuth = path.join(o.scratch, "no-auth.json");
    writeFileSync(noAuth, "{}");
    const env = { ...process.env, REGISTRY_AUTH_FILE: noAuth };
    const auth = () => writeAuthFile(o.scratch, o.authority, o.push);
    const skopeo = (args: readonly string[]) => o.ns.run("skopeo", ["--insecure-policy", ...args], { env });
    const base = `${o.scheme}://${o.authority}`;
    const curl = (args: readonly string[], input?: string) =>
        o.ns.run("curl", ["-sS", ...(o.scheme === "https" ? ["--cacert", path.join(o.certDir!, "ca.crt")] : []), ...args], {
            ...(input !== undefined ? { input } : {}),
        });
    return {
        push(reference, payloadBytes) {
            const dir = path.join(o.scratch, `image-${randomBytes(4).toString("hex")}`);
            const image = makeOciImage(dir, payloadBytes);
            try {
                return skopeo([
                    "copy",
                    "--retry-times",
                    "0",
                    ...tls("dest"),
                    "--dest-authfile",
                    auth(),
                    image.ref,
                    `docker://${o.authority}/${reference}`,
                ]);
            } finally {
                removeDir(dir);
            }
        },
        pull(reference) {
            const dir = path.join(o.scratch, `pulled-${randomBytes(4).toString("hex")}`);
            try {
                return skopeo([
                    "copy",
                    "--retry-times",
                    "0",
                    ...tls("src"),
                    "--src-no-creds",
                    `docker://${o.authority}/${reference}`,
                    `oci:${dir}:pulled`,
                ]);
            } finally {
                removeDir(dir);
            }
        },
        deleteTag(reference) {
            return skopeo(["delete", ...tls(""), "--authfile", auth(), `docker://${o.authority}/${reference}`]);
        },
        startUpload(repository) {
            const r = curl(
                ["-K", "-", "-w", "\n%{http_code}", "-X", "POST", `${base}/v2/${repository}/blobs/uploads/`],
                `user = "${o.push.username}:${o.push.password}"\n`,
            );
            const cut = r.stdout.lastIndexOf("\n");
            return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
        },
        manifestDigest(reference) {
            const [name, tag] = reference.split(":");
            const r = curl([
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                "-w",
                "\n%{http_code}",
                `${base}/v2/${name}/manifests/${tag}`,
            ]);
            const cut = r.stdout.lastIndexOf("\n");
            if (r.stdout.slice(cut + 1) !== "200") return "";
            return `sha256:${createHash("sha256").update(r.stdout.slice(0, cut)).digest("hex")}`;
        },
    };
}

/** Every blob in Distribution's storage under `dataDir` whose bytes do not match its digest. */
export function damagedBlobs(dataDir: string): string[] {
    const root = path.join(dataDir, "docker/registry/v2/blobs/sha256");
    return readdirSync(root).flatMap((prefix) =>
        readdirSync(path.join(root, prefix)).filter((digest) => {
            const data = readFileSync(path.join(root, prefix, digest, "data"));
            return createHash("sha256").update(data).digest("hex") !== digest;
        }),
    );
}

/** The file system that holds `dir`: its size and what is used (its size minus what is available), in bytes. */
export function diskUsage(dir: string): { readonly size: number; readonly used: number } {
    const fields = run("df", ["-P", "-B1", dir]).stdout.trim().split("\n")[1]!.split(/\s+/);
    return { size: Number(fields[1]), used: Number(fields[1]) - Number(fields[3]) };
}

/**
 * Calls `check` until it returns something other than undefined, at most `timeoutMs`; throws with `what`
 * then, and what `detail` tells (the servers' logs).
 */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined, detail = () => ""): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = check();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`gave up waiting: ${what}\n${detail()}`);
        await new Promise((r) => setTimeout(r, 500));
    }
}
