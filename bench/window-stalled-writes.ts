/**
 * The front's memory while clients without credentials stall writes during the read-only window: 200
 * anonymous blob PATCHes, each declaring 2 MiB, sending 1 MiB and then nothing, held open for 60 s.
 * Real Caddy (Debian's 2.6.2 and the pinned 2.8.4) with the rendered Caddyfile and its window marker in
 * place, real Distribution behind it. Prints Caddy's resident memory (VmRSS of its process) before, 5 s
 * into the stall and at its end, and how many of the 200 were answered (and with which status) by then.
 *
 * Run as root: npx tsx bench/window-stalled-writes.ts
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { DEBIAN_CADDY_STAND_IN, pinnedCaddy } from "../test/support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../test/support/realRegistry";

const CLIENTS = 200;
const HOLD_SECONDS = 60;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

/** One stalled PATCH: its answer's status line once it comes, and the socket to close at the end. */
function stall(reg: RealRegistry, body: Buffer) {
    const socket = tls.connect({
        host: "127.0.0.1",
        port: Number(reg.authority.split(":").pop()),
        ca: readFileSync(reg.ca.caCertFile),
    });
    let response = "";
    socket.on("data", (d) => {
        response += d;
    });
    socket.on("error", () => undefined);
    socket.once("secureConnect", () => {
        socket.write(
            [
                `PATCH /v2/team/app/blobs/uploads/${randomBytes(8).toString("hex")} HTTP/1.1`,
                `Host: ${reg.authority}`,
                "Content-Type: application/octet-stream",
                `Content-Length: ${2 * body.length}`,
                "",
                "",
            ].join("\r\n"),
        );
        socket.write(body);
    });
    return { status: () => response.split("\r\n")[0] ?? "", socket };
}

async function measure(label: string, caddyBinary: string): Promise<void> {
    const marker = path.join("/tmp", `dso-bench-window-${randomBytes(4).toString("hex")}`);
    const reg = await startRealRegistry({ caddyBinary, policy: { readOnlySignals: [{ kind: "file", path: marker }] } });
    try {
        writeFileSync(marker, "");
        const pid = reg.caddyPid!;
        const before = rssMiB(pid);
        const body = randomBytes(2 ** 20);
        const clients = Array.from({ length: CLIENTS }, () => stall(reg, body));
        await new Promise((r) => setTimeout(r, 5000));
        const early = rssMiB(pid);
        await new Promise((r) => setTimeout(r, (HOLD_SECONDS - 5) * 1000));
        const late = rssMiB(pid);
        const statuses = new Map<string, number>();
        for (const c of clients) statuses.set(c.status() || "(no answer)", (statuses.get(c.status() || "(no answer)") ?? 0) + 1);
        for (const c of clients) c.socket.destroy();
        console.log(
            `${label}: Caddy ${before.toFixed(0)} MiB before, ${early.toFixed(0)} MiB 5 s into the stall, ${late.toFixed(0)} MiB after ${HOLD_SECONDS} s; answers: ${[...statuses].map(([s, n]) => `${n} × ${s}`).join(", ")}`,
        );
    } finally {
        await reg.stop();
        rmSync(marker, { force: true });
    }
}

async function main(): Promise<void> {
    await measure("Debian's Caddy 2.6.2", DEBIAN_CADDY_STAND_IN);
    await measure("the pinned Caddy 2.8.4", pinnedCaddy());
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
