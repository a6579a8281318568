/**
 * What real registry clients do with the online collection's hold on manifests: while the gate is away from the
 * front's hold directory, a manifest PUT waits at the front (up to 25 s) and goes on to Distribution once the
 * gate is back (docs/decisions/online-collection.md). The pinned Caddy on the rendered Caddyfile with its hold, in
 * front of Distribution; for each client the gate is taken away, the client pushes a small image with the push
 * account, and the gate comes back after `--hold-seconds` (8 by default) from a process of its own, whatever the
 * client does meanwhile. It prints each client's exit status, how long the push took, and the last line of its error.
 *
 *   npx tsx bench/client-holds.ts [--hold-seconds 8]
 */
import { spawn } from "node:child_process";
import { renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { pinnedCaddy } from "../test/support/caddyBinaries";
import { containerd2 } from "../test/support/kindNode";
import { makeOciImage, skopeoCopy, startContainerd, startRealRegistry, writeAuthFile, writeHostsDir } from "../test/support/realRegistry";
import { privateDir, type RunResult, removeDir, runAsync } from "../test/support/serverProcess";
import { supplyChainClient } from "../test/support/supplyChainTools";
import { arg, runBench } from "./support";

const HOLD_SECONDS = arg("hold-seconds", 8);

runBench(async () => {
    const dir = privateDir("client-holds");
    const reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), sweepHold: true });
    const containerd = await startContainerd();
    try {
        const gate = path.join(reg.sweepHoldDir as string, "gate");
        const target = reg.gateTarget as string;
        const ref = (repository: string) => `${reg.authority}/holds/${repository}:1`;
        const image = (name: string) => makeOciImage(path.join(dir, name), 4096).ref;
        const authFile = writeAuthFile(dir, reg.authority, reg.push);
        // containerd's resolver: the front's CA, push allowed, the push account's Basic header (a file, never an argument).
        const hostsDir = writeHostsDir(path.join(dir, "hosts"), reg, ["pull", "resolve", "push"], reg.push);
        // An image in the private containerd for ctr to push: pushed with skopeo, pulled anonymously.
        const seeded = skopeoCopy(image("seed"), `docker://${ref("seed")}`, { certDir: reg.certDir, creds: reg.push, scratch: dir });
        if (seeded.code !== 0) throw new Error(`skopeo push of the seed failed\n${seeded.stderr}`);
        const pulled = containerd.pull(ref("seed"), hostsDir);
        if (pulled.code !== 0) throw new Error(`ctr pull of the seed failed\n${pulled.stderr}`);
        const ctr2 = path.join(containerd2().binDir, "ctr");
        const oras = supplyChainClient(path.join(dir, "oras"), reg.ca.caCertFile, { authority: reg.authority, account: reg.push });
        writeFileSync(path.join(dir, "oras", "artifact.txt"), "an artifact\n");
        const skopeoPush = (repository: string, extra: readonly string[]) =>
            runAsync("skopeo", [
                "--insecure-policy",
                "copy",
                ...extra,
                "--dest-cert-dir",
                reg.certDir,
                "--dest-authfile",
                authFile,
                image(repository),
                `docker://${ref(repository)}`,
            ]);

        const clients: [string, () => Promise<RunResult> | RunResult][] = [
            ["skopeo 1.9.3 (containers/image)", () => skopeoPush("skopeo", [])],
            ["skopeo --retry-times 3", () => skopeoPush("skopeo-retry", ["--retry-times", "3"])],
            [
                "ctr 1.6.20 (containerd)",
                () =>
                    runAsync("ctr", [
                        "--address",
                        containerd.address,
                        "images",
                        "push",
                        "--hosts-dir",
                        hostsDir,
                        ref("ctr-1"),
                        ref("seed"),
                    ]),
            ],
            [
                "ctr 2.4.2 (containerd)",
                () =>
                    runAsync(ctr2, [
                        "--address",
                        containerd.address,
                        "images",
                        "push",
                        "--local",
                        "--hosts-dir",
                        hostsDir,
                        ref("ctr-2"),
                        ref("seed"),
                    ]),
            ],
            ["oras 1.3.6", () => oras.oras(["push", ref("oras"), "artifact.txt"])],
        ];
        console.log(`the gate away for ${HOLD_SECONDS} s from each push's start (pinned Caddy, ${reg.authority})`);
        for (const [name, push] of clients) {
            rmSync(gate);
            // The gate comes back on time even while a client runs synchronously.
            const lifter = spawn("sh", ["-c", `sleep ${HOLD_SECONDS}; ln -sfn "$1" "$2"`, "sh", target, gate], { stdio: "ignore" });
            const started = Date.now();
            const result = await push();
            const seconds = ((Date.now() - started) / 1000).toFixed(1);
            lifter.kill();
            symlinkSync(target, `${gate}.new`);
            renameSync(`${gate}.new`, gate);
            const error = result.code === 0 ? "" : `: ${`${result.stderr}`.trim().split("\n").at(-1)}`;
            console.log(`${name.padEnd(32)} exit ${result.code} after ${seconds} s${error}`);
        }
    } finally {
        await containerd.stop();
        await reg.stop();
        removeDir(dir);
    }
});
