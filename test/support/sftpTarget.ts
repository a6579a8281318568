/**
 * A backup machine for tests: a real OpenSSH server that offers only SFTP, listening on this
 * machine's end of a test namespace's veth pair (so a registry host played by the namespace reaches
 * it as another machine), with a host key and a client key made at test time and a scratch directory
 * that backups are written to.
 *
 * Usage:
 *   const target = await startSftpTarget(ns.hostAddress);
 *   target.privateKey; target.hostKey; target.port; target.dir
 *   await target.stop();                                  // always, e.g. in afterAll
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { freePort, privateDir, removeDir, runOk, type ServerProcess, startServer, waitForPort } from "./serverProcess";

export interface SftpTarget {
    readonly host: string;
    readonly port: number;
    /** The user the backup logs in as (root: the test runs as root). */
    readonly user: string;
    /** The client's private key (OpenSSH PEM), as the stack secret backupSshPrivateKey would hold it. */
    readonly privateKey: string;
    /** The server's public host key line, for pinning. */
    readonly hostKey: string;
    /** A directory for repositories on this "machine". */
    readonly dir: string;
    log(): string;
    stop(): Promise<void>;
}

export async function startSftpTarget(listenAddress: string): Promise<SftpTarget> {
    const scratch = privateDir("sftp-target");
    const dir = path.join(scratch, "repositories");
    runOk("mkdir", ["-p", dir]);
    const hostKeyFile = path.join(scratch, "ssh_host_ed25519_key");
    const clientKeyFile = path.join(scratch, "client_ed25519");
    runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dso-test-backup-host", "-f", hostKeyFile]);
    runOk("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "dso-test-backup-client", "-f", clientKeyFile]);
    const authorizedKeys = path.join(scratch, "authorized_keys");
    writeFileSync(authorizedKeys, readFileSync(`${clientKeyFile}.pub`), { mode: 0o644 });
    chmodSync(scratch, 0o755);
    const port = await freePort();
    const config = path.join(scratch, "sshd_config");
    writeFileSync(
        config,
        [
            `ListenAddress ${listenAddress}:${port}`,
            `HostKey ${hostKeyFile}`,
            `PidFile ${path.join(scratch, "sshd.pid")}`,
            `AuthorizedKeysFile ${authorizedKeys}`,
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "AllowUsers root",
            "Subsystem sftp internal-sftp",
            "ForceCommand internal-sftp",
            "LogLevel VERBOSE",
            "",
        ].join("\n"),
    );
    const sshd: ServerProcess = startServer("/usr/sbin/sshd", ["-D", "-e", "-f", config]);
    try {
        await waitForPort(port, 30_000, "sftp target", listenAddress);
    } catch (error) {
        await sshd.stop();
        removeDir(scratch);
        throw new Error(`${(error as Error).message}\n${sshd.output()}`);
    }
    let stopped = false;
    return {
        host: listenAddress,
        port,
        user: "root",
        privateKey: readFileSync(clientKeyFile, "utf8"),
        hostKey: readFileSync(`${hostKeyFile}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" "),
        dir,
        log: () => sshd.output(),
        async stop() {
            if (stopped) return;
            stopped = true;
            await sshd.stop();
            removeDir(scratch);
        },
    };
}
