/**
 * The login limit's fail2ban filter, run by the real fail2ban-regex over access-log lines in Caddy's
 * shape: it counts failed logins (401s to requests that carried credentials, on every path) with their
 * address, and nothing else: not the anonymous challenge, not the token endpoint's 401 to an anonymous
 * client that asks for more than pulls (any web page can make a visitor's browser send that), not good
 * logins, not forged header values.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import {
    ANONYMOUS_TOKEN_HEADER,
    ANONYMOUS_TOKEN_HEADER_VALUE,
    AUTHORIZATION_LOG_MARKER,
    renderFail2banFilter,
} from "../../components/accessPolicy/loginLimit";

/** An access log line in Caddy's shape (field names and order as Caddy 2.6 writes them). */
function line(
    ip: string,
    uri: string,
    status: number,
    headers: Record<string, unknown>,
    respHeaders: Record<string, string[]> = {},
): string {
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
        resp_headers: { Server: ["Caddy"], ...respHeaders },
    });
}

/** The response header the front adds to its answers to the anonymous token. */
const ANONYMOUS = { [ANONYMOUS_TOKEN_HEADER]: [ANONYMOUS_TOKEN_HEADER_VALUE] };

const FAILED = [
    line("198.18.0.10", "/v2/token?scope=repository:a:pull", 401, { Authorization: AUTHORIZATION_LOG_MARKER }),
    line("198.18.0.13", "/v2/token?scope=registry:catalog:*", 401, { Authorization: AUTHORIZATION_LOG_MARKER }),
    line("198.18.0.11", "/v2/", 401, { Authorization: AUTHORIZATION_LOG_MARKER, "User-Agent": ["docker"] }),
    line("198.18.0.12", "/v2/team/app/blobs/uploads/", 401, { Authorization: AUTHORIZATION_LOG_MARKER }),
    // A refused login whose request header forges the anonymous token's mark: JSON-escaped, still counted.
    line("198.18.0.30", "/v2/", 401, {
        Authorization: AUTHORIZATION_LOG_MARKER,
        "X-Forged": ['"resp_headers":{"X-Registry-Credentials":["anonymous-token"]}'],
    }),
];
const NOT_FAILED = [
    // The anonymous challenge every client starts with.
    line("198.18.0.20", "/v2/", 401, { "User-Agent": ["docker"] }),
    // A good login, an anonymous token.
    line("198.18.0.21", "/v2/token?scope=repository:a:push,pull", 200, { Authorization: AUTHORIZATION_LOG_MARKER }),
    line("198.18.0.22", "/v2/token?scope=repository:a:pull", 200, {}),
    // The token endpoint refusing an anonymous client more than pulls: an <img> on any web page, an
    // anonymous push, the web UI opened without logging in.
    line("198.18.0.25", "/v2/token?scope=registry:catalog:*", 401, { "Sec-Fetch-Dest": ["image"] }),
    line("198.18.0.26", "/v2/token?scope=repository:team/app:push,pull", 401, { "User-Agent": ["docker"] }),
    line("198.18.0.27", "/v2/token", 401, {}),
    // The anonymous token, offered for a push or for the catalog: no credential (the front marks its answers).
    line("198.18.0.28", "/v2/team/app/blobs/uploads/", 401, { Authorization: AUTHORIZATION_LOG_MARKER }, ANONYMOUS),
    line("198.18.0.29", "/v2/_catalog", 401, { Authorization: AUTHORIZATION_LOG_MARKER }, ANONYMOUS),
    // A header forging the fields: JSON-escaped, so it matches nothing.
    line("198.18.0.23", "/v2/", 401, { "X-Forged": ['"Authorization":"REDACTED","uri":"/v2/token","status":401}'] }),
    line("198.18.0.24", "/v2/x/manifests/latest", 200, { "X-Forged": ['"remote_ip":"198.18.0.99","status":401,'] }),
];

const scratch = mkdtempSync(path.join(tmpdir(), "login-limit-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("fail2ban filter", () => {
    const regexTool = "/usr/bin/fail2ban-regex";
    test("fail2ban-regex: failed logins match with their address; anonymous 401s (challenge, token endpoint) and good logins do not", () => {
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
        // The two answers to the anonymous token match the failure pattern and are ignored by the mark.
        expect(fine).toMatch(new RegExp(`Lines: ${NOT_FAILED.length} lines, 2 ignored, 0 matched, ${NOT_FAILED.length - 2} missed`));
    });
});
