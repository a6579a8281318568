/**
 * The external host's login-limit command on real software: the script the program renders
 * (components/externalHost/loginLimit.ts) runs inside a network namespace against a running
 * fail2ban-server (Debian's configuration without its jails, in a scratch directory), before Caddy
 * starts, so before the access log exists; then Caddy from the rendered Caddyfile writes that log and
 * fail2ban, with the files the script wrote, bans a brute-forcing address with nftables while another
 * address keeps pulling (test/support/loginLimitFront.ts). The script runs as on the host, with the
 * test's paths in place of /etc/fail2ban and /var/log/caddy.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LOGIN_JAIL } from "../../components/accessPolicy/loginLimit";
import { type HostLoginJail, loginLimitRemoveScript, loginLimitScript } from "../../components/externalHost/loginLimit";
import {
    basic,
    eventually,
    frontRequest,
    type JailInstall,
    type LoginLimitFront,
    pushBlob,
    startLoginLimitFront,
} from "../support/loginLimitFront";

const LIMIT = { maxRetry: 4, findTimeSeconds: 600, banTimeSeconds: 600 };
let front: LoginLimitFront;
let install: JailInstall;
let jail: HostLoginJail;
let firstRun = "";
let logExistedBefore = true;

function runOk(script: string): string {
    const r = install.run(script);
    if (r.code !== 0) throw new Error(`script failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout.trim();
}

const files = () => [path.join(install.conf, "filter.d", `${LOGIN_JAIL}.conf`), path.join(install.conf, "jail.d", `${LOGIN_JAIL}.conf`)];

beforeAll(async () => {
    front = await startLoginLimitFront(LIMIT, "198.19.160.0/20", {
        installJail: (i) => {
            install = i;
            jail = { limit: LIMIT, accessLog: i.accessLogFile, port: i.port, ignoreNetworks: [], confDir: i.conf };
            logExistedBefore = existsSync(i.accessLogFile);
            firstRun = runOk(loginLimitScript(jail, false));
        },
    });
}, 120_000);

afterAll(async () => {
    await front?.stop();
});

describe("the host's login-limit script with fail2ban and Caddy", () => {
    test("first run: creates the missing access log, writes the filter and jail, reloads fail2ban into the jail", () => {
        expect(logExistedBefore).toBe(false);
        expect(firstRun).toContain(`changed login limit: jail ${LOGIN_JAIL} running`);
        expect(existsSync(install.accessLogFile)).toBe(true);
        expect(statSync(install.accessLogFile).mode & 0o777).toBe(0o600);
        for (const f of files()) expect(readFileSync(f, "utf8").endsWith("\n")).toBe(true);
        expect(readFileSync(files()[1]!, "utf8")).toContain(`logpath = ${install.accessLogFile}`);
        expect(front.fail2banClient("get", LOGIN_JAIL, "maxretry").stdout.trim()).toBe(String(LIMIT.maxRetry));
    });

    test("a second run changes nothing and does not reload", () => {
        expect(runOk(loginLimitScript(jail, false))).toBe("unchanged login limit");
    });

    test("without fail2ban and nftables and installPackages off, it names what is missing and fails", () => {
        // `command -v` is the shell's own: with an empty PATH it finds neither tool.
        const r = install.run(`PATH=/nonexistent\n${loginLimitScript(jail, false)}`);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("missing on the registry host: fail2ban nftables");
        expect(r.stderr).toContain("externalHost.installPackages: true");
    });

    test("an address guessing passwords is banned after maxRetry failures; another keeps pulling; CI's challenge and login do not count", async () => {
        const { attacker, puller, ci } = front.addresses;
        const blob = await pushBlob(front, ci);
        for (let i = 0; i < LIMIT.maxRetry * 2; i++) {
            expect((await frontRequest(front, ci, "/v2/")).status).toBe(401);
            const token = await frontRequest(front, ci, "/v2/token?scope=repository:team/app:push,pull", {
                authorization: basic(front.push.username, front.push.password),
            });
            expect(token.status).toBe(200);
        }
        for (let i = 0; i < LIMIT.maxRetry; i++) {
            const guess = await frontRequest(front, attacker, "/v2/token?scope=repository:team/app:push,pull", {
                authorization: basic(front.push.username, `guess-${i}`),
            });
            expect(guess.status).toBe(401);
        }
        const refused = await eventually(
            async () => (await frontRequest(front, attacker, "/v2/", { timeoutMs: 2000 })).error !== undefined,
        );
        expect(refused, `${front.jailStatus()}\n${front.logs()}`).toBe(true);
        expect(front.jailStatus()).toContain(attacker);
        expect(front.jailStatus()).not.toContain(ci);
        expect((await frontRequest(front, puller, blob)).status).toBe(200);
        expect((await frontRequest(front, ci, blob)).status).toBe(200);
    }, 60_000);

    test("a changed limit rewrites the jail and reloads it", () => {
        const changed = { ...jail, limit: { ...LIMIT, maxRetry: LIMIT.maxRetry + 3 } };
        expect(runOk(loginLimitScript(changed, false))).toContain("changed login limit");
        expect(front.fail2banClient("get", LOGIN_JAIL, "maxretry").stdout.trim()).toBe(String(LIMIT.maxRetry + 3));
        expect(runOk(loginLimitScript(changed, false))).toBe("unchanged login limit");
    });

    test("the delete (and the limit turned off) removes the files and stops the jail, which lifts its bans", async () => {
        const { attacker } = front.addresses;
        expect(runOk(loginLimitRemoveScript(install.conf))).toBe("removed login limit");
        for (const f of files()) expect(existsSync(f)).toBe(false);
        expect(front.fail2banClient("status", LOGIN_JAIL).code).not.toBe(0);
        const back = await eventually(async () => (await frontRequest(front, attacker, "/v2/", { timeoutMs: 2000 })).status === 401);
        expect(back, front.logs()).toBe(true);
        expect(runOk(loginLimitRemoveScript(install.conf))).toBe("no login limit to remove");
        expect(existsSync(install.accessLogFile)).toBe(true);
    }, 60_000);
});
