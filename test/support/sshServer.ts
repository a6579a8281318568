/**
 * A real OpenSSH server for tests, on 127.0.0.1:<free port> or inside a test network namespace (port
 * 22 at the namespace's address, so sessions see what runs there: its loopback, its /etc/netns
 * files), started as root with a host key and a client key made at test time. Scripts run through it exactly as `@pulumi/command`'s remote.Command
 * would run them (the command string goes to the user's shell, stdin carries the data), with two
 * differences that the server sets, not the script: `DSO_ROOT` points at a private root directory
 * (every path the scripts write is prefixed with it), and PATH may start with a directory of
 * stand-in programs.
 *
 * Usage:
 *   const ssh = await startSshServer();                  // root login
 *   const r = ssh.runScript("sh -c 'echo hi'", "stdin"); // { code, stdout, stderr }
 *   ssh.connection                                       // HostConnection fields for components
 *   await ssh.stop();                                    // always, e.g. in afterAll
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { TestNetns } from "./netns";
import { freePort, privateDir, type RunResult, removeDir, run, runOk, type ServerProcess, startServer, waitForPort } from "./serverProcess";

export interface SshServerOptions {
    /**
     * "root" logs in as root (default). "unprivileged" creates a throwaway user (removed on stop) for
     * tests of what a non-root user can and cannot do.
     */
    readonly login?: "root" | "unprivileged";
    /** Log in as this user, which exists where sshd runs (a test host's deploy user); overrides `login`. */
    readonly user?: string;
    /**
     * false: no private root, scripts write the real paths of where sshd runs (a test host, whose
     * writes stay in its overlays). Default true: DSO_ROOT points at a private root.
     */
    readonly privateRoot?: boolean;
    /**
     * Directory put first on PATH for every session, e.g. one holding a stand-in `systemctl`
     * executable. Tests that use it must say what it stands in for.
     */
    readonly pathPrefix?: string;
    /** Extra environment for every session (sshd `SetEnv`); values must not contain spaces or quotes. */
    readonly env?: Readonly<Record<string, string>>;
    /** Run sshd inside this namespace, listening on its address, port 22. */
    readonly netns?: TestNetns;
    /**
     * true: `runScript`'s sessions share one SSH connection (OpenSSH's ControlMaster), so a file that runs
     * hundreds of scripts pays for one key exchange instead of one each. Every script is still a session of
     * its own, with sshd's environment. Off by default: tests that read sshd's log of logins and
     * authentications (the login limit's) need a connection per session.
     */
    readonly reuseConnection?: boolean;
}

export interface SshServer {
    /** 127.0.0.1, or the namespace's address. */
    readonly host: string;
    readonly port: number;
    /** User name scripts run as. */
    readonly user: string;
    /** The client's private key (OpenSSH PEM), as a stack would hold it in `sshPrivateKey`. */
    readonly privateKey: string;
    /** The server's public host key line ("ssh-ed25519 AAAA…"), for pinning. */
    readonly hostKey: string;
    /** Private root that DSO_ROOT points at; files a script places at /etc/x land at `${root}/etc/x`. */
    readonly root: string;
    /** Fields for a `HostConnection` of kind "ssh" (sudo false: the session is root or needs none). */
    readonly connection: {
        readonly kind: "ssh";
        readonly name: string;
        readonly host: string;
        readonly port: number;
        readonly user: string;
        readonly privateKey: string;
        readonly hostKey: string;
        readonly sudo: false;
    };
    /** Runs `script` through the server (as remote.Command would), with `stdin` as input. */
    runScript(script: string, stdin?: string): RunResult;
    /** The file at `absolutePath` under the private root, or undefined when it does not exist. */
    readFile(absolutePath: string): string | undefined;
    /** The client key's public line, as authorized_keys holds it. */
    readonly publicKey: string;
    /** Replaces the authorized keys (public key lines): a key rotated in or revoked, as an operator does on the machine. */
    authorize(publicKeys: readonly string[]): void;
    /** sshd's log so far. */
    log(): string;
    /** Stops sshd, removes the throwaway user and every temporary file. Safe to call twice. */
    stop(): Promise<void>;
}

