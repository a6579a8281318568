/**
 * The external host's disk guard (`registry.diskGuard`, docs/runbooks.md "Disk full") against real
 * Distribution and the pinned Caddy with the host's front, on a data directory that is a small file
 * system of its own (a tmpfs), filled by real pushes: the guard's script as the host's cron runs it
 * (dso-registry-disk-guard.sh, rendered), past `refusePercent` the front answers new uploads 507 with
 * a message saying the disk is full and what to do, pulls and deletes go on, no kept image is lost and
 * no half-written blob lands; once a tag's deletion and the garbage collection free space, the guard's
 * next run lets pushes in again.
 */
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DISK_FULL_MESSAGE } from "../../components/accessPolicy/caddyfile";
import { defaultHostLayout, diskGuardScript, hostPaths } from "../../components/externalHost/scripts";
import { JOB_METRICS } from "../../components/monitoring/jobMetrics";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { makeOciImage, type RealRegistry, skopeoCopy, skopeoDelete, startRealRegistry } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;

let reg: RealRegistry;
let work: string;
let layout: ReturnType<typeof defaultHostLayout>;
let guardFile: string;
let textfileDir: string;

beforeAll(async () => {
    work = privateDir("disk-guard");
    layout = { ...defaultHostLayout("/unused"), caddyDir: path.join(work, "caddy") };
    reg = await startRealRegistry({
        caddyBinary: pinnedCaddy(),
        dataFsMiB: DATA_FS_MIB,
        policy: {
            readOnlySignals: [{ kind: "file", path: hostPaths(layout).readOnlyMarker }],
            diskFullSignal: hostPaths(layout).diskFullMarker,
        },
    });
    layout = { ...layout, dataDir: reg.dataDir };
    textfileDir = path.join(work, "textfile");
    guardFile = path.join(work, "dso-registry-disk-guard");
    writeFileSync(guardFile, diskGuardScript(layout, { refusePercent: REFUSE_PERCENT }, textfileDir), { mode: 0o755 });
}, 120_000);

afterAll(async () => {
    await reg?.stop();
    if (work) removeDir(work);
});

/** The guard's run, as cron runs it; its output. */
function guard(): string {
    const r = run("sh", [guardFile]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
}

/** The guard's series for node_exporter. */
function refusingSeries(): string | undefined {
    const text = readFileSync(path.join(textfileDir, "dso_registry_disk_guard.prom"), "utf8");
    return new RegExp(`^${JOB_METRICS.diskGuardRefusing} (\\d)$`, "m").exec(text)?.[1];
}

/** The data file system: its size and what is used, in bytes. */
function disk(): { size: number; used: number } {
    const fields = run("df", ["-P", "-B1", reg.dataDir]).stdout.trim().split("\n")[1]!.split(/\s+/);
    return { size: Number(fields[1]), used: Number(fields[1]) - Number(fields[3]) };
}

/** Pushes an image of `payloadBytes` random bytes as the push account; skopeo's result and the pushed digest. */
function push(repository: string, payloadBytes: number) {
    const dir = path.join(work, `image-${randomBytes(4).toString("hex")}`);
    const image = makeOciImage(dir, payloadBytes);
    const r = skopeoCopy(image.ref, `docker://${reg.authority}/${repository}`, {
        certDir: reg.certDir,
        creds: reg.push,
        scratch: work,
    });
    removeDir(dir);
    return { ...r, digest: r.code === 0 ? manifestDigest(repository) : "" };
}

/** The digest of a manifest as an anonymous pull reads it (the registry serves it whole), or "" when there is none. */
function manifestDigest(repository: string): string {
    const [name, tag] = repository.split(":");
    const r = run("curl", [
        "-sS",
        "--cacert",
        reg.ca.caCertFile,
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        "-w",
        "\n%{http_code}",
        `${reg.url}/v2/${name}/manifests/${tag}`,
    ]);
    const status = r.stdout.slice(r.stdout.lastIndexOf("\n") + 1);
    if (status !== "200") return "";
    return `sha256:${createHash("sha256")
        .update(r.stdout.slice(0, r.stdout.lastIndexOf("\n")))
        .digest("hex")}`;
}

/** An anonymous pull of `repository` with every layer: skopeo's exit code. */
function pull(repository: string): number {
    const dir = path.join(work, `pulled-${randomBytes(4).toString("hex")}`);
    const r = skopeoCopy(`docker://${reg.authority}/${repository}`, `oci:${dir}:pulled`, { certDir: reg.certDir, scratch: work });
    removeDir(dir);
    return r.code;
}

/** Every blob in the storage whose bytes do not match its digest (a half-written blob that landed). */
function damagedBlobs(): string[] {
    const root = path.join(reg.dataDir, "docker/registry/v2/blobs/sha256");
    return readdirSync(root).flatMap((prefix) =>
        readdirSync(path.join(root, prefix)).filter((digest) => {
            const data = readFileSync(path.join(root, prefix, digest, "data"));
            return createHash("sha256").update(data).digest("hex") !== digest;
        }),
    );
}

/** A request with curl as the push account: status, body and the Location header. */
function asPusher(args: readonly string[]): { status: string; body: string; location?: string } {
    const headers = path.join(work, "headers");
    const r = run("curl", ["-sS", "--cacert", reg.ca.caCertFile, "-K", "-", "-D", headers, "-w", "\n%{http_code}", ...args], {
        input: `user = "${reg.push.username}:${reg.push.password}"\n`,
    });
    const cut = r.stdout.lastIndexOf("\n");
    const location = /^location:\s*(\S+)/im.exec(readFileSync(headers, "utf8"))?.[1];
    return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut), ...(location ? { location } : {}) };
}

