/**
 * The `prod` stack's first `pulumi up` on a fresh registry host, for real: fail2ban, nftables and
 * prometheus-node-exporter are not installed, `externalHost.installPackages` is on, and the login limit's
 * and node_exporter's scripts really run `apt-get install` there while dpkg's lock is held, as
 * unattended-upgrades holds it on a new machine. The engine runs every step whose dependencies are done at
 * once: the login limit waits for the monitoring, so the two installs never run together, and every
 * `apt-get` waits for dpkg's lock instead of failing on it (docs/engine.md, What it found).
 *
 * The machines are those of prodUp.test.ts (test/support/prodHosts.ts), set up the same way. What differs
 * on the registry host, and why:
 * - the three packages (and prometheus-node-exporter-collectors, which depends on the exporter) are
 *   purged with dpkg inside the host before its services start;
 * - its only apt source is a local repository of the packages' .deb files, downloaded on this machine and
 *   indexed with dpkg-scanpackages, and its lists are updated from it: no test host reaches a mirror;
 *   needrestart's apt hook, which this machine has and a fresh Debian host does not, is removed;
 * - a process inside the host holds dpkg's locks (fcntl locks on /var/lib/dpkg/lock-frontend and
 *   /var/lib/dpkg/lock, as apt and unattended-upgrades take them) from before `up` until 15 s after the
 *   first `apt-get` of `up` started;
 * - no systemd runs there: on a systemd host fail2ban's postinst starts its unit; here an apt hook of the
 *   host starts fail2ban once dpkg has installed it, so the login limit finds it running as on a real host
 *   (node_exporter's service is not started: nothing in `up` asks it).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROD_STACK, type ProdStack, startProdStack } from "../support/prodStack";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";
import type { TestHost } from "../support/testHost";

const STACK = PROD_STACK;
/** What a fresh host lacks: the programs the scripts look for and the packages that bring them. */
const PROGRAMS = ["fail2ban-client", "nft", "prometheus-node-exporter"];
const PACKAGES = ["fail2ban", "nftables", "prometheus-node-exporter"];
/** Seconds dpkg's lock stays held after the first `apt-get` of `up` started. */
const LOCK_HELD_AFTER_APT = 15;

let stack: ProdStack;
let repoDir: string | undefined;
let lockHolder: ServerProcess | undefined;
/** How long apt's history log on the host was before `up`: the entries after it are `up`'s. */
let historyBefore = 0;
let upOutput = "";

