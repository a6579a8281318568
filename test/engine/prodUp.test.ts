/**
 * The `prod` stack's `pulumi up` for real, on machines of its own: the registry host and three k3s nodes
 * are test hosts (test/support/testHost.ts: a network namespace each, with this machine's packages seen
 * through overlays, so every remote script writes the real paths of a machine that is not this one), each
 * logged into over SSH as `deploy`, who reaches root with `sudo -n` as the stack says. On the registry host
 * run a Docker engine (the front, Caddy from the pinned image, is a container `up` starts on the host's
 * network), fail2ban and node_exporter's package as installed. The stack's
 * ACME certificate comes from Pebble (Let's Encrypt's ACME test server) on the host's loopback, through
 * `registry.tls.acmeDirectory`, the key meant for a staging CA. The cluster side (the Flux pull secret,
 * the pipeline ConfigMaps) goes to a real API server, the Jenkins credentials to the fake Jenkins over HTTPS.
 *
 * The sequence: the README's secrets on stdin, `preview --diff`, `up`; real pushes and pulls through what
 * `up` built, with the stack's push account and anonymously; `up --expect-no-changes`; the certificate's
 * renewal, failed and mended as docs/runbooks.md's "TLS renewal failed" says, its commands read from the page
 * and run over SSH as `deploy`; `destroy`, after which the data directory is left (purgeDataOnDestroy is off)
 * and everything else the stack made is gone.
 *
 * Pebble validates each challenge against the front (HTTP-01 on port 80, TLS-ALPN-01 on 443) and issues
 * certificates valid for a few minutes, which the front finds due at every check (its start, then every 10
 * minutes): each restart of the front is a renewal, and no test waits for a renewal window.
 *
 * The machines and what differs from production: test/support/prodHosts.ts.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SWEEP_HOLD_GATE } from "../../components/accessPolicy/policy";
import { CONNECTION_CAP_TABLE, CONNECTIONS_PER_ADDRESS } from "../../components/externalHost/connectionCap";
import { monitoringPaths } from "../../components/externalHost/hostMonitoring";
import { defaultHostLayout, hostPaths, onlineHoldsReleased } from "../../components/externalHost/scripts";
import { JOB_METRICS } from "../../components/monitoring/jobMetrics";
import { PROJECT } from "../../components/shared/facts";
import { payloadImage } from "../support/dockerImages";
import { REGISTRY } from "../support/prodHosts";
import { PROD_STACK, type ProdStack, startBackupTarget, startProdStack } from "../support/prodStack";
import { fillPlaceholders, runbookCommand } from "../support/runbooks";
import { runAsync } from "../support/serverProcess";
import type { SftpTarget } from "../support/sftpTarget";

const STACK = PROD_STACK;
const DATA_DIR = "/srv/data/registry";
/**
 * How long Pebble's certificates are valid: far longer than the tests between `up` and the renewal take (under a
 * minute here), and short enough that the front finds them due at every check (see ProdHostsOptions).
 */
const CERTIFICATE_VALIDITY_SECONDS = 5 * 60;
/** An address of TEST-NET-1 (RFC 5737): no machine of the test has it, and the registry host has no route to it. */
const ELSEWHERE = "192.0.2.80";
const RENEWAL_SECTION = "TLS renewal failed";

let stack: ProdStack;
let backupTarget: SftpTarget;

beforeAll(async () => {
    // The operator's steps (test/support/prodStack.ts): stack init, the placeholders replaced by the
    // machines' addresses and what ssh-keyscan prints, the ACME directory, Jenkins, the secrets on stdin.
    stack = await startProdStack({ hosts: { certificateValidity: CERTIFICATE_VALIDITY_SECONDS } });
    backupTarget = await startBackupTarget(stack);
}, 20 * 60_000);

afterAll(async () => {
    await backupTarget?.stop();
    await stack?.stop();
}, 5 * 60_000);

const ws = () => stack.ws;
const hosts = () => stack.hosts;
const secrets = () => stack.secrets;
const registryHost = () => hosts().registryHost;
/** curl on the registry host trusting only Pebble's root, as a client with the ACME CA's root: the response's headers. */
const curlRegistry = (url: string) =>
    registryHost().run("curl", ["-sS", "-o", "/dev/null", "-D", "-", "--max-time", "10", "--cacert", hosts().pebbleRootFile, url]);
