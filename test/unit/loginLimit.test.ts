/**
 * The login limit's rendered files: the fail2ban filter counts failed logins and nothing else (checked
 * with the real fail2ban-regex when fail2ban is installed), the jail carries the settings, the access
 * log keeps Authorization's presence and never its value, and the ingress-nginx annotations are the
 * ones its documentation names, in its value forms.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import {
    AUTHORIZATION_LOG_MARKER,
    LOGIN_JAIL,
    loginIngressAnnotations,
    renderFail2banFilter,
    renderFail2banJail,
} from "../../components/accessPolicy/loginLimit";
import { BASE_POLICY } from "../support/accessPolicy";

const LIMIT = { maxRetry: 10, findTimeSeconds: 600, banTimeSeconds: 3600 };

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
    test.skipIf(!existsSync(regexTool))(
        "fail2ban-regex: failed logins match with their address, the challenge and good logins do not",
        () => {
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
        },
    );

    test("anchors on Caddy's field names: the client address, the token path, the status", () => {
        const filter = renderFail2banFilter();
        expect(filter).toContain('datepattern = "ts":{EPOCH}');
        expect(filter).toContain('"request":\\{"remote_ip":"<ADDR>"');
        expect(filter).toContain('"uri":"/v2/token[?"]');
        expect(filter).toContain(`"Authorization":"${AUTHORIZATION_LOG_MARKER}"`);
    });
});

describe("fail2ban jail", () => {
    test("carries the settings, the log, the front's ports and the networks never banned", () => {
        const jail = renderFail2banJail({
            limit: LIMIT,
            logPath: "/var/log/caddy/access.log",
            ports: [443, 8443],
            ignoreNetworks: ["10.0.0.0/8"],
        });
        expect(jail).toContain(`[${LOGIN_JAIL}]`);
        expect(jail).toContain("maxretry = 10");
        expect(jail).toContain("findtime = 600");
        expect(jail).toContain("bantime = 3600");
        expect(jail).toContain("logpath = /var/log/caddy/access.log");
        expect(jail).toContain("ignoreip = 127.0.0.1/8 ::1 10.0.0.0/8");
        expect(jail).toContain(`action = nftables-multiport[name=${LOGIN_JAIL}, port="443,8443", protocol=tcp]`);
    });
});

describe("access log", () => {
    test("Authorization's value is replaced by the marker, never written; the other credentials are deleted", () => {
        const caddyfile = renderCaddyfile({ ...BASE_POLICY, accessLog: { kind: "file", path: "/var/log/caddy/access.log" } });
        expect(caddyfile).toContain(`request>headers>Authorization replace ${AUTHORIZATION_LOG_MARKER}`);
        expect(caddyfile).toContain("request>headers>Cookie delete");
        expect(caddyfile).not.toContain("request>headers>Authorization delete");
    });
});

describe("ingress-nginx's login limit", () => {
    // ingress-nginx's annotations page, "Rate Limiting": limit-connections, limit-rps, limit-rpm and
    // limit-burst-multiplier take whole numbers as strings, limit-whitelist a comma-separated CIDR list.
    const DOCUMENTED = new Set([
        "nginx.ingress.kubernetes.io/limit-connections",
        "nginx.ingress.kubernetes.io/limit-rps",
        "nginx.ingress.kubernetes.io/limit-rpm",
        "nginx.ingress.kubernetes.io/limit-burst-multiplier",
        "nginx.ingress.kubernetes.io/limit-whitelist",
    ]);

    test("only documented annotations, whole numbers above zero, a CIDR list", () => {
        const a = loginIngressAnnotations(60, ["10.0.0.0/8", "192.168.1.0/24"]);
        for (const key of Object.keys(a)) expect(DOCUMENTED, key).toContain(key);
        for (const key of ["limit-connections", "limit-rpm", "limit-burst-multiplier"]) {
            expect(a[`nginx.ingress.kubernetes.io/${key}`]).toMatch(/^[1-9][0-9]*$/);
        }
        expect(a["nginx.ingress.kubernetes.io/limit-whitelist"]).toBe("10.0.0.0/8,192.168.1.0/24");
    });

    test("the rate is the token-request setting, with a burst of one minute's worth, whole numbers only", () => {
        expect(loginIngressAnnotations(60, [])).toEqual({
            "nginx.ingress.kubernetes.io/limit-rpm": "60",
            "nginx.ingress.kubernetes.io/limit-burst-multiplier": "1",
            "nginx.ingress.kubernetes.io/limit-connections": "4",
        });
        expect(loginIngressAnnotations(2.7, [])["nginx.ingress.kubernetes.io/limit-rpm"]).toBe("2");
        expect(loginIngressAnnotations(0, [])["nginx.ingress.kubernetes.io/limit-rpm"]).toBe("1");
    });
});
