/**
 * A change of the external host's front (`pulumi up` with an account added, a rotation, a setting) runs
 * components/externalHost/sh/caddy-apply.sh, which reloads the front: `caddy reload` inside its container.
 * The front runs the pinned Caddy, whose reload lets the requests it is proxying finish (Debian's Caddy
 * 2.6, which earlier versions ran on the host, ended them with 502, and the apply had to wait for uploads
 * to pass). Against the pinned Caddy and real Distribution: a chunked blob PATCH of an account the change
 * does not touch, streaming when the reload starts, completes with 202, and the new config is in force
 * afterwards.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { pinnedCaddy } from "../support/caddyBinaries";
import { type RealRegistry, startRealRegistry } from "../support/realRegistry";
import { run } from "../support/serverProcess";

describe("the pinned Caddy: a reload the apply makes", () => {
    test("an upload streaming through the front completes, and the new config is in force", async () => {
        const caddy = pinnedCaddy();
        let admin = "";
        // The front as the host runs it: its admin endpoint on a unix socket, where `caddy reload` finds it.
        const withAdmin = (p: AccessPolicy) => {
            admin = path.join(path.dirname(p.pushUsersFile), "admin.sock");
            return renderCaddyfile({ ...p, admin: `unix/${admin}` });
        };
        let policy: AccessPolicy | undefined;
        const reg = await startRealRegistry({
            caddyBinary: caddy,
            caddyfileFor: (p) => {
                policy = p;
                return withAdmin(p);
            },
        });
        try {
            // The changed front turns deletes off.
            const caddyfile = path.join(reg.dir, "changed.Caddyfile");
            writeFileSync(caddyfile, withAdmin({ ...policy!, deletesEnabled: false }));

            const base = `https://${reg.authority}`;
            const credentials = `user = "${reg.push.username}:${reg.push.password}"\n`;
            const started = run(
                "curl",
                [
                    "-sS",
                    "--cacert",
                    reg.ca.caCertFile,
                    "-K",
                    "-",
                    "-o",
                    "/dev/null",
                    "-D",
                    "-",
                    "-X",
                    "POST",
                    `${base}/v2/team/app/blobs/uploads/`,
                ],
                { input: credentials },
            );
            const location = new URL(/^location:\s*(\S+)/im.exec(started.stdout)?.[1] ?? "", base);
            // A chunked PATCH as docker sends a layer: 4 KiB a quarter second, for four seconds.
            const socket = await connectTo(reg);
            let response = "";
            socket.on("data", (d) => {
                response += d;
            });
            socket.on("error", (e) => {
                response += `\n(${e.message})`;
            });
            socket.write(
                [
                    `PATCH ${location.pathname}${location.search} HTTP/1.1`,
                    `Host: ${reg.authority}`,
                    `Authorization: Basic ${Buffer.from(`${reg.push.username}:${reg.push.password}`).toString("base64")}`,
                    "Content-Type: application/octet-stream",
                    "Transfer-Encoding: chunked",
                    "",
                    "",
                ].join("\r\n"),
            );
            let sent = 0;
            const answered = new Promise<void>((resolve) => {
                socket.on("data", () => {
                    if (response.includes("\r\n\r\n")) resolve();
                });
                socket.once("close", () => resolve());
            });
            const chunks = setInterval(() => {
                if (++sent > 16) {
                    clearInterval(chunks);
                    socket.write("0\r\n\r\n");
                } else socket.write(`1000\r\n${randomBytes(2048).toString("hex")}\r\n`);
            }, 250);
            await new Promise((r) => setTimeout(r, 1000));

            // What caddy-apply.sh runs in the front's container.
            const apply = await runAsync(caddy, ["reload", "--adapter", "caddyfile", "--config", caddyfile], process.env);
            await answered;
            clearInterval(chunks);
            socket.destroy();
            expect(response, `${response}\n${apply.out}`).toMatch(/^HTTP\/1\.1 202 /);
            expect(apply.code, apply.out).toBe(0);
            // The reload did happen: deletes are refused now.
            const deleted = run(
                "curl",
                [
                    ...["-sS", "--cacert", reg.ca.caCertFile, "-K", "-", "-o", "/dev/null", "-w", "%{http_code}"],
                    ...["-X", "DELETE", `${base}/v2/team/app/manifests/sha256:${"0".repeat(64)}`],
                ],
                { input: credentials },
            );
            expect(deleted.stdout).toBe("405");
        } finally {
            await reg.stop();
        }
    }, 90_000);
});

/** A command run without blocking the event loop (the test's client keeps sending meanwhile). */
function runAsync(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
        const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (d) => {
            out += d;
        });
        child.stderr.on("data", (d) => {
            out += d;
        });
        child.on("exit", (code) => resolve({ code, out }));
    });
}

/** A TLS connection to the front, trusting the test CA. */
async function connectTo(reg: RealRegistry): Promise<tls.TLSSocket> {
    const socket = tls.connect({
        host: "127.0.0.1",
        servername: reg.authority.replace(/:\d+$/, ""),
        port: Number(reg.authority.split(":").pop()),
        ca: readFileSync(reg.ca.caCertFile),
    });
    await new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", () => resolve());
        socket.once("error", reject);
    });
    return socket;
}
