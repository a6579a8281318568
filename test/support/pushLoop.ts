/**
 * CI pushing while upkeep runs: skopeo pushes a few images in turn, each to a tag of its own, with
 * no retries, until told to stop, while the test runs an upkeep job; then every push is read back
 * (landed with its digest, or refused with what skopeo printed), and the ones that landed can be
 * pulled back and compared blob for blob with what was pushed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";
import { makeOciImage } from "./realRegistry";
import type { RunResult, ServerProcess } from "./serverProcess";

/** One push of the loop. */
export interface Push {
    /** Its number, from 1, in the order the loop made them. */
    readonly n: number;
    /** Which of the loop's images (1…count). */
    readonly image: number;
    /** The reference pushed to: `<prefix>/<label>/loop/image-<image>:push-<n>`. */
    readonly ref: string;
    /** skopeo's exit code. */
    readonly code: number;
    /** What skopeo printed. */
    readonly out: string;
    /** The manifest digest, for a push that landed. */
    readonly digest: string;
}

/**
 * The loop, a shell script: pushes image k (of `count`, round robin) to `$prefix/loop/image-k:push-i`
 * until the stop file exists; push i leaves i.ref, i.code, i.out and (when it landed) i.digest in the
 * results directory.
 */
const PUSH_LOOP = `#!/bin/sh
set -u
prefix=$1 images=$2 count=$3 auth=$4 certs=$5 results=$6 stop=$7
i=0
while [ ! -e "$stop" ]; do
  i=$((i + 1))
  k=$(( (i - 1) % count + 1 ))
  ref="$prefix/loop/image-$k:push-$i"
  printf '%s\\n%s\\n' "$k" "$ref" > "$results/$i.ref"
  skopeo --insecure-policy copy --retry-times 0 --dest-cert-dir "$certs" --dest-authfile "$auth" \\
    --digestfile "$results/$i.digest" "oci:$images/$k/layout:latest" "docker://$ref" > "$results/$i.out" 2>&1
  echo $? > "$results/$i.code"
done
`;

export interface PushLoop {
    /** Directory of the loop's OCI images (`<dir>/<k>/layout`). */
    readonly images: string;
    /**
     * Runs the loop while `during` runs, pushing under `<prefix>/<label>`: it starts, one push
     * finishes, `during` runs, the loop stops after the push under way. Returns what `during`
     * returned and every push, in order.
     */
    during<T>(label: string, during: () => T | Promise<T>): Promise<{ result: T; pushes: Push[] }>;
}

export function makePushLoop(options: {
    /** Scratch directory of the test (images, results, the script). */
    readonly work: string;
    /** Repository prefix pushed to, starting with the registry's authority. */
    readonly prefix: string;
    /** A containers auth file with the push account. */
    readonly authFile: string;
    /** Directory with the registry's ca.crt. */
    readonly certDir: string;
    /** How many images the loop pushes in turn. */
    readonly count: number;
    /** Starts `sh script args…` where the client runs (this machine, or a test namespace). */
    readonly start: (command: string, args: readonly string[]) => ServerProcess;
}): PushLoop {
    const images = path.join(options.work, "loop-images");
    for (let k = 1; k <= options.count; k++) makeOciImage(path.join(images, String(k)), 64 * 1024 + k);
    const script = path.join(options.work, "push-loop.sh");
    writeFileSync(script, PUSH_LOOP, { mode: 0o755 });
    return {
        images,
        async during(label, during) {
            const results = path.join(options.work, `loop-${label}`);
            const stopFile = path.join(options.work, `loop-${label}-stop`);
            mkdirSync(results);
            const loop = options.start("sh", [
                script,
                `${options.prefix}/${label}`,
                images,
                String(options.count),
                options.authFile,
                options.certDir,
                results,
                stopFile,
            ]);
            let result: Awaited<ReturnType<typeof during>>;
            try {
                while (!existsSync(path.join(results, "1.code"))) await new Promise((r) => setTimeout(r, 100));
                result = await during();
            } finally {
                writeFileSync(stopFile, "");
                while (loop.child.exitCode === null && loop.child.signalCode === null) await new Promise((r) => setTimeout(r, 100));
                await loop.stop();
            }
            const pushes = readdirSync(results)
                .filter((f) => f.endsWith(".code"))
                .map((f) => {
                    const n = f.replace(".code", "");
                    const [k, ref] = readFileSync(path.join(results, `${n}.ref`), "utf8")
                        .trim()
                        .split("\n");
                    const code = Number(readFileSync(path.join(results, f), "utf8").trim());
                    const out = readFileSync(path.join(results, `${n}.out`), "utf8");
                    const digest = code === 0 ? readFileSync(path.join(results, `${n}.digest`), "utf8").trim() : "";
                    return { n: Number(n), image: Number(k), ref: ref ?? "", code, out, digest };
                })
                .sort((a, b) => a.n - b.n);
            console.log(pushLoopSummary(label, pushes));
            return { result, pushes };
        },
    };
}