/** A new blob upload started as the push account. */
const startUpload = (repository: string) => asPusher(["-X", "POST", `${reg.url}/v2/${repository}/blobs/uploads/`]);

const sha256 = (blob: Buffer) => `sha256:${createHash("sha256").update(blob).digest("hex")}`;
const sessionUrl = (location: string) => (location.startsWith("http") ? location : `${reg.url}${location}`);

/**
 * An open upload session finished (PUT with the blob's digest): with the blob as its body, or, with `sent`,
 * without a body, its data sent before. Chunked sends the body without a length. The status and the Location.
 */
function finishUpload(location: string, blob: Buffer, how: "body" | "chunked" | "sent" = "body") {
    const file = path.join(work, "blob");
    writeFileSync(file, blob);
    const url = sessionUrl(location);
    // Without a body, as Go's clients (docker, skopeo) send it: with a length of zero.
    const body =
        how === "sent"
            ? ["-X", "PUT", "-H", "Content-Length: 0"]
            : ["-T", file, ...(how === "chunked" ? ["-H", "Transfer-Encoding: chunked"] : [])];
    return asPusher([
        "-H",
        "Content-Type: application/octet-stream",
        ...body,
        `${url}${url.includes("?") ? "&" : "?"}digest=${sha256(blob)}`,
    ]);
}

/** Data sent to an open upload session (PATCH), with a length or chunked: the status and the next Location. */
function sendData(location: string, blob: Buffer, how: "body" | "chunked" = "body") {
    const file = path.join(work, "chunk");
    writeFileSync(file, blob);
    const chunked = how === "chunked" ? ["-H", "Transfer-Encoding: chunked"] : [];
    return asPusher([
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/octet-stream",
        ...chunked,
        "--data-binary",
        `@${file}`,
        sessionUrl(location),
    ]);
}

/** Whether the blob exists in `repository`, as an anonymous pull sees it: the status of a HEAD. */
function blobStatus(repository: string, blob: Buffer): string {
    return run("curl", [
        "-sS",
        "--cacert",
        reg.ca.caCertFile,
        "-I",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        `${reg.url}/v2/${repository}/blobs/${sha256(blob)}`,
    ]).stdout;
}

