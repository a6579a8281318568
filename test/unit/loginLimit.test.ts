/**
 * The login limit's rendered files: the fail2ban filter counts only 401s that carried credentials and
 * anchors on Caddy's fields (what it matches, with the real fail2ban-regex:
 * test/integration/loginLimit.fail2banRegex.test.ts), the jail carries the settings, the access log
 * keeps Authorization's presence and never its value, and the ingress-nginx annotations are the ones
 * its documentation names, in its value forms.
 */

import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import {
    AUTHORIZATION_LOG_MARKER,
    LOGIN_JAIL,
    loginIngressAnnotations,
    renderFail2banFilter,
    renderFail2banJail,
} from "../../components/accessPolicy/loginLimit";
import { TOKEN_PATH } from "../../components/accessPolicy/policy";
import { BASE_POLICY } from "../support/accessPolicy";

const LIMIT = { maxRetry: 10, findTimeSeconds: 600, banTimeSeconds: 3600 };

describe("fail2ban filter", () => {
    test("anchors on Caddy's field names: the client address, the Authorization marker, the status", () => {
        const filter = renderFail2banFilter();
        expect(filter).toContain('datepattern = "ts":{EPOCH}');
        expect(filter).toContain('"request":\\{"remote_ip":"<ADDR>"');
        expect(filter).toContain(`"Authorization":"${AUTHORIZATION_LOG_MARKER}"`);
        expect(filter).toContain('"status":401[,}]');
    });

    test("every failregex needs the Authorization marker: no path's anonymous 401 counts, the token endpoint's neither", () => {
        const filter = renderFail2banFilter();
        // The failregex option's lines: its value, then continuation lines, up to the next option.
        const failregexes = filter
            .slice(filter.indexOf("failregex =") + "failregex =".length, filter.indexOf("ignoreregex ="))
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l !== "");
        expect(failregexes.length).toBeGreaterThan(0);
        for (const regex of failregexes) expect(regex).toContain(`"Authorization":"${AUTHORIZATION_LOG_MARKER}"`);
        expect(filter).not.toContain(TOKEN_PATH);
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
            "nginx.ingress.kubernetes.io/limit-connections": "16",
        });
        expect(loginIngressAnnotations(2.7, [])["nginx.ingress.kubernetes.io/limit-rpm"]).toBe("2");
        expect(loginIngressAnnotations(0, [])["nginx.ingress.kubernetes.io/limit-rpm"]).toBe("1");
    });
});