/**
 * `pulumi <command> --expect-no-changes` on the stack, which must pass. Without a preview: the command's own
 * steps are what it checks, and the preview would run the program (an `up`) or read every resource (a refresh) once more.
 */
async function expectNoChanges(command: "up" | "refresh"): Promise<void> {
    const r = await ws().pulumi([command, "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK], { timeoutMs: 10 * 60_000 });
    expect(r.code, r.stdout.slice(-10_000) + r.stderr).toBe(0);
}
/** ssh's options for the operator's session on the registry host: the stack's key, and the host key it pinned. */
function operatorSsh(): string[] {
    const knownHosts = path.join(ws().dir, "known_hosts");
    writeFileSync(knownHosts, `${hosts().registryHost.address} ${hosts().hostSsh.hostKey}\n`);
    return ["-i", hosts().clientKeyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${knownHosts}`];
}
/** `command` as the operator runs it: a shell line over SSH as `deploy` on the registry host. */
function asOperator(command: string) {
    return spawnSync("ssh", [...operatorSsh(), `deploy@${hosts().registryHost.address}`, command], { encoding: "utf8", timeout: 60_000 });
}
/** The command of the runbook's "TLS renewal failed" section that starts with `start`, for this stack's registry. */
const renewalCommand = (start: string) => fillPlaceholders(runbookCommand(RENEWAL_SECTION, start), { "registry host": REGISTRY });
/** The notAfter of the certificate the front serves, as the section's `openssl s_client` line prints it. */
function servedNotAfter(): string {
    const probe = asOperator(renewalCommand("echo | openssl s_client"));
    const notAfter = /^notAfter=(.+)$/m.exec(probe.stdout)?.[1];
    if (notAfter === undefined) throw new Error(`the openssl line printed no notAfter:\n${probe.stdout}${probe.stderr}`);
    return notAfter;
}
/**
 * The certificate's notAfter as the host's metrics have it: the probe of the monitoring cron file run as cron
 * runs it (root, every five minutes), then its series read from node_exporter's textfile directory.
 */
function notAfterMetric(): number {
    const monitoring = monitoringPaths(defaultHostLayout(DATA_DIR));
    const job = registryHost()
        .readFile(monitoring.cronFile)
        ?.split("\n")
        .find((line) => line.startsWith("*/5 "));
    if (job === undefined) throw new Error(`${monitoring.cronFile} has no five-minute job`);
    // Fields: minute, hour, day, month, weekday, user, then the command.
    registryHost().run("sh", ["-c", job.split(/\s+/).slice(6).join(" ")], {
        env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    const textfiles = registryHost().run("sh", ["-c", `cat ${monitoring.textfileDir}/*.prom`]).stdout;
    const value = new RegExp(`^${JOB_METRICS.certificateNotAfter} (\\d+)$`, "m").exec(textfiles)?.[1];
    if (value === undefined) throw new Error(`no ${JOB_METRICS.certificateNotAfter} in ${monitoring.textfileDir}:\n${textfiles}`);
    return Number(value);
}
/**
 * Polls `read` every half second until `done` holds of its value, which it returns; throws after `timeoutMs`.
 * A `read` that throws counts as not yet: right after `docker restart` the front may not serve its
 * certificate for a moment, and the openssl line then prints none.
 */
async function pollUntil<T>(
    what: string,
    read: () => T,
    done: (value: T) => boolean,
    timeoutMs = 90_000,
    show: (value: T) => string = String,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        let last: string;
        try {
            const value = read();
            if (done(value)) return value;
            last = show(value);
        } catch (e) {
            last = e instanceof Error ? e.message : String(e);
        }
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s; last seen:\n${last}`);
        await new Promise((r) => setTimeout(r, 500));
    }
}
/** A line of Caddy's JSON log, with the fields its ACME client writes. */
interface FrontLogEntry {
    readonly msg?: string;
    readonly identifier?: string;
    readonly challenge_type?: string;
    readonly authz_status?: string;
    /** On the front's answer to the CA's request: the challenge it answered, and where the request came from. */
    readonly challenge?: string;
    readonly remote?: string;
    readonly error?: unknown;
}
/** The front's log (Caddy writes JSON lines to stderr), across its restarts, in order. */
function frontLog(): FrontLogEntry[] {
    const logs = hosts().engine.docker(["logs", "dso-registry-front"]);
    return logs.stderr.split("\n").flatMap((line) => {
        try {
            return [JSON.parse(line) as FrontLogEntry];
        } catch {
            return [];
        }
    });
}
/**
 * The challenge types through which the CA validated `identifier`, in order: each authorization the ACME client
 * saw finalized as valid, with the challenge it was solving then.
 */
function validatedChallenges(entries: readonly FrontLogEntry[], identifier: string): string[] {
    const validated: string[] = [];
    let solving: string | undefined;
    for (const entry of entries) {
        if (entry.identifier !== identifier) continue;
        if (entry.msg === "trying to solve challenge") solving = entry.challenge_type;
        if (entry.msg === "authorization finalized" && entry.authz_status === "valid" && solving) {
            validated.push(solving);
            solving = undefined;
        }
    }
    return validated;
}
const IMAGE_REF = `${REGISTRY}/docker-internal/p2c/app:1.0.0`;
/** Where Distribution keeps the pushed repository's tag, under the host's data directory. */
const TAG_DIR = `${DATA_DIR}/docker/registry/v2/repositories/docker-internal/p2c/app/_manifests/tags/1.0.0`;

describe("prod stack, real engine, on hosts of its own", () => {
    it(
        "previews, then `up` builds the registry host, the nodes' trust, the cluster's objects and the Jenkins credentials",
        async () => {
            const preview = await ws().pulumi(["preview", "--diff", "-s", STACK]);
            expect(preview.code, preview.stdout + preview.stderr).toBe(0);
            const up = await ws().pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 20 * 60_000 });
            expect(up.code, up.stdout.slice(-20_000) + up.stderr).toBe(0);
        },
        25 * 60_000,
    );

    it("the registry and its caches run on the host, behind Caddy with a certificate obtained over ACME", () => {
        expect(hosts().runningContainers()).toEqual([
            "dso-registry",
            "dso-registry-front",
            "dso-registry-metrics",
            "dso-registry-mirror-docker.io",
            "dso-registry-mirror-ghcr.io",
            "dso-registry-mirror-registry.k8s.io",
        ]);
        // Only Distribution's /metrics leaves its container, through the relay, on the host's loopback.
        const metrics = (p: string) =>
            registryHost().run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", `http://127.0.0.1:5091${p}`])
                .stdout;
        expect(["/metrics", "/debug/pprof/", "/debug/vars"].map(metrics)).toEqual(["200", "404", "404"]);
        // The certificate chains to Pebble's root alone; /v2/ sends an anonymous client to the token endpoint.
        const v2 = curlRegistry(`https://${REGISTRY}/v2/`);
        expect(v2.code, v2.stderr).toBe(0);
        expect(v2.stdout).toMatch(
            new RegExp(`^HTTP/\\S+ 401[\\s\\S]*www-authenticate: Bearer realm="https://${REGISTRY.replaceAll(".", "\\.")}/v2/token"`, "im"),
        );
        const issuer = registryHost().run("sh", [
            "-c",
            `openssl s_client -connect ${REGISTRY}:443 -servername ${REGISTRY} </dev/null 2>/dev/null | openssl x509 -noout -issuer`,
        ]);
        expect(issuer.stdout).toMatch(/Pebble Intermediate/);
        // The host's front speaks HTTP/1.1 only: a client that asks for HTTP/2 gets HTTP/1.1
        // (docs/access-policy.md#connection-limits), and the front's ports carry the cap on connections per address.
        const h2 = registryHost().run("curl", [
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
            "--http2",
            "--cacert",
            hosts().pebbleRootFile,
            `https://${REGISTRY}/v2/`,
        ]);
        expect(h2.stdout, h2.stderr).toBe("1.1");
        expect(registryHost().run("nft", ["list", "table", "inet", CONNECTION_CAP_TABLE]).stdout).toContain(
            `ct count over ${CONNECTIONS_PER_ADDRESS}`,
        );
        // The login limit's jail runs in fail2ban, node_exporter's textfile and the cron jobs are in place.
        expect(registryHost().run("fail2ban-client", ["status", "dso-registry-login"]).code).toBe(0);
        for (const file of ["/etc/cron.d/dso-registry", "/etc/cron.d/dso-registry-mirrors", "/usr/local/sbin/dso-registry-backup"])
            expect([file, registryHost().exists(file)]).toEqual([file, true]);
    });

    it("the push account pushes, an anonymous client pulls and cannot push, through what `up` built", () => {
        const pusher = hosts().engine.client();
        payloadImage(pusher, IMAGE_REF, { payloadBytes: 64 * 1024 });
        expect(pusher.login(REGISTRY, { username: "jenkins-push", password: secrets().containerRegistryPassword }).code).toBe(0);
        pusher.dockerOk(["push", IMAGE_REF]);
        expect(registryHost().exists(`${TAG_DIR}/current/link`)).toBe(true);
        pusher.dockerOk(["logout", REGISTRY]);
        pusher.dockerOk(["rmi", IMAGE_REF]);
        const anonymous = hosts().engine.client();
        anonymous.dockerOk(["pull", IMAGE_REF]);
        anonymous.dockerOk(["tag", IMAGE_REF, `${REGISTRY}/docker-internal/p2c/app:anonymous`]);
        const push = anonymous.docker(["push", `${REGISTRY}/docker-internal/p2c/app:anonymous`]);
        expect(push.code).not.toBe(0);
        expect(push.stderr).toMatch(/unauthorized|authentication required|no basic auth/i);
    });

    it("each node trusts the registry: its registries.yaml names the registry and the caches, and k3s was restarted", () => {
        expect(hosts().nodes.map((n) => n.name)).toEqual(["k3s-server-1", "k3s-agent-1", "k3s-agent-2"]);
        for (const node of hosts().nodes) {
            const registries = node.host.readFile("/etc/rancher/k3s/registries.yaml") ?? "";
            expect(registries).toContain(REGISTRY);
            expect(registries).toContain("ghcr.io");
            expect(node.host.readFile("/var/log/dso-test-stand-ins.log")).toContain(`systemctl restart ${node.unit}`);
        }
    });

    it("the cluster has the Flux pull secret and Jenkins has both credentials; no secret is in the state's plaintext", async () => {
        const flux = await stack.kube.get<{ data: Record<string, string> }>("/api/v1/namespaces/flux-system/secrets/registry-credentials");
        expect(Object.keys(flux?.data ?? {})).toContain(".dockerconfigjson");
        expect(stack.jenkins.credentials.get("container-registry")?.fields).toMatchObject({
            username: "jenkins-push",
            password: secrets().containerRegistryPassword,
        });
        expect(stack.jenkins.credentials.get("maven-registry")?.fields).toMatchObject({ username: "jenkins-deploy" });
        const state = JSON.stringify(await ws().exportState(STACK));
        for (const value of Object.values(secrets())) expect(state).not.toContain(value);
        expect(state).not.toContain("PRIVATE KEY");
    });

    it(
        "the backup that `up` scheduled runs with the line `stack output registryHostOps` gives, into the SFTP target",
        async () => {
            const ops = (await ws().output(STACK, "registryHostOps")) as { backup: string };
            expect(ops.backup).toBe(`ssh -p 22 deploy@${hosts().registryHost.address} sudo /usr/local/sbin/dso-registry-backup`);
            // The operator's ssh line as given, with the stack's key and the host key it pinned.
            const [, ...args] = ops.backup.split(" ");
            const backup = spawnSync("ssh", [...operatorSsh(), ...args], { encoding: "utf8", timeout: 5 * 60_000 });
            expect(backup.status, backup.stdout + backup.stderr).toBe(0);
            const repository = path.join(backupTarget.dir, "dso-registry");
            expect(existsSync(path.join(repository, "config"))).toBe(true);
            expect(readdirSync(path.join(repository, "snapshots"))).toHaveLength(1);
        },
        10 * 60_000,
    );

    it(
        "a second `up` plans nothing, and a refresh right after finds nothing to change",
        async () => {
            await expectNoChanges("up");
            await expectNoChanges("refresh");
        },
        15 * 60_000,
    );

    it(
        "the push account's password changed by hand in the host's users file and Caddy reloaded, a node's registries.yaml endpoint and the registry's config.yml edited: a plain `preview` sees nothing (it reads no machine), `preview --refresh` shows the three checks to put back, `up --refresh` puts every file back (Caddy reloaded, the registry's container made anew), and only the stack's password gets in again",
        async () => {
            const USERS_PUSH = "/etc/caddy/dso-registry/users-push";
            const placed = registryHost().readFile(USERS_PUSH);
            expect(placed).toMatch(/^jenkins-push /m);
            // An operator with root on the host: the push account's line given a password of their own (the
            // front knows its accounts by name, so only a known account's line can let anyone in), Caddy reloaded.
            const password = randomBytes(12).toString("hex");
            const line = `jenkins-push ${bcrypt.hashSync(password, 10)}`;
            const reload = "docker exec dso-registry-front caddy reload --adapter caddyfile --config /etc/caddy/Caddyfile";
            const edit = registryHost().run("sh", [
                "-c",
                `awk -v line="$1" '/^jenkins-push /{print line; next} {print}' ${USERS_PUSH} > /tmp/users-push.edit && cat /tmp/users-push.edit > ${USERS_PUSH} && rm /tmp/users-push.edit && ${reload}`,
                "sh",
                line,
            ]);
            expect(edit.code, edit.stdout + edit.stderr).toBe(0);
            /** The status of /v2/ for the push account with `secret`, through Caddy (the credentials in a curl config on stdin). */
            const v2With = (secret: string) =>
                registryHost().run(
                    "curl",
                    [
                        "-sS",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                        "--max-time",
                        "10",
                        "--cacert",
                        hosts().pebbleRootFile,
                        "-K",
                        "-",
                        `https://${REGISTRY}/v2/`,
                    ],
                    { input: `user = "jenkins-push:${secret}"\n` },
                ).stdout;
            expect(v2With(password), "the hand-set password before the up").toBe("200");
            expect(v2With(secrets().containerRegistryPassword), "the stack's password before the up").toBe("401");

            // The same day, two more hand edits: the registry's endpoint in a node's registries.yaml (the
            // program's block of a file the operator shares), and a line added to Distribution's config.yml.
            const node = hosts().nodes.find((n) => n.name === "k3s-agent-2")!;
            const REGISTRIES_YAML = "/etc/rancher/k3s/registries.yaml";
            const nodePlaced = node.host.readFile(REGISTRIES_YAML)!;
            expect(nodePlaced).toContain(`"https://${REGISTRY}"`);
            const nodeEdit = node.host.run("sh", [
                "-c",
                `sed -i 's|"https://${REGISTRY}"|"https://registry.elsewhere.example"|' ${REGISTRIES_YAML}`,
            ]);
            expect(nodeEdit.code, nodeEdit.stderr).toBe(0);
            const CONFIG = hostPaths(defaultHostLayout(DATA_DIR)).registryConfig;
            const configPlaced = registryHost().readFile(CONFIG)!;
            const configEdit = registryHost().run("sh", ["-c", `echo '# tuned by hand' >> ${CONFIG}`]);
            expect(configEdit.code, configEdit.stderr).toBe(0);
            const containerId = () => hosts().engine.dockerOk(["inspect", "-f", "{{.Id}}", "dso-registry"]).trim();
            const containerBefore = containerId();

            // A plain preview reads no machine: it sees nothing.
            const plain = await ws().pulumi(["preview", "--expect-no-changes", "-s", STACK]);
            expect(plain.code, plain.stdout.slice(-10_000) + plain.stderr).toBe(0);
            // With --refresh, the read-back of Caddy's files finds the users file changed: an update to put it back.
            const refreshed = await ws().pulumi(["preview", "--refresh", "--json", "-s", STACK]);
            expect(refreshed.code, refreshed.stdout.slice(-10_000) + refreshed.stderr).toBe(0);
            const steps = (JSON.parse(refreshed.stdout).steps ?? []) as { op: string; urn: string }[];
            // Each resource shows its refresh step first, then the plan's step.
            const changed = steps
                .filter((st) => st.op !== "same" && st.op !== "refresh")
                .map((st) => `${st.op} ${st.urn.split("::").pop()}`);
            expect(changed.sort()).toEqual([
                "update node-trust-k3s-agent-2-files-check",
                "update registry-host-caddy-files-check",
                "update registry-host-container-files-check",
            ]);

            const up = await ws().pulumi(["up", "--refresh", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 10 * 60_000 });
            expect(up.code, up.stdout.slice(-10_000) + up.stderr).toBe(0);
            expect(registryHost().readFile(USERS_PUSH), "the users file as the program placed it").toBe(placed);
            expect(v2With(password), "the hand-set password after the up").toBe("401");
            expect(v2With(secrets().containerRegistryPassword), "the stack's password after the up").toBe("200");
            // The node's file and the registry's config as placed; the registry's container made anew, serving.
            expect(node.host.readFile(REGISTRIES_YAML), "the node's registries.yaml as the program placed it").toBe(nodePlaced);
            expect(registryHost().readFile(CONFIG), "config.yml as the program placed it").toBe(configPlaced);
            expect(containerId()).not.toBe(containerBefore);

            // Nothing left to change, and a refresh finds the files as placed.
            await expectNoChanges("refresh");
            await expectNoChanges("up");
        },
        20 * 60_000,
    );

    it("the first certificate came through a challenge the CA validated against the front, finding the host through its DNS", async ({
        annotate,
    }) => {
        const validated = validatedChallenges(frontLog(), REGISTRY);
        expect(validated.length, "authorizations of the registry's name the front saw validated").toBeGreaterThan(0);
        const first = validated[0] as string;
        await annotate(`${REGISTRY}: first certificate validated through ${first}`);
        expect(["http-01", "tls-alpn-01"]).toContain(first);
        // The front answered the CA's request for that challenge, which came to the host's address.
        const answered = frontLog().filter((e) => e.msg?.startsWith("served key authentication") && e.challenge === first);
        expect(answered.length).toBeGreaterThan(0);
        expect(answered.every((e) => e.remote?.startsWith(`${hosts().registryHost.address}:`))).toBe(true);
        // Pebble asked its DNS for the name's address, validated for real, and, for HTTP-01, fetched the token from port 80.
        expect(
            hosts()
                .dnsQuestions(REGISTRY)
                .some((q) => q.Qtype === 1),
        ).toBe(true);
        const pebble = hosts().pebbleLog();
        expect(pebble).toMatch(/authz \S+ set VALID by completed challenge/);
        expect(pebble).not.toContain("Skipping real validation");
        if (first === "http-01")
            expect(pebble).toContain(`Attempting to validate w/ HTTP: http://${REGISTRY}:80/.well-known/acme-challenge/`);
    });

    it(
        "a renewal while the registry's name points elsewhere fails, and the runbook's log line shows why; with the name fixed, the runbook's restart renews and its openssl line shows the new notAfter",
        async () => {
            const before = servedNotAfter();
            expect(notAfterMetric()).toBe(Date.parse(before) / 1000);
            hosts().pointName(REGISTRY, ELSEWHERE);
            try {
                // The front checks its certificate when it starts (and every 10 minutes): due, it tries to renew and fails.
                hosts().engine.dockerOk(["restart", "dso-registry-front"]);
                const logs = renewalCommand("sudo docker logs --since");
                const failure = await pollUntil(
                    "the runbook's log line shows the renewal given up for now",
                    () => asOperator(logs).stdout,
                    (out) => out.split("\n").some((line) => line.includes('"msg":"will retry"') && line.includes(REGISTRY)),
                );
                // Both challenges failed on the address the name now points at, and the old certificate is still served.
                const failed = failure.split("\n").filter((line) => line.includes('"msg":"challenge failed"'));
                expect(failed.length, failure).toBeGreaterThan(0);
                for (const line of failed) expect(line).toContain(ELSEWHERE);
                expect(servedNotAfter(), "the certificate served while the renewal fails").toBe(before);
            } finally {
                hosts().pointName(REGISTRY, hosts().registryHost.address);
            }
            const restart = asOperator(runbookCommand(RENEWAL_SECTION, "sudo docker restart"));
            expect(restart.status, restart.stderr).toBe(0);
            const after = await pollUntil("a new certificate is served", servedNotAfter, (notAfter) => notAfter !== before);
            expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
            // The section's other sign: the notAfter series moves, at the probe's next run.
            expect(notAfterMetric()).toBe(Date.parse(after) / 1000);
        },
        5 * 60_000,
    );

    it.each([
        { closed: 80, through: "tls-alpn-01" },
        { closed: 443, through: "http-01" },
    ])(
        "with the host's port $closed closed to the CA, the runbook's restart renews through $through",
        async ({ closed, through }) => {
            // The host's firewall refuses the port at the host's address, where the CA's validation connects; the
            // section's openssl line asks on the loopback and still reaches the front.
            const rule = [
                "INPUT",
                "-d",
                hosts().registryHost.address,
                "-p",
                "tcp",
                "--dport",
                String(closed),
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ];
            const close = registryHost().run("iptables", ["-I", ...rule]);
            expect(close.code, close.stderr).toBe(0);
            try {
                // The front's certificates are always due (see CERTIFICATE_VALIDITY_SECONDS), so a renewal of the
                // running front may be under way: what the log holds up to a second after the port closed is not
                // this test's. An authorization whose solving is logged after that was validated with the port
                // closed, whoever started it.
                await new Promise((r) => setTimeout(r, 1000));
                const before = servedNotAfter();
                const seen = frontLog().length;
                const restart = asOperator(runbookCommand(RENEWAL_SECTION, "sudo docker restart"));
                expect(restart.status, restart.stderr).toBe(0);
                // On a timeout the message shows what the front's ACME client logged of the name meanwhile.
                const since = await pollUntil(
                    "an authorization validated with the port closed",
                    () => frontLog().slice(seen),
                    (entries) => validatedChallenges(entries, REGISTRY).length > 0,
                    180_000,
                    (entries) =>
                        entries
                            .filter((e) => e.identifier === REGISTRY || JSON.stringify(e).includes(REGISTRY))
                            .map((e) => JSON.stringify(e))
                            .join("\n"),
                );
                const validated = validatedChallenges(since, REGISTRY);
                expect([...new Set(validated)]).toEqual([through]);
                const after = await pollUntil("a new certificate is served", servedNotAfter, (notAfter) => notAfter !== before);
                expect(Date.parse(after)).toBeGreaterThan(Date.parse(before));
            } finally {
                registryHost().run("iptables", ["-D", ...rule]);
            }
        },
        5 * 60_000,
    );

    it(
        "garbage collection turned online: `up` gives the front its gate and the cron file its boot entry; the collection its cron line runs holds an unreferenced blob, shuts and opens the gate and sweeps nothing young, while docker's pushes through the front land",
        async () => {
            const layout = defaultHostLayout(DATA_DIR);
            const paths = hostPaths(layout);
            await ws().pulumiOk([
                "config",
                "set",
                "--path",
                `${PROJECT}:registry.maintenance.garbageCollection.mode`,
                "online",
                "-s",
                STACK,
            ]);
            const up = await ws().pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 10 * 60_000 });
            expect(up.code, up.stdout.slice(-10_000) + up.stderr).toBe(0);
            // A second `up` in online mode plans nothing (the gate made only where missing, the scripts as placed).
            await expectNoChanges("up");
            const gate = `${paths.sweepHold}/${SWEEP_HOLD_GATE}`;
            expect(registryHost().run("readlink", [gate]).stdout.trim()).toBe(paths.registrySocket);
            const cron = registryHost().readFile("/etc/cron.d/dso-registry") ?? "";
            expect(cron).toContain(`@reboot root ${onlineHoldsReleased(layout)} `);
            const job = cron.split("\n").find((line) => !line.startsWith("@") && line.includes(` root ${paths.gcScript} `));
            expect(job, cron).toBeDefined();

            // A blob no manifest names, uploaded with the push account (given on curl's stdin): a candidate of the
            // collection, protected by its upload a moment before (the grace is an hour).
            const orphan = registryHost().run(
                "sh",
                [
                    "-c",
                    [
                        "set -eu",
                        'account=$(cat); f=$(mktemp); head -c 4096 /dev/urandom >"$f"',
                        'digest=sha256:$(sha256sum "$f" | cut -d" " -f1)',
                        `api="https://${REGISTRY}/v2/docker-internal/p2c/orphans/blobs/uploads/"`,
                        `loc=$(printf '%s\\n' "$account" | curl -sS -K - --cacert ${hosts().pebbleRootFile} -X POST -D - -o /dev/null "$api" | sed -n 's/^[Ll]ocation: *//p' | tr -d '\\r')`,
                        `case $loc in /*) loc="https://${REGISTRY}$loc" ;; esac`,
                        "case $loc in *\\?*) sep='&' ;; *) sep='?' ;; esac",
                        `code=$(printf '%s\\n' "$account" | curl -sS -K - --cacert ${hosts().pebbleRootFile} -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$f" -o /dev/null -w '%{http_code}' "$loc\${sep}digest=$digest")`,
                        'rm -f "$f"; echo "$code $digest"',
                    ].join("\n"),
                ],
                { input: `user = "jenkins-push:${secrets().containerRegistryPassword}"` },
            );
            const [code, digest] = orphan.stdout.trim().split(" ");
            expect(code, orphan.stdout + orphan.stderr).toBe("201");

            // docker pushes through the front, one after another, while the job runs as root as cron runs it.
            const pusher = hosts().engine.client();
            expect(pusher.login(REGISTRY, { username: "jenkins-push", password: secrets().containerRegistryPassword }).code).toBe(0);
            const refs = Array.from({ length: 8 }, (_, i) => payloadImage(pusher, `${REGISTRY}/docker-internal/p2c/online:${i}`));
            let finished = false;
            const collection = runAsync(...registryHost().wrap("timeout", ["-s", "KILL", "300", paths.gcScript]), {
                env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
                timeoutMs: 310_000,
            }).finally(() => {
                finished = true;
            });
            const pushed: string[] = [];
            for (const ref of refs) {
                if (finished) break;
                const push = pusher.docker(["push", ref]);
                expect(push.code, push.stdout + push.stderr).toBe(0);
                pushed.push(ref);
                await new Promise((resolve) => setImmediate(resolve));
            }
            const done = await collection;
            expect(done.code, done.stdout + done.stderr).toBe(0);
            const said = done.stdout.split("\n").filter((line) => line.startsWith("online collection:"));
            console.log(`online collection beside ${pushed.length} docker pushes:\n${said.join("\n")}`);
            expect(done.stdout).toMatch(/the gate was shut for \d+ s/);
            const summary = /(\d+) candidates, (\d+) protected .*, (\d+) swept, (\d+) bytes reclaimed/.exec(done.stdout);
            expect(summary, done.stdout).not.toBeNull();
            const [candidates, protectedCount, swept] = (summary as RegExpExecArray).slice(1, 4).map(Number);
            expect(candidates).toBeGreaterThanOrEqual(1);
            expect(protectedCount).toBe(candidates);
            expect(swept).toBe(0);
            // The gate is back, no hold is left, and what was pushed reads back, the unreferenced blob too.
            expect(registryHost().run("readlink", [gate]).stdout.trim()).toBe(paths.registrySocket);
            expect(registryHost().run("ls", ["-A", paths.sweepHold]).stdout.trim()).toBe(SWEEP_HOLD_GATE);
            expect(pushed.length).toBeGreaterThan(0);
            const anonymous = hosts().engine.client();
            for (const ref of pushed) anonymous.dockerOk(["pull", ref]);
            const hex = (digest ?? "").replace(/^sha256:/, "");
            expect(registryHost().exists(`${DATA_DIR}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`)).toBe(true);
            pusher.dockerOk(["logout", REGISTRY]);
        },
        15 * 60_000,
    );

    it(
        "`destroy` removes what the stack made and leaves the registry's data (purgeDataOnDestroy off)",
        async () => {
            const destroy = await ws().pulumi(["destroy", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(destroy.code, destroy.stdout.slice(-10_000) + destroy.stderr).toBe(0);
            expect(hosts().runningContainers()).toEqual([]);
            expect(registryHost().exists(`${TAG_DIR}/current/link`)).toBe(true);
            for (const file of [
                "/etc/cron.d/dso-registry",
                "/etc/cron.d/dso-registry-mirrors",
                "/usr/local/sbin/dso-registry-backup",
                // The online collection's hold directory and its gate (the collection ran in online mode above).
                hostPaths(defaultHostLayout(DATA_DIR)).sweepHold,
            ])
                expect([file, registryHost().exists(file)]).toEqual([file, false]);
            for (const { host } of hosts().nodes) expect(host.readFile("/etc/rancher/k3s/registries.yaml") ?? "").not.toContain(REGISTRY);
            expect(stack.jenkins.credentials.size).toBe(0);
            expect((await ws().exportState(STACK)).deployment.resources ?? []).toEqual([]);
        },
        20 * 60_000,
    );
});
