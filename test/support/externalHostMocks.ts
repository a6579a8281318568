/**
 * Three ExternalRegistryHosts under Pulumi's mock runtime, for the tests of the external host's
 * components (test/unit/externalRegistryHost.test.ts and the files named after each component):
 * "registry-host" (files TLS, an allowlist, sudo, garbage collection and backups over SFTP), "ui-host"
 * (ACME, the web UI without its delete button, root, no backups) and "s3-host" (s3 storage); a
 * command's script as the shell runs it, and that script run under sh with stand-ins.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll } from "vitest";
import { type MockRuntime, type RecordedResource, settle, startMockRuntime } from "../../tools/mockRuntime";
import { SSH_CONNECTION } from "./planArgs";

export const HASH = `$2a$10$${"b".repeat(53)}`;
/** The file-placement script's MODE parameter of 0600 (its quotes quoted again inside `sudo -n sh -c '…'`). */
export const PLACED_0600 = /^MODE='(?:\\'')?0600'/m;

/** Starts a mock runtime of its own and makes the three hosts in it; `host` is "registry-host". */
export async function startHosts() {
    const rt = await startMockRuntime({ stack: "test" });
    const mod = await import("../../components/externalHost/externalRegistryHost");
    const host = new mod.ExternalRegistryHost("registry-host", {
        connection: {
            ...SSH_CONNECTION,
            privateKey: pulumi.secret("PRIVATE-KEY-MATERIAL"),
            hostKey: "ssh-ed25519 AAAAtest",
        },
        registryHost: "registry.example.com",
        port: 443,
        pathPrefix: "team/app",
        image: `registry@sha256:${"a".repeat(64)}`,
        caddyImage: "caddy:2.8.4",
        dataDir: "/srv/data/registry",
        storage: { kind: "filesystem" },
        purgeDataOnDestroy: false,
        installPackages: true,
        tls: { kind: "files", certificatePem: "CERT", privateKeyPem: pulumi.secret("SERVER-KEY-MATERIAL"), caCertPem: "CA" },
        accounts: {
            push: { username: "ci-push", bcryptHash: pulumi.secret(HASH) },
            pull: { username: "cluster-pull", bcryptHash: pulumi.secret(HASH) },
        },
        requiresAuthForPull: false,
        allowedNetworks: ["10.0.0.0/8"],
        deletes: { api: true, ui: false },
        garbageCollection: { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false },
        backup: {
            schedule: "0 2 * * *",
            keep: 7,
            destination: {
                kind: "sftp",
                host: "backup-01",
                port: 22,
                user: "dso-backup",
                path: "/srv/restic/registry",
                hostKey: "ssh-ed25519 AAAAbackup",
            },
            repositoryPassword: pulumi.secret("REPOSITORY-PASSWORD-MATERIAL"),
            credentials: { kind: "sftp", privateKey: pulumi.secret("BACKUP-KEY-MATERIAL") },
        },
    });
    // The other flavours: ACME, the web UI (without its delete button), no backups.
    new mod.ExternalRegistryHost("ui-host", {
        connection: {
            kind: "ssh",
            name: "registry-02",
            host: "10.0.0.6",
            port: 22,
            user: "root",
            privateKey: pulumi.secret("PRIVATE-KEY-MATERIAL"),
            sudo: false,
        },
        registryHost: "registry.example.com",
        port: 443,
        pathPrefix: "",
        image: "registry:2.8.3",
        caddyImage: "caddy:2.8.4",
        dataDir: "/srv/data/registry",
        storage: { kind: "filesystem" },
        purgeDataOnDestroy: true,
        installPackages: false,
        tls: { kind: "acme", email: "ops@example.com" },
        accounts: { push: { username: "ci-push", bcryptHash: pulumi.secret(HASH) } },
        requiresAuthForPull: false,
        allowedNetworks: [],
        deletes: { api: true, ui: false },
        ui: { image: "joxit/docker-registry-ui:2.5.7" },
        garbageCollection: { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false },
    });
    // S3 storage.
    new mod.ExternalRegistryHost("s3-host", {
        connection: {
            kind: "ssh",
            name: "registry-03",
            host: "10.0.0.7",
            port: 22,
            user: "root",
            privateKey: pulumi.secret("PRIVATE-KEY-MATERIAL"),
            sudo: false,
        },
        registryHost: "registry.example.com",
        port: 443,
        pathPrefix: "",
        image: "registry:2.8.3",
        caddyImage: "caddy:2.8.4",
        dataDir: "/srv/data/registry",
        storage: {
            kind: "s3",
            bucket: "dso-images",
            region: "eu-central-1",
            endpoint: "https://minio.example.com:9000",
            forcePathStyle: true,
            rootDirectory: "/registry",
            redirect: false,
            credentials: { accessKeyId: pulumi.secret("S3-ACCESS-KEY-ID"), secretAccessKey: pulumi.secret("S3-SECRET-KEY-VALUE") },
        },
        purgeDataOnDestroy: true,
        installPackages: false,
        tls: { kind: "acme", email: "ops@example.com" },
        accounts: { push: { username: "ci-push", bcryptHash: pulumi.secret(HASH) } },
        requiresAuthForPull: false,
        allowedNetworks: [],
        deletes: { api: true, ui: false },
        garbageCollection: { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false },
    });
    await settle();
    return { rt, mod, host };
}

