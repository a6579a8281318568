/**
 * docs/runbooks.md's external-host sections, run as an operator runs them, on the `prod` stack deployed by
 * the real engine on machines of its own (test/support/prodStack.ts, prodHosts.ts): every command is read
 * from the page at test time (test/support/runbooks.ts), so the test runs what the page says, and a command
 * the page changes is what runs next time. The commands run over SSH as the stack's `deploy` user, with
 * `sudo` as the page writes it, on the registry host whose data directory is a small file system of its
 * own (a 256 MiB tmpfs at /srv/data, mounted before anything starts there), so that "Disk full" fills it.
 *
 * Each section: the trouble made as it happens (a container stopped or removed, the disk filled, the backup
 * machine unreachable, a blob damaged), the page's commands, the fix the page gives, and the section's "It
 * worked when" check. Not run, and why: `journalctl` (the test hosts run no systemd journal, and no cron
 * daemon runs the scheduled jobs whose output it reads: the test runs the jobs by hand as the page also
 * says); Prometheus's view of the alert (docs/monitoring.md's rules are proven against a real Prometheus by
 * test/integration/monitoring.realPrometheus.test.ts; here the series the alerts read are read from the
 * files node_exporter serves).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEXTFILE_DIR } from "../../components/monitoring/jobMetrics";
import { readStackConfig, runProgram } from "../../tools/synth";
import { payloadImage } from "../support/dockerImages";
import { outputMentions } from "../support/docPages";
import { REGISTRY } from "../support/prodHosts";
import { PROD_STACK, type ProdStack, startBackupTarget, startProdStack } from "../support/prodStack";
import { PROJECT_DIR } from "../support/pulumiEngine";
import { fillPlaceholders, runbookCommand, runbookSection } from "../support/runbooks";
import type { SftpTarget } from "../support/sftpTarget";

const STACK = PROD_STACK;
const DATA_FS_MIB = 256;
const REPO = `${REGISTRY}/docker-internal/p2c`;
/** The image that must survive every section, pushed first. */
const KEEP = `${REPO}/keep:1`;

let stack: ProdStack;
let backupTarget: SftpTarget;
let sshArgs: string[] = [];

beforeAll(async () => {
    stack = await startProdStack({
        hosts: {
            // The registry host's data file system: small, so that it can be filled.
            prepareRegistryHost: (host) => {
                const r = host.run("sh", ["-c", `mkdir -p /srv/data && mount -t tmpfs -o size=${DATA_FS_MIB}m dso-test-data /srv/data`]);
                if (r.code !== 0) throw new Error(r.stderr);
            },
        },
    });
    backupTarget = await startBackupTarget(stack);
    // A pipeline's push account and a developer's read account, so that the outputs only named accounts give exist.
    for (const [key, value] of [
        ["containerRegistry.pushAccounts[0].name", "team-a-ci"],
        ["containerRegistry.pushAccounts[0].prefixes[0]", "docker-internal/p2c/team-a/"],
        ["containerRegistry.readAccounts[0].name", "dev-alice"],
        // A cache small enough to be filled: ghcr.io's (the committed stack's second).
        ["registry.mirrors[1].maxSize", "64Mi"],
    ] as const)
        await stack.config(key, value);
    const up = await stack.ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 20 * 60_000 });
    if (up.code !== 0) throw new Error(`up failed\n${up.stdout.slice(-20_000)}${up.stderr}`);
    // The operator's SSH line, as `pulumi stack output registryHostOps` gives it, with the stack's key and pinned host key.
    const ops = (await stack.ws.output(STACK, "registryHostOps")) as { backup: string };
    const [, ...line] = ops.backup.split(" ");
    const knownHosts = path.join(stack.ws.dir, "known_hosts");
    writeFileSync(knownHosts, `${stack.hosts.registryHost.address} ${stack.hosts.hostSsh.hostKey}\n`);
    sshArgs = [
        "-i",
        stack.hosts.clientKeyFile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        ...line.slice(0, line.indexOf("sudo")),
    ];
}, 30 * 60_000);

afterAll(async () => {
    await backupTarget?.stop();
    await stack?.stop();
}, 5 * 60_000);

const host = () => stack.hosts.registryHost;

