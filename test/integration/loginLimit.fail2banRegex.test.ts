/**
 * The login limit's fail2ban filter, run by the real fail2ban-regex over access-log lines in Caddy's
 * shape: it counts failed logins (401s that carried credentials, 401s on the token endpoint) with their
 * address, and nothing else: not the anonymous challenge, not good logins, not forged header values.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { AUTHORIZATION_LOG_MARKER, renderFail2banFilter } from "../../components/accessPolicy/loginLimit";

/** An access log line in Caddy's shape (field names and order as Caddy 2.6 writes them). */
function line(ip: string, uri: string, status: number, headers: Record<string, unknown>): string {
    return JSON.stringify({
        level: status >= 400 ? "error" : "info",
        ts: Date.now() / 1000,
        logger: "http.log.access.log0",
        msg: "handled request",
        request: { remote_ip: ip, remote_port: "40000", proto: "HTTP/1.1", method: "GET", host: "registry.example.com", uri, headers },
        user_id: "",
        duration: 0.01,
        size: 10,
        status,
        resp_headers: { Server: ["Caddy"] },
    });
}

const FAILED = [
    line("198.18.0.10", "/v2/token?scope=repository:a:pull", 401, { Authorization: AUTHORIZATION_LOG_MARKER }),
    line("198.18.0.11", "/v2/", 401, { Authorization: AUTHORIZATION_LOG_MARKER, "User-Agent": ["docker"] }),
    line("198.18.0.12", "/v2/team/app/blobs/uploads/", 401, { Authorization: AUTHORIZATION_LOG_MARKER }),
];
const NOT_FAILED = [
    // The anonymous challenge every client starts with.
    line("198.18.0.20", "/v2/", 401, { "User-Agent": ["docker"] }),
    // A good login, an anonymous token.
    line("198.18.0.21", "/v2/token?scope=repository:a:push,pull", 200, { Authorization: AUTHORIZATION_LOG_MARKER }),
    line("198.18.0.22", "/v2/token?scope=repository:a:pull", 200, {}),
    // A header forging the fields: JSON-escaped, so it matches nothing.
    line("198.18.0.23", "/v2/", 401, { "X-Forged": ['"Authorization":"REDACTED","uri":"/v2/token","status":401}'] }),
    line("198.18.0.24", "/v2/x/manifests/latest", 200, { "X-Forged": ['"remote_ip":"198.18.0.99","status":401,'] }),
];

const scratch = mkdtempSync(path.join(tmpdir(), "login-limit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("fail2ban filter", () => {
    const regexTool = "/usr/bin/fail2ban-regex";
    test("fail2ban-regex: failed logins match with their address, the challenge and good logins do not", () => {
        const filter = path.join(scratch, "filter.conf");
        writeFileSync(filter, renderFail2banFilter());
        const check = (lines: string[]) => {
            const log = path.join(scratch, `log-${lines.length}-${Math.random()}`);
            writeFileSync(log, `${lines.join("\n")}\n`);
            const r = spawnSync(regexTool, ["--print-all-matched", log, filter], { encoding: "utf8" });
            expect(r.status, r.stderr).toBe(0);
            return r.stdout;
        };
        const failed = check(FAILED);
        expect(failed).toMatch(new RegExp(`Lines: ${FAILED.length} lines, 0 ignored, ${FAILED.length} matched, 0 missed`));
        const fine = check(NOT_FAILED);
        expect(fine).toMatch(new RegExp(`Lines: ${NOT_FAILED.length} lines, 0 ignored, 0 matched, ${NOT_FAILED.length} missed`));
    });
});