/** The loop's count, and each kind of refusal with how often skopeo printed it (for the test's output). */
export function pushLoopSummary(label: string, pushes: readonly Push[]): string {
    const refused = pushes.filter((p) => p.code !== 0);
    const kinds = new Map<string, number>();
    for (const p of refused) {
        const kind = (p.out.match(/level=fatal msg="(.*)"/)?.[1] ?? p.out.trim())
            .replace(/sha256:[0-9a-f]{64}/g, "sha256:…")
            .replace(/push-\d+|image-\d|localhost:\d+|127\.0\.0\.1:\d+/g, "…");
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    const counts = `${pushes.length} pushes, ${pushes.length - refused.length} landed, ${refused.length} refused`;
    return `push loop during ${label}: ${counts}\n${[...kinds].map(([k, c]) => `${c}× ${k}`).join("\n")}`;
}

/**
 * The window's 503 as skopeo prints it: for an upload or a manifest ("received unexpected HTTP status:
 * 503 Service Unavailable"), or for its check whether a blob is there already ("… 503 (Service
 * Unavailable)").
 */
export const WINDOW_503 = /received unexpected HTTP status: 503 Service Unavailable|: 503 \(Service Unavailable\)/;

/** What skopeo printed for every refused push that was not the read-only window's 503. */
export function refusalsOtherThan503(pushes: readonly Push[]): string[] {
    return pushes.filter((p) => p.code !== 0 && !WINDOW_503.test(p.out)).map((p) => p.out.trim());
}

/** sha256 of every blob of an OCI layout, by file name. */
export function blobHashes(ociLayout: string): Map<string, string> {
    const dir = path.join(ociLayout, "blobs", "sha256");
    return new Map(
        readdirSync(dir).map((name) => [
            name,
            createHash("sha256")
                .update(readFileSync(path.join(dir, name)))
                .digest("hex"),
        ]),
    );
}

/**
 * Every push that landed pulls back by digest (with `pull`, anonymously through the front), and each
 * blob equals the pushed image's; at least one push landed.
 */
export function expectLandedPullBackWhole(
    loop: Pick<PushLoop, "images">,
    pushes: readonly Push[],
    pulledDir: string,
    pull: (byDigest: string, ociDest: string) => RunResult,
): void {
    const landed = pushes.filter((p) => p.code === 0);
    expect(landed.length).toBeGreaterThan(0);
    for (const p of landed) {
        const dest = path.join(pulledDir, p.ref.replace(/[/:]/g, "_"));
        mkdirSync(path.dirname(dest), { recursive: true });
        const repo = p.ref.slice(0, p.ref.lastIndexOf(":"));
        const r = pull(`docker://${repo}@${p.digest}`, `oci:${dest}:pulled`);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        const source = blobHashes(path.join(loop.images, String(p.image), "layout"));
        const back = blobHashes(dest);
        expect(back.get(p.digest.replace("sha256:", ""))).toBe(p.digest.replace("sha256:", ""));
        for (const [name, hash] of back) expect(source.get(name), `blob ${name} of ${p.ref}`).toBe(hash);
    }
}