/** A command line of the page run on the registry host over SSH as `deploy`, as the operator types it. */
function operator(command: string, timeoutMs = 5 * 60_000): { code: number; out: string } {
    const r = spawnSync("ssh", [...sshArgs, command], { encoding: "utf8", timeout: timeoutMs });
    return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** The page's command of `section` that starts with `start`, with its placeholders filled, run; must exit 0. */
function step(section: string, start: string, values: Record<string, string> = {}): string {
    const command = fillPlaceholders(runbookCommand(section, start), values);
    const r = operator(command);
    expect(r.code, `${section}: ${command}\n${r.out}`).toBe(0);
    return r.out;
}

/** The section's "It worked when" check of the front: /v2/ answers 401 (the challenge), from the host. */
function v2Status(): string {
    const curl = fillPlaceholders(runbookCommand("Registry down", "curl -sS"), { registry: REGISTRY });
    return operator(curl).out.trim();
}

/** Free space of the data file system, in percent. */
function freePercent(): number {
    const df = operator("df -P /srv/data | tail -n 1").out.trim().split(/\s+/);
    return Math.round((100 * Number(df[3])) / Number(df[1]));
}

const pusher = () => {
    const client = stack.hosts.engine.client();
    expect(client.login(REGISTRY, { username: "jenkins-push", password: stack.secrets.containerRegistryPassword }).code).toBe(0);
    return client;
};

/** The digest KEEP has in the registry, by an anonymous pull; and the pull's success. */
function pullKeep(): string {
    const anonymous = stack.hosts.engine.client();
    anonymous.docker(["rmi", KEEP]);
    anonymous.dockerOk(["pull", KEEP]);
    return anonymous.dockerOk(["inspect", "-f", "{{index .RepoDigests 0}}", KEEP]).trim();
}

/** The value of a series in the file a job left for node_exporter (`dso_registry_<task>.prom`). */
function jobSeries(task: string, series: string): string | undefined {
    const text = host().readFile(`${TEXTFILE_DIR}/dso_registry_${task}.prom`) ?? "";
    return text.match(new RegExp(`^${series}\\{task="${task}"\\} (\\S+)$`, "m"))?.[1];
}

let keepDigest = "";

describe("the outputs the pages name, on the deployed stack", () => {
    it(
        "each a page tells a reader to read that this stack has reads with a value; every other is the local stack's (local.test.ts reads those on its deployed stack)",
        async () => {
            const named = [...new Set(outputMentions().map((m) => m.name))].sort();
            expect(named.length).toBeGreaterThan(5);
            const listed = Object.keys(JSON.parse((await stack.ws.pulumiOk(["stack", "output", "--json", "-s", STACK])).stdout) as object);
            const read = named.filter((name) => listed.includes(name));
            for (const name of read) {
                const value = await stack.ws.pulumi(["stack", "output", "--show-secrets", name, "-s", STACK]);
                expect(value.code, `${name}: ${value.stderr}`).toBe(0);
                expect(value.stdout.trim(), name).not.toMatch(/^(null|)$/);
            }
            expect(read).toEqual(
                expect.arrayContaining(["registryHostOps", "pushAccountCredentials", "readAccountCredentials", "accountRotation"]),
            );
            const local = Object.keys((await runProgram("local", readStackConfig(PROJECT_DIR, "local"))).outputs);
            expect(named.filter((name) => !listed.includes(name) && !local.includes(name))).toEqual([]);

            // Credential leaked: the page's command gives a named account's password to hand over.
            const command = runbookSection("Credential leaked").inline.find((c) => c.endsWith("readAccountCredentials"));
            expect(command).toBe("pulumi stack output --show-secrets readAccountCredentials");
            const accounts = JSON.parse(
                (await stack.ws.pulumiOk([...(command as string).split(" ").slice(1), "--json", "-s", STACK])).stdout,
            ) as Record<string, { username: string; password: string }>;
            expect(accounts["dev-alice"]?.username).toBe("dev-alice");
            expect(accounts["dev-alice"]?.password).toMatch(/^\S{16,}$/);
        },
        5 * 60_000,
    );
});

describe("runbooks on the external host, as written", () => {
    it("the page names the sections this file runs", () => {
        for (const title of [
            "Registry down",
            "Errors and failed logins",
            "Disk full",
            "Backup failing",
            "Garbage collection or verify failed",
            "Cache over its size",
        ])
            expect(runbookSection(title).title).toBe(title);
        const client = pusher();
        payloadImage(client, KEEP, { payloadBytes: 512 * 1024 });
        client.dockerOk(["push", KEEP]);
        keepDigest = pullKeep();
        expect(v2Status()).toBe("401");
    });

    it(
        "Registry down: stopped containers come back with the page's commands; removed ones with `pulumi up --refresh`, not with a plain `up`",
        async () => {
            const engine = stack.hosts.engine;
            engine.dockerOk(["stop", "dso-registry-front", "dso-registry"]);
            expect(v2Status()).not.toBe("401");
            const status = step("Registry down", "sudo dso-registry-status");
            expect(status).toMatch(/== container\ndso-registry \S+ Exited/);
            step("Registry down", "sudo docker logs --tail 100 dso-registry");
            step("Registry down", "sudo docker logs --tail 100 dso-registry-front");
            step("Registry down", "sudo docker start dso-registry-front");
            step("Registry down", "sudo docker start dso-registry");
            expect(v2Status()).toBe("401");
            expect(pullKeep()).toBe(keepDigest);

            // Only the metrics relay stopped: the page's command starts it at once.
            engine.dockerOk(["stop", "dso-registry-metrics"]);
            const relay = runbookSection("Registry down").inline.find((c) => c === "sudo dso-registry-metrics");
            expect(relay, "the page's command that starts the relay").toBeDefined();
            expect(operator(relay as string).code).toBe(0);
            expect(engine.dockerOk(["inspect", "-f", "{{.State.Running}}", "dso-registry-metrics"]).trim()).toBe("true");

            // Gone: `docker start` cannot help; a plain `up` reads nothing from the host and plans nothing;
            // `up --refresh` finds the containers missing and makes them again.
            engine.dockerOk(["rm", "-f", "dso-registry-front", "dso-registry"]);
            const start = operator(runbookCommand("Registry down", "sudo docker start dso-registry-front"));
            expect(start.code).not.toBe(0);
            expect(start.out).toMatch(/No such container/i);
            const plain = await stack.ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
            expect(plain.code, plain.stdout.slice(-5_000) + plain.stderr).toBe(0);
            const refreshUp = runbookSection("Registry down").inline.find((c) => c.startsWith("pulumi up"));
            expect(refreshUp).toBe("pulumi up --refresh");
            const up = await stack.ws.pulumi([...(refreshUp as string).split(" ").slice(1), "--yes", "--skip-preview", "-s", STACK], {
                timeoutMs: 10 * 60_000,
            });
            expect(up.code, up.stdout.slice(-10_000) + up.stderr).toBe(0);
            expect(stack.hosts.runningContainers()).toEqual(
                expect.arrayContaining(["dso-registry", "dso-registry-front", "dso-registry-metrics"]),
            );
            expect(v2Status()).toBe("401");
            expect(pullKeep()).toBe(keepDigest);
            const again = await stack.ws.pulumi(["up", "--refresh", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK], {
                timeoutMs: 10 * 60_000,
            });
            expect(again.code, again.stdout.slice(-5_000) + again.stderr).toBe(0);
        },
        25 * 60_000,
    );

    it(
        "Errors and failed logins: wrong passwords show in the page's access-log query by address; a banned address is listed by the page's status and let in again by its unban",
        () => {
            const address = host().address;
            const wrong = () =>
                operator(
                    `curl -sS -o /dev/null -w '%{http_code}' -K - https://${REGISTRY}/v2/ <<'EOF'\nuser = "jenkins-push:not-the-password"\nEOF`,
                ).out.trim();
            for (let i = 0; i < 3; i++) expect(wrong()).toBe("401");
            const counted = step("Errors and failed logins", "sudo jq -r 'select(.status == 401");
            const line = counted.split("\n").find((l) => l.includes(`${address}\t/v2/`));
            expect(Number(line?.trim().split(/\s+/)[0]), counted).toBeGreaterThanOrEqual(3);
            expect(step("Errors and failed logins", "sudo fail2ban-client status dso-registry-login")).toMatch(/Banned IP list:/);

            // A ban, as fail2ban makes one (the host's own address is never banned by counting: fail2ban ignores its own addresses).
            const ban = host().run("fail2ban-client", ["set", "dso-registry-login", "banip", address]);
            expect(ban.code, ban.stderr).toBe(0);
            expect(step("Errors and failed logins", "sudo fail2ban-client status dso-registry-login")).toMatch(
                new RegExp(`Banned IP list:.*\\b${address.replaceAll(".", "\\.")}\\b`),
            );
            expect(v2Status()).toMatch(/^000/);
            step("Errors and failed logins", "sudo fail2ban-client set dso-registry-login unbanip", { address });
            expect(v2Status()).toBe("401");
        },
        5 * 60_000,
    );

    it(
        "Disk full: a filled data file system refuses the next push, pulls go on; the page's deletes and collection free it, and no kept image is lost",
        () => {
            const client = pusher();
            // What filled it: a big image of a team, pushed until the file system has a few MiB left.
            const free = Number(operator("df -P -B1 /srv/data | tail -n 1").out.trim().split(/\s+/)[3]);
            const FILLER = `${REPO}/scratch:big`;
            payloadImage(client, FILLER, { payloadBytes: free - 6 * 2 ** 20 });
            client.dockerOk(["push", FILLER]);
            expect(freePercent()).toBeLessThan(10);
            // The next push does not fit: refused. Pulls go on.
            const NEXT = `${REPO}/next:1`;
            payloadImage(client, NEXT, { payloadBytes: 16 * 2 ** 20 });
            expect(client.docker(["push", NEXT]).code).not.toBe(0);
            expect(pullKeep()).toBe(keepDigest);

            // What is big, as the page asks.
            expect(step("Disk full", "sudo dso-registry-status")).toMatch(/== free disk\n\S+\s+\S+\s+\S+\s+\S+\s+(9[0-9]|100)%/);
            expect(step("Disk full", "sudo du -xh --max-depth=1 /srv/data")).toMatch(/\/srv\/data\/registry\n/);
            const biggest = step("Disk full", "sudo sh -c 'cd /srv/data/registry").trim().split("\n");
            expect(biggest.at(-1)).toMatch(/^\d+ MiB docker-internal\/p2c\/scratch$/);

            // What frees space: the tag deleted as docs/deletes-and-gc.md does it, then the collection.
            const authfile = "/root/.dso-test-skopeo-auth.json";
            const login = host().run(
                "skopeo",
                ["login", "--authfile", authfile, "--username", "jenkins-push", "--password-stdin", REGISTRY],
                {
                    input: `${stack.secrets.containerRegistryPassword}\n`,
                },
            );
            expect(login.code, login.stderr).toBe(0);
            const del = host().run("skopeo", ["delete", "--authfile", authfile, `docker://${FILLER}`]);
            expect(del.code, del.stderr).toBe(0);
            host().run("rm", ["-f", authfile]);
            expect(freePercent(), "deleting the tag alone frees nothing").toBeLessThan(10);
            const gc = step("Disk full", "sudo dso-registry-gc");
            expect(gc).toMatch(/verified: \d+ tagged images?, \d+ blobs?, all served/);
            expect(jobSeries("gc", "dso_registry_upkeep_success")).toBe("1");

            // It worked when: the free space is back above 10%; the push that did not fit lands; nothing kept was lost.
            expect(step("Disk full", "df -h /srv/data")).toMatch(/\s(\d|[1-8]\d)%\s/);
            expect(freePercent()).toBeGreaterThan(10);
            client.dockerOk(["push", NEXT]);
            expect(pullKeep()).toBe(keepDigest);
        },
        15 * 60_000,
    );

    it(
        "Backup failing: an unreachable backup machine fails the run and shows in the status; once it answers, the page's run succeeds",
        () => {
            // The backup machine unreachable from the registry host (a firewall rule on the host, taken out after).
            const block = `add table inet dso_test_block\nadd chain inet dso_test_block out { type filter hook output priority 0; }\nadd rule inet dso_test_block out ip daddr ${backupTarget.host} tcp dport ${backupTarget.port} reject with tcp reset\n`;
            const blocked = host().run("nft", ["-f", "-"], { input: block });
            expect(blocked.code, blocked.stderr).toBe(0);
            try {
                const failed = operator(runbookCommand("Backup failing", "sudo dso-registry-backup"));
                expect(failed.code, failed.out).not.toBe(0);
                expect(step("Backup failing", "sudo dso-registry-status")).toMatch(/^backup: FAILED at .*(last success|never succeeded)/m);
                expect(jobSeries("backup", "dso_registry_upkeep_success")).toBe("0");
            } finally {
                host().run("nft", ["delete", "table", "inet", "dso_test_block"]);
            }
            // The cause fixed: the page's run by hand, then its "It worked when".
            const ran = step("Backup failing", "sudo dso-registry-backup");
            expect(ran).toMatch(/backup done: snapshot \S+ in /);
            expect(jobSeries("backup", "dso_registry_upkeep_success")).toBe("1");
            expect(step("Backup failing", "sudo dso-registry-status")).toMatch(/^backup: ok at /m);
        },
        15 * 60_000,
    );

    it(
        "Garbage collection or verify failed: a damaged blob is named by the page's verify; its directory deleted and the image pushed again, a new run verifies all served",
        () => {
            const digest = keepDigest.split("@")[1] as string;
            // The manifest's layers, as the registry stores them: damage the biggest (the payload's).
            const blobs = "/srv/data/registry/docker/registry/v2/blobs/sha256";
            const manifest = JSON.parse(host().readFile(`${blobs}/${digest.slice(7, 9)}/${digest.slice(7)}/data`) ?? "{}") as {
                layers?: { digest: string; size: number }[];
            };
            const layer = [...(manifest.layers ?? [])].sort((a, b) => b.size - a.size)[0]?.digest.slice(7) as string;
            expect(layer).toMatch(/^[0-9a-f]{64}$/);
            const layerDir = `${blobs}/${layer.slice(0, 2)}/${layer}`;
            const damaged = host().run("sh", ["-c", `printf 'not the layer' > ${layerDir}/data`]);
            expect(damaged.code, damaged.stderr).toBe(0);

            const verify = operator(runbookCommand("Garbage collection or verify failed", "sudo dso-registry-verify"));
            expect(verify.code, verify.out).not.toBe(0);
            expect(verify.out).toContain(`DAMAGED ${layerDir}/data`);
            expect(jobSeries("verify", "dso_registry_upkeep_success")).toBe("0");
            step("Garbage collection or verify failed", "sudo dso-registry-status");

            // The page's fix: the blob's directory deleted, the registry restarted, the image pushed again from its build.
            step("Garbage collection or verify failed", "sudo rm -r", { ab: layer.slice(0, 2), digest: layer });
            expect(host().exists(layerDir)).toBe(false);
            step("Garbage collection or verify failed", "sudo docker restart dso-registry");
            const rebuilt = pusher();
            // The build's image is the one this test pushed: the client still has it.
            rebuilt.dockerOk(["push", KEEP]);
            const again = step("Garbage collection or verify failed", "sudo dso-registry-verify");
            expect(again).toMatch(/verified: \d+ tagged images?, \d+ blobs?, all served/);
            // It worked when: the job's success series is 1.
            expect(jobSeries("verify", "dso_registry_upkeep_success")).toBe("1");
            expect(pullKeep()).toBe(keepDigest);
        },
        15 * 60_000,
    );
    it(
        "Cache over its size: a cache over its maxSize whose upstream does not answer is left as it is by the page's prune; the page's emptying brings it under, as the prune's series then say",
        () => {
            const cache = "dso-registry-mirror-ghcr.io";
            const dir = "/srv/data/registry-mirrors/ghcr.io";
            const series = (name: string) =>
                (host().readFile(`${TEXTFILE_DIR}/dso_registry_caches.prom`) ?? "").match(
                    new RegExp(`^${name}\\{cache="${cache.replaceAll(".", "\\.")}"\\} (\\d+)$`, "m"),
                )?.[1];
            // What the cache stored, 80 MiB of its 64 MiB, where it stores blobs.
            const filled = host().run("sh", [
                "-c",
                `mkdir -p ${dir}/docker/registry/v2/blobs/sha256/00/00filler && head -c ${80 * 2 ** 20} /dev/urandom > ${dir}/docker/registry/v2/blobs/sha256/00/00filler/data`,
            ]);
            expect(filled.code, filled.stderr).toBe(0);
            const pruned = step("Cache over its size", "sudo dso-registry-mirror-prune");
            expect(pruned).toMatch(
                new RegExp(
                    `${cache.replaceAll(".", "\\.")}: \\d+ KiB of 65536 KiB; \\S+ does not answer, so the cache is left running as it is`,
                ),
            );
            expect(Number(series("dso_registry_cache_size_bytes"))).toBeGreaterThan(Number(series("dso_registry_cache_limit_bytes")));

            step("Cache over its size", "sudo docker stop", { cache, dir });
            expect(host().exists(`${dir}/docker`)).toBe(false);
            expect(stack.hosts.engine.dockerOk(["inspect", "-f", "{{.State.Running}}", cache]).trim()).toBe("true");
            // It worked when: the next prune's series say the cache is under its limit.
            step("Cache over its size", "sudo dso-registry-mirror-prune");
            expect(Number(series("dso_registry_cache_size_bytes"))).toBeLessThan(Number(series("dso_registry_cache_limit_bytes")));
        },
        5 * 60_000,
    );
});
