/**
 * A whole machine for the engine tier: a test network namespace plus a mount namespace of its own in
 * which /etc, /usr, /var, /srv, /opt, /home and /root are overlays of this machine's (reads see its
 * installed packages, every write lands in the test's upper directories) and /run is a fresh tmpfs.
 * The program's remote scripts then run on it over SSH exactly as on a real host: real paths, no
 * private-root prefix, a login that is not root and reaches root with `sudo -n`, a Docker engine whose
 * bind mounts resolve on that host, and the front's Caddy container on the host's network. Nothing written there
 * touches this machine; `destroy()` removes every upper directory with the namespaces.
 *
 * A holder process keeps the mount (and UTS: the host's own name) namespace alive; every process of the host (sshd, dockerd, Caddy,
 * a client run with `run`) is started inside with `nsenter` into the holder's mount and network
 * namespaces. The object is a TestNetns, so sshServer and dockerEngine start their servers on it.
 *
 * Usage:
 *   const host = await startTestHost({ prefix: "eh", subnet: "198.18.48.0/20", hosts: ["registry.test"] });
 *   host.addUser("deploy");                  // with passwordless sudo, as the stack's `user`
 *   host.run("cat", ["/etc/hosts"]);         // the host's own /etc/hosts
 *   await host.destroy();
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { createNetns, type TestNetns } from "./netns";
import { privateDir, type RunResult, removeDir, run, type ServerProcess, startServer, waitUntil } from "./serverProcess";

/** The directories whose writes stay on the test host. */
const OVERLAID = ["etc", "usr", "var", "srv", "opt", "home", "root"] as const;

export interface TestHostOptions {
    /** createNetns's prefix and subnet. */
    readonly prefix: string;
    readonly subnet: string;
    /** Names that resolve to the host's own address in its /etc/hosts (its name, the sites it serves). */
    readonly hosts: readonly string[];
    /** Extra /etc/hosts lines (other machines of the test). */
    readonly extraHosts?: readonly string[];
}

export interface TestHost extends TestNetns {
    /** PID of the holder: `nsenter -t <pid> -m -n` enters the host. */
    readonly holderPid: number;
    /** Creates a user with a home and a shell, allowed every command with `sudo -n` (as a deploy user is). */
    addUser(name: string): void;
    /** Appends a PEM certificate to the host's system trust store (/etc/ssl/certs/ca-certificates.crt). */
    trust(pem: string): void;
    /** The host's file at `absolutePath`, or undefined when there is none. */
    readFile(absolutePath: string): string | undefined;
    /** Whether `absolutePath` exists on the host. */
    exists(absolutePath: string): boolean;
}

const HOLDER_SCRIPT = [
    "set -eu",
    "dir=$1; mount --make-rprivate /",
    `for d in ${OVERLAID.join(" ")}; do`,
    '  mkdir -p "$dir/upper/$d" "$dir/work/$d"',
    '  mount -t overlay "dso-host-$d" -o "lowerdir=/$d,upperdir=$dir/upper/$d,workdir=$dir/work/$d" "/$d"',
    "done",
    'hostname "$2"',
    "mount -t tmpfs -o mode=0755 dso-host-run /run",
    "mkdir -p /run/sshd /run/lock && chmod 1777 /run/lock",
    // Services that drop root (Caddy) may bind 443, as systemd's capability grant lets them.
    "sysctl -q -w net.ipv4.ip_unprivileged_port_start=0",
    ': > "$dir/ready"',
    "exec sleep infinity",
].join("\n");

export async function startTestHost(options: TestHostOptions): Promise<TestHost> {
    const ns = await createNetns({ prefix: options.prefix, subnet: options.subnet });
    const dir = privateDir("host");
    const hostname = (options.hosts[0] ?? "test-host").split(".")[0] as string;
    let holder: ServerProcess | undefined;
    const destroy = async () => {
        await holder?.stop();
        holder = undefined;
        await ns.destroy();
        removeDir(dir);
    };
    try {
        // Files the host has from the start: written into the upper directory before the overlay is mounted.
        mkdirSync(path.join(dir, "upper", "etc"), { recursive: true });
        const realHosts = `127.0.0.1 localhost\n${ns.address} ${[...new Set([...options.hosts, hostname])].join(" ")}\n${(options.extraHosts ?? []).map((l) => `${l}\n`).join("")}`;
        writeFileSync(path.join(dir, "upper", "etc", "hosts"), realHosts);
        writeFileSync(path.join(dir, "upper", "etc", "hostname"), `${hostname}\n`);
        const started = startServer("nsenter", [
            `--net=/run/netns/${ns.name}`,
            "unshare",
            "--mount",
            "--uts",
            "sh",
            "-c",
            HOLDER_SCRIPT,
            "dso-host",
            dir,
            hostname,
        ]);
        holder = started;
        const ready = () => {
            if (started.child.exitCode !== null) throw new Error(`exited with ${started.child.exitCode}`);
            return existsSync(path.join(dir, "ready"));
        };
        await waitUntil(ready, { timeout: 30_000, interval: 100 }).catch((error: unknown) => {
            throw new Error(`the test host did not start\n${started.output()}`, { cause: error });
        });
    } catch (error) {
        await destroy();
        throw error;
    }
    const pid = holder.child.pid as number;
    const wrap = (command: string, args: readonly string[]): [string, string[]] => [
        "nsenter",
        ["-t", String(pid), "-m", "-n", "-u", "--", command, ...args],
    ];
    const runInside = (command: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): RunResult =>
        run(...wrap(command, args), opts);
    const runOkInside = (command: string, args: readonly string[], input?: string) => {
        const r = runInside(command, args, { input });
        if (r.code !== 0) throw new Error(`${command} ${args.join(" ")} on the test host exited ${r.code}\n${r.stdout}\n${r.stderr}`);
        return r.stdout;
    };
    return {
        ...ns,
        holderPid: pid,
        wrap,
        run: runInside,
        startServer: (command, args, env) => startServer(...wrap(command, args), env),
        writeEtcFile(relativePath, content, mode = 0o644) {
            const target = path.posix.join("/etc", relativePath);
            if (!target.startsWith("/etc/")) throw new Error(`writeEtcFile: ${relativePath} leaves /etc`);
            runOkInside(
                "sh",
                ["-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod "$2" "$1"', "write", target, mode.toString(8)],
                content,
            );
            return target;
        },
        addUser(name) {
            runOkInside("useradd", ["--create-home", "--shell", "/bin/sh", name]);
            // A locked password ("!") refuses SSH logins by key too; "*" has no password and allows keys.
            runOkInside("usermod", ["--password", "*", name]);
            runOkInside("sh", [
                "-c",
                'printf "%s ALL=(ALL:ALL) NOPASSWD: ALL\\n" "$1" > "/etc/sudoers.d/$1" && chmod 0440 "/etc/sudoers.d/$1"',
                "user",
                name,
            ]);
        },
        trust(pem) {
            runOkInside("sh", ["-c", "cat >> /etc/ssl/certs/ca-certificates.crt"], pem.endsWith("\n") ? pem : `${pem}\n`);
        },
        readFile(absolutePath) {
            const r = runInside("cat", [absolutePath]);
            return r.code === 0 ? r.stdout : undefined;
        },
        exists: (absolutePath) => runInside("test", ["-e", absolutePath]).code === 0,
        destroy,
    };
}
