/**
 * Which HTTP version each registry client speaks to a front that offers both HTTP/1.1 and HTTP/2 over TLS, as
 * the in-cluster sidecar's TLS site did before every front went to HTTP/1.1 only (`AccessPolicy.http2`). Over
 * HTTP/2 an upload through Caddy is held by Go's 1 MiB receive windows (docs/performance.md#uploads-over-http2),
 * so what matters is which clients would push that way, and so lose speed, were it offered.
 *
 * The pinned Caddy on the front's rendered Caddyfile, with its access log, in front of Distribution; each
 * client pushes a small image (skopeo and oras with the push account in a file of their own, containerd's ctr
 * with the account in its hosts.toml header) and pulls it back. curl asks once with --http1.1 and once with
 * --http2, to show that the front offers both and that the log tells them apart. It prints, for each client
 * (the access log's User-Agent), every method it sent and the protocols its requests came in on.
 *
 *   npx tsx bench/client-protocols.ts
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import { pinnedCaddy } from "../test/support/caddyBinaries";
import { containerd2 } from "../test/support/kindNode";
import { curlStatus, makeOciImage, skopeoCopy, startContainerd, startRealRegistry, writeHostsDir } from "../test/support/realRegistry";
import { privateDir, type RunResult, removeDir, run } from "../test/support/serverProcess";
import { supplyChainClient } from "../test/support/supplyChainTools";
import { runBench } from "./support";

/** Throws with the client's output unless it succeeded. */
function ok(what: string, result: RunResult): void {
    if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code})\n${result.stdout}\n${result.stderr}`);
}

/**
 * containerd's `ctr` (at `ctrBinary`) pulls `from` and pushes it as `to`, against a private containerd (Debian's);
 * `local` resolves in ctr itself, as 2.x does without its daemon's transfer service (which 1.6 lacks).
 */
async function ctrPushAndPull(ctrBinary: string, local: boolean, hostsDir: string, from: string, to: string): Promise<void> {
    const containerd = await startContainerd();
    try {
        const ctr = (args: readonly string[]) => run(ctrBinary, ["--address", containerd.address, ...args]);
        ok(`${ctrBinary} pull`, ctr(["images", "pull", ...(local ? ["--local"] : []), "--hosts-dir", hostsDir, from]));
        ok(`${ctrBinary} push`, ctr(["images", "push", ...(local ? ["--local"] : []), "--hosts-dir", hostsDir, to, from]));
    } finally {
        await containerd.stop();
    }
}

interface LogLine {
    request: { proto: string; method: string; uri: string; headers: Record<string, string[]> };
}

/** Per User-Agent product (its first word), each method's protocols with their counts. */
function protocolsByClient(accessLog: string): Map<string, Map<string, Map<string, number>>> {
    const clients = new Map<string, Map<string, Map<string, number>>>();
    for (const line of readFileSync(accessLog, "utf8").split("\n")) {
        if (!line.startsWith("{")) continue;
        const { request } = JSON.parse(line) as LogLine;
        const agent = (request.headers["User-Agent"]?.[0] ?? "(none)").split(" ")[0]!;
        const methods = clients.get(agent) ?? new Map<string, Map<string, number>>();
        const protos = methods.get(request.method) ?? new Map<string, number>();
        protos.set(request.proto, (protos.get(request.proto) ?? 0) + 1);
        methods.set(request.method, protos);
        clients.set(agent, methods);
    }
    return clients;
}

runBench(async () => {
    const dir = privateDir("client-protocols");
    // HTTP/2 offered (no placement offers it), to see which clients would take it.
    const reg = await startRealRegistry({
        caddyBinary: pinnedCaddy(),
        accessLog: true,
        caddyfileFor: (p) => renderCaddyfile({ ...p, http2: true }),
    });
    try {
        if (!/^\s*protocols h1 h2$/m.test(reg.caddyfile ?? "")) throw new Error("the front does not offer HTTP/2: nothing to compare");
        const image = makeOciImage(path.join(dir, "image"), 1024 * 1024);
        const ref = (repository: string) => `${reg.authority}/protocols/${repository}:1`;

        // curl, once in each version: the control.
        for (const http2 of [false, true]) curlStatus(`${reg.url}/v2/`, { caCertFile: reg.ca.caCertFile, http2 });

        // containers/image (skopeo, podman, buildah, CRI-O).
        const skopeo = { certDir: reg.certDir, creds: reg.push, scratch: dir };
        ok("skopeo push", skopeoCopy(image.ref, `docker://${ref("skopeo")}`, skopeo));
        ok("skopeo pull", skopeoCopy(`docker://${ref("skopeo")}`, `oci:${path.join(dir, "pulled")}:1`, { certDir: reg.certDir }));

        // containerd's resolver (the kubelet's pulls, ctr and nerdctl): Debian's 1.6 and 2.x as kind's nodes ship it.
        const hostsDir = writeHostsDir(path.join(dir, "hosts"), reg, ["pull", "resolve", "push"], reg.push);
        await ctrPushAndPull("ctr", false, hostsDir, ref("skopeo"), ref("containerd-1"));
        await ctrPushAndPull(path.join(containerd2().binDir, "ctr"), true, hostsDir, ref("skopeo"), ref("containerd-2"));

        // oras-go (oras; go-containerregistry's clients such as crane, ko and kaniko set ForceAttemptHTTP2 alike).
        const oras = supplyChainClient(path.join(dir, "oras"), reg.ca.caCertFile, { authority: reg.authority, account: reg.push });
        writeFileSync(path.join(dir, "oras", "artifact.txt"), "an artifact\n");
        ok("oras push", oras.oras(["push", ref("oras"), "artifact.txt"]));
        ok("oras pull", oras.oras(["pull", "-o", "pulled", ref("oras")]));

        console.log(`front: pinned Caddy (${reg.authority}), protocols h1 h2 offered over TLS`);
        for (const [agent, methods] of protocolsByClient(reg.accessLogFile!)) {
            const parts = [...methods].map(
                ([method, protos]) =>
                    `${method} ${[...protos]
                        .map(([proto, count]) => `${proto} ×${count}`)
                        .sort()
                        .join(", ")}`,
            );
            console.log(`${agent.padEnd(28)} ${parts.sort().join("; ")}`);
        }
    } finally {
        await reg.stop();
        removeDir(dir);
    }
});