/** Runs a shell script as root on the host; throws with its output unless it exits 0. */
function onHost(host: TestHost, script: string, ...args: string[]): string {
    const r = host.run("sh", ["-c", `set -eu\n${script}`, "on-host", ...args]);
    if (r.code !== 0) throw new Error(`on the test host: ${script}\nexited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
}

/**
 * Makes the registry host a fresh one: the packages purged, an offline apt source holding them (and any
 * dependency apt would install with them), and fail2ban started once dpkg installs it.
 */
function makeFresh(host: TestHost): void {
    // The collectors depend on the exporter, so dpkg purges them with it; apt installs them again (a Recommends).
    onHost(host, "dpkg --purge fail2ban nftables prometheus-node-exporter-collectors prometheus-node-exporter >/dev/null");
    // What `apt-get install` will fetch on this host, as apt plans it with the lists it has now (no download).
    const plan = onHost(host, `apt-get install -s -qq ${PACKAGES.join(" ")}`);
    const wanted = [...plan.matchAll(/^Inst (\S+) /gm)].map((m) => m[1] as string);
    repoDir = privateDir("apt-repo");
    // Readable by the host's apt, which reads a file: source as user _apt.
    chmodSync(repoDir, 0o755);
    // This machine reaches the mirror through apt; the files land in the test's directory, not apt's cache.
    const download = spawnSync("apt-get", ["download", "-qq", "-o", "APT::Sandbox::User=root", ...wanted], {
        cwd: repoDir,
        encoding: "utf8",
    });
    if (download.status !== 0) throw new Error(`apt-get download ${wanted.join(" ")} failed\n${download.stderr}`);
    const index = spawnSync("dpkg-scanpackages", ["--multiversion", "."], { cwd: repoDir, encoding: "utf8" });
    if (index.status !== 0) throw new Error(`dpkg-scanpackages failed\n${index.stderr}`);
    writeFileSync(path.join(repoDir, "Packages"), index.stdout);
    onHost(
        host,
        [
            "rm -rf /etc/apt/sources.list /etc/apt/sources.list.d/* /var/lib/apt/lists/*",
            // needrestart's apt hook, which a fresh Debian host does not have, would look at every process of this machine.
            "rm -f /etc/apt/apt.conf.d/99needrestart",
            'printf "deb [trusted=yes] file:%s ./\\n" "$1" > /etc/apt/sources.list.d/dso-test-offline.list',
            "apt-get update -qq",
        ].join("\n"),
        repoDir,
    );
    // The host's stand-in for systemd starting fail2ban's unit from the package's postinst.
    const hook = [
        "// Test host without systemd: starts fail2ban once dpkg installed it, as its unit is started on a systemd host.",
        'DPkg::Post-Invoke { "if command -v fail2ban-server >/dev/null && ! fail2ban-client ping >/dev/null 2>&1; then mkdir -p /run/fail2ban && touch /var/log/auth.log && fail2ban-client -x start >/dev/null 2>&1 </dev/null; fi"; };',
        "",
    ].join("\n");
    const written = host.run("sh", ["-c", "cat > /etc/apt/apt.conf.d/99dso-test-start-fail2ban"], { input: hook });
    if (written.code !== 0) throw new Error(written.stderr);
    historyBefore = (host.readFile("/var/log/apt/history.log") ?? "").length;
}

/**
 * Holds dpkg's locks as apt does (fcntl locks, which apt's DPkg::Lock::Timeout waits on) until
 * LOCK_HELD_AFTER_APT seconds after an `apt-get` of this host (its mount namespace) started, then lets
 * go. Prints `held`, `apt-get <pid>` and `released` with the host's local time as apt's history log writes it.
 */
const LOCK_HOLDER = `
import fcntl, os, sys, time
held = int(sys.argv[1])
stamp = lambda: time.strftime("%Y-%m-%d  %H:%M:%S")
fds = []
for name in ("/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock"):
    fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o640)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fds.append(fd)
print("held", stamp(), flush=True)
mine = os.readlink("/proc/self/ns/mnt")
deadline = time.time() + 1200
apt = None
while apt is None and time.time() < deadline:
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if open(f"/proc/{pid}/comm").read().strip() == "apt-get" and os.readlink(f"/proc/{pid}/ns/mnt") == mine:
                apt = pid
                break
        except OSError:
            pass
    time.sleep(0.2)
print("apt-get", apt, stamp(), flush=True)
time.sleep(held)
for fd in fds:
    os.close(fd)
print("released", stamp(), flush=True)
`;

/** The entries apt's history log gained during the test: each install's command line and its start and end. */
function installsSinceSetUp(): Array<{ command: string; start: string; end: string }> {
    const log = (stack.hosts.registryHost.readFile("/var/log/apt/history.log") ?? "").slice(historyBefore);
    return log
        .split(/\n\s*\n/)
        .map((entry) => ({
            command: /^Commandline: (.*)$/m.exec(entry)?.[1] ?? "",
            start: /^Start-Date: (.*)$/m.exec(entry)?.[1] ?? "",
            end: /^End-Date: (.*)$/m.exec(entry)?.[1] ?? "",
        }))
        .filter((e) => / install /.test(e.command));
}

/** The index of the first `up --json` event document of `kind` for the resource named `name`. */
function eventIndex(output: string, kind: "resourcePreEvent" | "resOutputsEvent", name: string): number {
    const docs = output.split(/\n(?=\{)/).filter((d) => d.trim().startsWith("{"));
    return docs.findIndex((doc) => {
        const event = JSON.parse(doc) as Record<string, { metadata?: { urn?: string } } | undefined>;
        return event[kind]?.metadata?.urn?.endsWith(`::${name}`) === true;
    });
}

beforeAll(async () => {
    // The operator's steps, as prodUp.test.ts takes them, on a registry host made fresh first.
    stack = await startProdStack({ hosts: { prepareRegistryHost: makeFresh } });
}, 20 * 60_000);

afterAll(async () => {
    await lockHolder?.stop();
    // The fail2ban the host's apt hook started: a daemon of the host, ended by its PID.
    const pid = Number(stack?.hosts.registryHost.readFile("/run/fail2ban/fail2ban.pid")?.trim());
    if (pid > 0) {
        try {
            process.kill(pid, "SIGTERM");
            for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
            if (alive(pid)) process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    await stack?.stop();
    if (repoDir) removeDir(repoDir);
}, 5 * 60_000);

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

describe("prod stack, real engine, first `up` on a fresh registry host", () => {
    it("the host starts without the packages, with an offline apt source that has them", () => {
        for (const program of PROGRAMS)
            expect([program, stack.hosts.registryHost.run("sh", ["-c", `command -v ${program}`]).code]).not.toEqual([program, 0]);
        const policy = stack.hosts.registryHost.run("apt-cache", ["policy", ...PACKAGES]);
        expect(policy.stdout).not.toMatch(/deb\.debian\.org|http/);
        expect(policy.stdout.match(/file:/g)?.length).toBe(PACKAGES.length);
        expect(readdirSync(repoDir as string).filter((f) => f.endsWith(".deb")).length).toBeGreaterThanOrEqual(PACKAGES.length);
    });

    it(
        "`up` installs them while dpkg's lock is held: it succeeds",
        async () => {
            lockHolder = stack.hosts.registryHost.startServer("python3", ["-c", LOCK_HOLDER, String(LOCK_HELD_AFTER_APT)]);
            const deadline = Date.now() + 30_000;
            while (!lockHolder.output().includes("held")) {
                if (lockHolder.child.exitCode !== null || Date.now() > deadline)
                    throw new Error(`the lock holder did not start\n${lockHolder.output()}`);
                await new Promise((r) => setTimeout(r, 100));
            }
            const up = await stack.ws.pulumi(["up", "--yes", "--json", "-s", STACK], { timeoutMs: 25 * 60_000 });
            upOutput = up.stdout;
            expect(up.code, up.stdout.slice(-20_000) + up.stderr).toBe(0);
        },
        30 * 60_000,
    );

    it("the packages are installed and the login limit's jail runs in fail2ban", () => {
        for (const pkg of PACKAGES) {
            const status = stack.hosts.registryHost.run("dpkg", ["-s", pkg]);
            expect([pkg, /^Status: install ok installed$/m.test(status.stdout)]).toEqual([pkg, true]);
        }
        const jail = stack.hosts.registryHost.run("fail2ban-client", ["status", "dso-registry-login"]);
        expect(jail.code, jail.stdout + jail.stderr).toBe(0);
    });

    it("the two installs ran one after the other, both after waiting for dpkg's lock", () => {
        // The engine: node_exporter's step finished before the login limit's started.
        const exporterDone = eventIndex(upOutput, "resOutputsEvent", "registry-host-monitoring-node-exporter");
        const loginLimitStarts = eventIndex(upOutput, "resourcePreEvent", "registry-host-login-limit-fail2ban");
        expect(exporterDone).toBeGreaterThanOrEqual(0);
        expect(loginLimitStarts).toBeGreaterThan(exporterDone);
        // The host: an apt-get started while the lock was held, and each install began after it was let go.
        const holder = lockHolder?.output() ?? "";
        const aptSeen = /^apt-get (\d+) /m.exec(holder);
        const released = /^released (.*)$/m.exec(holder)?.[1];
        expect(aptSeen, holder).not.toBeNull();
        expect(released, holder).toBeDefined();
        const installs = installsSinceSetUp();
        const exporter = installs.filter((i) => i.command.includes("prometheus-node-exporter"));
        const loginLimit = installs.filter((i) => /fail2ban/.test(i.command));
        expect([exporter.length, loginLimit.length], JSON.stringify(installs)).toEqual([1, 1]);
        // Dates as apt writes them ("YYYY-MM-DD  HH:MM:SS", the host's local time) order as strings.
        const [e, l] = [exporter[0]!, loginLimit[0]!];
        expect(e.start >= (released as string), `${e.start} after ${released}`).toBe(true);
        expect(e.end <= l.start, `node_exporter ${e.start}–${e.end}, login limit ${l.start}–${l.end}`).toBe(true);
    });

    it(
        "a second `up` plans nothing",
        async () => {
            const again = await stack.ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK], {
                timeoutMs: 10 * 60_000,
            });
            expect(again.code, again.stdout.slice(-10_000) + again.stderr).toBe(0);
        },
        15 * 60_000,
    );
});