/** Starts sshd on a free loopback port. Needs root (as in CI). */
export async function startSshServer(options: SshServerOptions = {}): Promise<SshServer> {
    const dir = privateDir("sshd");
    const root = path.join(dir, "root");
    mkdirSync(root, { recursive: true });
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    const hostKeyFile = path.join(dir, "ssh_host_ed25519_key");
    const clientKeyFile = path.join(dir, "client_ed25519");
    runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dso-test-host", "-f", hostKeyFile]);
    runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dso-test-client", "-f", clientKeyFile]);

    let user = options.user ?? "root";
    let createdUser: string | undefined;
    if (options.login === "unprivileged" && !options.user) {
        user = `dso${Math.random().toString(36).slice(2, 10)}`;
        runOk("useradd", ["--password", "*", "--no-create-home", "--home-dir", root, "--shell", "/bin/sh", user]);
        createdUser = user;
        runOk("chown", ["-R", `${user}:`, root]);
    }
    const authorizedKeys = path.join(dir, "authorized_keys");
    writeFileSync(authorizedKeys, readFileSync(`${clientKeyFile}.pub`), { mode: 0o644 });
    chmodSync(dir, 0o755);

    const env: Record<string, string> = { ...(options.privateRoot === false ? {} : { DSO_ROOT: root }), ...(options.env ?? {}) };
    if (options.pathPrefix) env.PATH = `${options.pathPrefix}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
    for (const [k, v] of Object.entries(env)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || /[\s"'\\]/.test(v))
            throw new Error(`startSshServer: env ${k} cannot be passed through sshd`);
    }
    const host = options.netns?.address ?? "127.0.0.1";
    const port = options.netns ? 22 : await freePort();
    const config = path.join(dir, "sshd_config");
    writeFileSync(
        config,
        [
            `ListenAddress ${host}:${port}`,
            `HostKey ${hostKeyFile}`,
            `PidFile ${path.join(dir, "sshd.pid")}`,
            `AuthorizedKeysFile ${authorizedKeys}`,
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            `AllowUsers ${user}`,
            ...(Object.keys(env).length > 0
                ? [
                      `SetEnv ${Object.entries(env)
                          .map(([k, v]) => `${k}=${v}`)
                          .join(" ")}`,
                  ]
                : []),
            "LogLevel VERBOSE",
            "",
        ].join("\n"),
    );
    const knownHosts = path.join(dir, "known_hosts");
    const hostKey = readFileSync(`${hostKeyFile}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    // known_hosts names a host on port 22 without brackets or port.
    writeFileSync(knownHosts, `${port === 22 ? host : `[${host}]:${port}`} ${hostKey}\n`);

    const sshdArgs = ["-D", "-e", "-f", config];
    const sshd: ServerProcess = options.netns
        ? options.netns.startServer("/usr/sbin/sshd", sshdArgs)
        : startServer("/usr/sbin/sshd", sshdArgs);
    try {
        await (options.netns ? options.netns.waitForPort(port, 30_000, "sshd") : waitForPort(port, 30_000, "sshd"));
    } catch (error) {
        await sshd.stop();
        throw new Error(`${(error as Error).message}\n${sshd.output()}`);
    }
    let stopped = false;
    const sshArgs = [
        "-i",
        clientKeyFile,
        "-p",
        String(port),
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "LogLevel=ERROR",
        ...(options.reuseConnection
            ? ["-o", "ControlMaster=auto", "-o", `ControlPath=${path.join(dir, "control")}`, "-o", "ControlPersist=yes"]
            : []),
        "-F",
        "/dev/null",
        `${user}@${host}`,
    ];
    return {
        host,
        port,
        user,
        privateKey: readFileSync(clientKeyFile, "utf8"),
        hostKey,
        root,
        connection: {
            kind: "ssh",
            name: host,
            host,
            port,
            user,
            privateKey: readFileSync(clientKeyFile, "utf8"),
            hostKey,
            sudo: false,
        },
        runScript: (script, stdin = "") => run("ssh", [...sshArgs, script], { input: stdin }),
        readFile(absolutePath) {
            try {
                return readFileSync(path.join(root, absolutePath), "utf8");
            } catch {
                return undefined;
            }
        },
        publicKey: readFileSync(`${clientKeyFile}.pub`, "utf8").trim(),
        authorize(publicKeys) {
            writeFileSync(authorizedKeys, publicKeys.map((k) => `${k.trim()}\n`).join(""), { mode: 0o644 });
        },
        log: () => sshd.output(),
        async stop() {
            if (stopped) return;
            stopped = true;
            // The shared connection's master process ends with its connection; ask it to go first.
            if (options.reuseConnection) run("ssh", [...sshArgs.slice(0, -1), "-O", "exit", sshArgs.at(-1)!]);
            await sshd.stop();
            // The last session's processes may still be exiting; userdel refuses while they run.
            for (let attempt = 0; createdUser && attempt < 20; attempt++) {
                if (run("userdel", [createdUser]).code === 0) break;
                await new Promise((r) => setTimeout(r, 250));
            }
            removeDir(dir);
        },
    };
}