describe("the disk guard on a data disk filled by real pushes", () => {
    test("past refusePercent new uploads get 507 saying the disk is full, pulls and deletes go on; after a clean-up pushes resume", () => {
        const keep = push("team/keep:1", 2 ** 20);
        expect(keep.code, keep.stderr).toBe(0);
        expect(guard()).toBe("");
        expect(refusingSeries()).toBe("0");

        // What fills it: one big image, to about 94% used, still short of full.
        const { size, used } = disk();
        const filler = push("team/scratch:big", Math.floor(size * 0.94) - used);
        expect(filler.code, filler.stderr).toBe(0);
        expect(disk().used / size).toBeGreaterThan(REFUSE_PERCENT / 100);
        expect(disk().used / size).toBeLessThan(0.99);

        // Uploads that pushes started before the guard's run; the last one sent all its data already.
        const open = Array.from({ length: 5 }, () => startUpload("team/open"));
        expect(open.map((u) => u.status)).toEqual(Array(5).fill("202"));
        const blobs = open.map(() => randomBytes(2 ** 20));
        const sentBefore = sendData(open[4]!.location!, blobs[4]!);
        expect(sentBefore.status).toBe("202");

        // The guard's next run refuses new uploads: with room still there, the front turns the push away.
        expect(guard()).toMatch(new RegExp(`^data disk \\d+% used, past ${REFUSE_PERCENT}%: new uploads are refused`));
        expect(refusingSeries()).toBe("1");
        const refused = startUpload("team/next");
        expect(refused.status).toBe("507");
        expect(JSON.parse(refused.body)).toEqual({ errors: [{ code: "DENIED", message: DISK_FULL_MESSAGE, detail: null }] });
        // Only after the push accounts' check: without credentials, the usual 401.
        const anonymous = run("curl", [
            "-sS",
            "--cacert",
            reg.ca.caCertFile,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            `${reg.url}/v2/team/next/blobs/uploads/`,
        ]);
        expect(anonymous.stdout).toBe("401");
        const next = push("team/next:1", 2 ** 20);
        expect(next.code).not.toBe(0);
        expect(next.stderr).toContain("507 Insufficient Storage");
        expect(manifestDigest("team/next:1")).toBe("");
        // Uploads already open get no more data, in a PATCH or the final PUT, with a length or chunked: the
        // same 507, and nothing of it lands.
        const refusedData = [
            sendData(open[0]!.location!, blobs[0]!),
            sendData(open[1]!.location!, blobs[1]!, "chunked"),
            finishUpload(open[2]!.location!, blobs[2]!),
            finishUpload(open[3]!.location!, blobs[3]!, "chunked"),
        ];
        expect(refusedData.map((r) => r.status)).toEqual(["507", "507", "507", "507"]);
        for (const r of refusedData)
            expect(JSON.parse(r.body)).toEqual({ errors: [{ code: "DENIED", message: DISK_FULL_MESSAGE, detail: null }] });
        expect(blobs.slice(0, 4).map((b) => blobStatus("team/open", b))).toEqual(["404", "404", "404", "404"]);
        // The one whose data all came before commits without a body: its bytes are on the disk already.
        expect(finishUpload(sentBefore.location!, blobs[4]!, "sent").status).toBe("201");
        expect(blobStatus("team/open", blobs[4]!)).toBe("200");
        // Pulls go on; nothing kept was lost; no half-written blob landed; a second run changes nothing.
        expect(pull("team/keep:1")).toBe(0);
        expect(manifestDigest("team/keep:1")).toBe(keep.digest);
        expect(damagedBlobs()).toEqual([]);
        expect(guard()).toBe("");

        // What frees space, as the runbook does it: the tag deleted (deletes go on), then the collection.
        const deleted = skopeoDelete(`docker://${reg.authority}/team/scratch:big`, {
            certDir: reg.certDir,
            creds: reg.push,
            scratch: work,
        });
        expect(deleted.code, deleted.stderr).toBe(0);
        const gc = run(deployedRegistry().path, ["garbage-collect", path.join(reg.dir, "config.yml")], {
            env: { ...process.env, ...DISTRIBUTION.environment },
        });
        expect(gc.code, gc.stderr).toBe(0);
        expect(disk().used / size).toBeLessThan(REFUSE_PERCENT / 100);

        // The guard's next run lets pushes in again; the push that was refused lands; nothing kept was lost.
        expect(guard()).toMatch(new RegExp(`^data disk \\d+% used, below ${REFUSE_PERCENT}% again: pushes resume`));
        expect(refusingSeries()).toBe("0");
        const again = push("team/next:1", 2 ** 20);
        expect(again.code, again.stderr).toBe(0);
        expect(pull("team/next:1")).toBe(0);
        expect(manifestDigest("team/keep:1")).toBe(keep.digest);
        expect(damagedBlobs()).toEqual([]);
    });
});