/**
 * The hosts of `startHosts`, made before the calling file's tests (its `beforeAll`), and what those tests
 * read of them: the runtime, a resource by name, a command's script by name, and a stubbed shell to run it.
 */
export function hostsUnderMocks() {
    let made: Awaited<ReturnType<typeof startHosts>> | undefined;
    beforeAll(async () => {
        made = await startHosts();
    });
    const hosts = () => {
        if (!made) throw new Error("the hosts are made in beforeAll: read them inside a test");
        return made;
    };
    const rt = (): MockRuntime => hosts().rt;
    const command = (name: string) => rt().byName(name);
    return {
        hosts,
        rt,
        command,
        script: (name: string, phase: "create" | "delete" = "create") => scriptOf(command(name), phase),
        runStubbed: stubbedShell(),
    };
}

/** A command's script as the shell runs it: without `sudo -n sh -c '…'` or `sh -c '…'` around it. */
export function scriptOf(command: RecordedResource, phase: "create" | "delete" = "create"): string {
    const wrapped = String(command.inputs[phase]);
    const quoted = wrapped.replace(/^(sudo -n )?sh -c /, "");
    return quoted.slice(1, -1).replaceAll("'\\''", "'");
}

/**
 * A runner of a command's script under sh in a private root ($DSO_ROOT), with stand-ins on PATH for
 * `programs`: each records its arguments in calls.log; `curl` answers `curlAnswer`. With
 * `onlyStubs`, PATH holds nothing else. The host's lock (util-linux's flock) is a stand-in that takes
 * it at once, unless `programs` names flock. The roots are made in a scratch directory of the calling
 * file, removed after its tests.
 */
export function stubbedShell() {
    const scratch = mkdtempSync(path.join(tmpdir(), "dso-host-commands-"));
    afterAll(() => rmSync(scratch, { recursive: true, force: true }));
    return function runStubbed(
        text: string,
        programs: readonly string[],
        {
            curlAnswer = "000",
            onlyStubs = false,
            // No container exists: `docker inspect NAME` fails; a formatted inspect prints nothing.
            dockerAnswer = 'case "$1 $2" in "inspect -f"|"inspect --format"*) ;; inspect*) exit 1 ;; esac',
            prepare = (_root: string) => {},
            failing = [] as readonly string[],
        } = {},
    ) {
        const root = mkdtempSync(path.join(scratch, "root-"));
        const bin = path.join(root, "bin");
        mkdirSync(bin);
        const log = path.join(root, "calls.log");
        writeFileSync(log, "");
        for (const program of programs) {
            const answer = failing.includes(program)
                ? "exit 1"
                : program === "curl"
                  ? `printf '%s' '${curlAnswer}'`
                  : program === "docker"
                    ? dockerAnswer
                    : ":";
            writeFileSync(path.join(bin, program), `#!/bin/sh\necho "${program} $*" >> '${log}'\n${answer}\n`);
            chmodSync(path.join(bin, program), 0o755);
        }
        if (!programs.includes("flock")) writeFileSync(path.join(bin, "flock"), "#!/bin/sh\n", { mode: 0o755 });
        prepare(root);
        // The shell's own helpers (dirname, sha256sum, …) come after the stand-ins.
        const result = spawnSync("/bin/sh", ["-c", text], {
            env: { PATH: onlyStubs ? bin : `${bin}:/usr/bin:/bin`, DSO_ROOT: root },
            encoding: "utf8",
        });
        return {
            status: result.status,
            stdout: result.stdout,
            stderr: result.stderr,
            root,
            calls: readFileSync(log, "utf8").trim().split("\n"),
        };
    };
}

/**
 * A `dockerAnswer` for `stubbedShell` where the containers `labels` names exist, each with its label
 * dso-registry.spec; an empty one is someone else's container, which carries no such label (its other
 * formatted `inspect`s print its image and creation). No other container exists, as with the default answer.
 */
export function containersAnswer(labels: Readonly<Record<string, string>>): string {
    const known = Object.entries(labels).map(
        ([name, label]) =>
            `${name}) case "$*" in *Labels*) echo '${label}' ;; *) echo 'someone/app:1, created 2026-01-02T03:04:05Z' ;; esac; exit 0 ;;`,
    );
    return [
        'for arg; do last=$arg; done; case "$1" in inspect)',
        `case "$last" in ${known.join(" ")} esac;`,
        'case "$2" in -f|--format) ;; *) exit 1 ;; esac ;; esac',
    ].join(" ");
}

/** A `dockerAnswer` where each container of `names` exists and is someone else's (containersAnswer). */
export const foreignContainers = (...names: readonly string[]): string => containersAnswer(Object.fromEntries(names.map((n) => [n, ""])));

/**
 * A `dockerAnswer` where no container exists, and an image of each of `names` does: as docker's, an
 * `inspect` that does not say `--type container` answers for that image (which carries no label
 * dso-registry.spec); one that says it fails.
 */
export function imagesNamed(...names: readonly string[]): string {
    return [
        'for arg; do last=$arg; done; case "$1" in inspect)',
        'case "$*" in *"--type container"*) exit 1 ;; esac;',
        `case "$last" in ${names.join("|")}) case "$*" in *Labels*) echo ;; *) echo 'sha256:0123' ;; esac; exit 0 ;; esac;`,
        'case "$2" in -f|--format) ;; *) exit 1 ;; esac ;; esac',
    ].join(" ");
}
