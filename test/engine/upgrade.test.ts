/**
 * A stack deployed by the previous version of the program, taken over by this one with no change: for the
 * local stack (on a real API server, Jenkins faked) and the prod stack (on machines of its own, nodes over
 * SSH), `pulumi up` runs with the program as it was at BASELINE (its files from git), then `preview` and
 * `up` with the program as it is change only what this version means to change (listed per stack, each
 * with its reason), and a second `up --expect-no-changes` passes.
 * A reshaping of the inside (components regrouped, renamed, moved under a new parent) passes only if the
 * aliases carry every resource's state over, as the identity tests (test/unit/identity.test.ts) model it.
 *
 * BASELINE is the last version that landed. A change meant to show on an upgrade (a new default, a
 * changed script) is listed in the stack's intended changes with its reason; when BASELINE moves on to a
 * version that has it, the entry goes.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, rmSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT } from "../../components/shared/facts";
import { payloadImage } from "../support/dockerImages";
import { executedLines, preEvents, previewLines } from "../support/engineEvents";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { REGISTRY } from "../support/prodHosts";
import { PROD_STACK, type ProdStack, startProdStack } from "../support/prodStack";
import { openWorkspace, PROJECT_DIR, type Workspace, writeStackValues } from "../support/pulumiEngine";
import { committedState } from "../support/transitions";

/** The version whose stacks this one must take over unchanged: the last one that landed. */
const BASELINE = "1aceb0c709fef1661bb647935c9224042ff8b782";

/** The program's own files (what a checkout of the package holds), as `openWorkspace` copies them. */
const PROGRAM_FILES = ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "components"];

/** Puts the program of `commit` (its files from git) in the workspace's project, in place of the current one. */
function checkOutProgram(ws: Workspace, commit: string): void {
    for (const file of PROGRAM_FILES) rmSync(path.join(ws.projectDir, file), { recursive: true, force: true });
    let archive: Buffer;
    try {
        archive = execFileSync("git", ["-C", PROJECT_DIR, "archive", "--format=tar", commit, ...PROGRAM_FILES], {
            maxBuffer: 64 * 1024 * 1024,
        });
    } catch (error) {
        throw new Error(`git cannot give the program at ${commit} (a clone without history?): ${String(error)}`);
    }
    execFileSync("tar", ["-x", "-C", ws.projectDir], { input: archive });
}

/** Puts the current program back in the workspace's project. */
function currentProgram(ws: Workspace): void {
    for (const file of PROGRAM_FILES) {
        rmSync(path.join(ws.projectDir, file), { recursive: true, force: true });
        cpSync(path.join(PROJECT_DIR, file), path.join(ws.projectDir, file), { recursive: true });
    }
}

/**
 * What this version changes on purpose in a stack BASELINE deployed: the custom resources it updates
 * ("update <name>"), each for a reason in the release's own words. Anything else it plans fails the test.
 */
interface IntendedChanges {
    /** Component resources this version adds to group others; they hold no infrastructure. */
    readonly components: readonly string[];
    /** Custom resources updated in place, with why. */
    readonly updates: Readonly<Record<string, string>>;
    /** Custom resources replaced (made anew under the same name), with why. */
    readonly replacements?: Readonly<Record<string, string>>;
    /** Custom resources this version adds, with why (what each writes on a machine, if anything). */
    readonly creates?: Readonly<Record<string, string>>;
}

/** The error diagnostics of `up --json` (each failed step's message), which the end of its output does not hold. */
function errorDiagnostics(output: string): string {
    return output
        .split(/\n(?=\{)/)
        .flatMap((doc) => {
            try {
                const event = (JSON.parse(doc) as { diagnosticEvent?: { severity: string; message: string; urn?: string } })
                    .diagnosticEvent;
                return event && /error/.test(event.severity) ? [`${event.urn ?? ""}: ${event.message.slice(-4000)}`] : [];
            } catch {
                return [];
            }
        })
        .join("\n");
}

/**
 * `up` with the BASELINE program, then the current one: its preview and its `up` change exactly the
 * intended custom resources (`intended.updates` in place, `intended.replacements` made anew,
 * `intended.creates` added; nothing deleted) and create only the intended components; every other
 * resource keeps its state. Then a second `up` plans and does
 * nothing at all.
 */
async function upgradeChangesNothing(
    ws: Workspace,
    stack: string,
    intended: IntendedChanges,
    hooks: { afterBaseline?: () => void | Promise<void>; aroundUp?: <T>(up: () => Promise<T>) => Promise<T> } = {},
): Promise<void> {
    checkOutProgram(ws, BASELINE);
    // The earlier version's own preview is not what this test is about: its `up` alone.
    const before = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", stack], { timeoutMs: 20 * 60_000 });
    expect(before.code, before.stdout.slice(-20_000) + before.stderr).toBe(0);
    await hooks.afterBaseline?.();
    currentProgram(ws);
    const preview = await ws.pulumi(["preview", "--json", "-s", stack], { timeoutMs: 15 * 60_000 });
    expect(preview.code, preview.stdout.slice(-20_000) + preview.stderr).toBe(0);
    const replaced = Object.keys(intended.replacements ?? {});
    const created = Object.keys(intended.creates ?? {});
    const updates = [
        ...Object.keys(intended.updates).map((name) => `update ${name}`),
        ...replaced.map((name) => `replace ${name}`),
        ...created.map((name) => `create ${name}`),
    ].sort();
    expect(previewLines(preview.stdout)).toEqual(updates);
    const steps = (JSON.parse(preview.stdout) as { steps?: { op: string; urn: string }[] }).steps ?? [];
    const typed = (st: { urn: string }) => st.urn.split("::").slice(-2).join("::");
    // A replacement's steps: the replace itself, the new object's create and the old one's delete.
    const replacementOps = ["replace", "create-replacement", "delete-replaced"];
    expect(
        steps
            .filter((s) => s.op !== "same")
            .map((s) => `${s.op} ${typed(s)}`)
            .sort(),
    ).toEqual(
        [
            ...intended.components.map((c) => `create ${c}`),
            ...steps
                .filter((st) => updates.includes(`update ${st.urn.split("::").pop()}`) && st.op === "update")
                .map((st) => `update ${typed(st)}`),
            ...steps
                .filter((st) => replaced.includes(st.urn.split("::").pop() ?? "") && replacementOps.includes(st.op))
                .map((st) => `${st.op} ${typed(st)}`),
            ...steps
                .filter((st) => created.includes(st.urn.split("::").pop() ?? "") && st.op === "create")
                .map((st) => `create ${typed(st)}`),
        ].sort(),
    );
    for (const name of replaced) {
        expect(
            steps.filter((st) => st.urn.endsWith(`::${name}`)).map((st) => st.op),
            `${name} is replaced`,
        ).toContain("replace");
    }
    // The preview just above is the one of this config: the `up` goes without its own (the program runs once less).
    const runUp = () => ws.pulumi(["up", "--yes", "--skip-preview", "--json", "-s", stack], { timeoutMs: 15 * 60_000 });
    const up = await (hooks.aroundUp ? hooks.aroundUp(runUp) : runUp());
    expect(up.code, `${errorDiagnostics(up.stdout)}\n${up.stderr}`).toBe(0);
    expect(executedLines(preEvents(up.stdout))).toEqual(updates);
    const again = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", stack], { timeoutMs: 15 * 60_000 });
    expect(again.code, again.stdout.slice(-20_000) + again.stderr).toBe(0);
}

describe(`the local stack deployed by ${BASELINE.slice(0, 7)}, real engine`, () => {
    let kube: ControlPlane;
    let jenkins: FakeJenkins;
    let ws: Workspace;
    const token = `token-${randomBytes(12).toString("hex")}`;

    beforeAll(async () => {
        kube = await startLocalCluster(6);
        jenkins = await startFakeJenkins({ user: "admin", apiToken: token });
        ws = openWorkspace({ stackFiles: ["local"], env: { KUBECONFIG: kube.kubeconfig } });
        await ws.pulumiOk(["stack", "init", "local"]);
        await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:jenkinsApiToken`, "-s", "local"], { input: token });
        const raw = structuredClone(committedState("local").raw);
        (raw.jenkins as Record<string, unknown>).url = jenkins.url;
        writeStackValues(ws, "local", raw);
    }, 20 * 60_000);
    afterAll(async () => {
        ws?.close();
        await jenkins?.close();
        kube?.stop();
    });

    it(
        "is taken over by this version, only the intended change made",
        async () => {
            await upgradeChangesNothing(ws, "local", {
                components: [],
                updates: {},
                replacements: {
                    "node-trust-config":
                        "the node-trust scripts it holds: the placing script sets an unchanged file's owner too (place-file.sh); the pods find the files unchanged",
                    "node-trust-daemonset": "made anew with the scripts' ConfigMap, as after any change of the scripts",
                },
            });
        },
        45 * 60_000,
    );

    // Earlier releases only told about keys of another variant; this one takes such a file, warns with the
    // command that rewrites it, and the commands, run as printed, leave a file that warns no more.
    it("takes a stack file of the earlier shape with no change, and the printed commands rewrite it", async () => {
        const raw = structuredClone(committedState("local").raw) as Record<string, any>;
        raw.jenkins.url = jenkins.url;
        raw.kind = { clusterName: "dev" };
        raw.registry.tls.acmeEmail = "ops@example.test";
        raw.registry.loginLimit = { maxRetry: 5 };
        raw.registry.maintenance = { backup: { schedule: "0 3 * * *" } };
        writeStackValues(ws, "local", raw);
        const preview = await ws.pulumi(["preview", "--expect-no-changes", "-s", "local"], { timeoutMs: 15 * 60_000 });
        const output = preview.stdout + preview.stderr;
        expect(preview.code, output.slice(-20_000)).toBe(0);
        const commands = [
            ...output.matchAll(
                /has no effect with [^;]+; this release still takes the stack file, the next one refuses it: remove it \((pulumi config rm [^)]+)\)/g,
            ),
        ].map((m) => m[1]!);
        expect([...new Set(commands)].sort()).toEqual(
            [
                `pulumi config rm ${PROJECT}:kind`,
                `pulumi config rm --path '${PROJECT}:registry.tls.acmeEmail'`,
                `pulumi config rm --path '${PROJECT}:registry.loginLimit.maxRetry'`,
                `pulumi config rm --path '${PROJECT}:registry.maintenance.backup.schedule'`,
            ].sort(),
        );
        for (const command of new Set(commands)) {
            const args = command
                .replace(/^pulumi /, "")
                .split(" ")
                .map((word) => word.replace(/^'(.*)'$/, "$1"));
            await ws.pulumiOk([...args, "-s", "local"]);
        }
        const after = await ws.pulumi(["preview", "--expect-no-changes", "-s", "local"], { timeoutMs: 15 * 60_000 });
        expect(after.code, (after.stdout + after.stderr).slice(-20_000)).toBe(0);
        expect(after.stdout + after.stderr).not.toMatch(/this release still takes the stack file/);
    });
});

describe(`the prod stack deployed by ${BASELINE.slice(0, 7)}, real engine on test hosts`, () => {
    let stack: ProdStack;
    const IMAGE_REF = `${REGISTRY}/docker-internal/p2c/app:1.0.0`;

    beforeAll(async () => {
        // The host as BASELINE left it: its front is Debian's caddy service.
        stack = await startProdStack({ hosts: { packageCaddy: true } });
    }, 20 * 60_000);
    afterAll(async () => {
        await stack?.stop();
    }, 5 * 60_000);

    const registryHost = () => stack.hosts.registryHost;
    /** The SHA-256 fingerprint of the certificate the front serves for the registry's name. */
    const servedCertificate = () =>
        registryHost().run("sh", [
            "-c",
            `openssl s_client -connect ${REGISTRY}:443 -servername ${REGISTRY} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
        ]).stdout;
    let certificateBefore = "";
    let probes = "";

    it(
        "is taken over by this version: the front moves from the caddy service to the pinned Caddy's container, only the intended changes made",
        async () => {
            const updates: Record<string, string> = {};
            await upgradeChangesNothing(
                stack.ws,
                PROD_STACK,
                {
                    components: [],
                    updates,
                    replacements: {
                        "registry-host-check-run": "the post-deploy check runs again whenever the front's files change, as they do above",
                    },
                },
                {
                    afterBaseline: async () => {
                        // Every file BASELINE placed whole (HostFile): the placing script now sets an unchanged
                        // file's owner too; these runs write nothing (Caddy's files below take their new owner).
                        const state = await stack.ws.exportState(PROD_STACK);
                        for (const r of state.deployment.resources ?? []) {
                            const urn = String(r.urn);
                            if (/\$dso-registry:shared:HostFile\$command:remote:Command::/.test(urn))
                                updates[urn.split("::").pop()!] =
                                    "the placing script sets an unchanged file's owner too (place-file.sh); it writes nothing";
                        }
                        Object.assign(updates, {
                            "registry-host-caddy-reload":
                                "the front moves from the caddy service to the pinned Caddy's container, with the service's certificates (docs/decisions/host-front.md)",
                            "registry-host-caddy-caddyfile-write":
                                "HTTP/2 on again (the pinned Caddy has the rapid-reset fix), the admin socket inside the front's container, the access log in the front's directory",
                            ...Object.fromEntries(
                                ["users-push", "users-pull", "overlap", "users-push-previous", "users-pull-previous"].map((file) => [
                                    `registry-host-caddy-${file}-write`,
                                    "owned by root: the front's Caddy runs as root in its container, with no capability to read another user's files",
                                ]),
                            ),
                            "registry-host-login-limit-fail2ban": "the jail reads the front's access log in the front's directory",
                            "registry-host-packages-install": "the host needs no Caddy package: the front is an image Docker runs",
                            "registry-host-packages-data-dir":
                                "the data directory script's comment (the front reads it as root); it finds the directory unchanged",
                            "registry-host-maintenance-backup-script-write":
                                "the backup keeps the front's certificates from the front's directory",
                            "registry-host-maintenance-restore-script-write": "the restore reloads the front inside its container",
                            "registry-host-maintenance-status-script-write": "the status command shows the front's container",
                            // The checks' provider runs on this machine too now (a local connection); each update reads and writes nothing.
                            ...Object.fromEntries(
                                [
                                    "registry-host-caddy-files-check",
                                    "registry-host-container-files-check",
                                    "registry-host-maintenance-files-check",
                                    "registry-host-monitoring-files-check",
                                    "registry-host-mirrors-prune-files-check",
                                    ...["docker-io", "ghcr-io", "registry-k8s-io"].map(
                                        (cache) => `registry-host-mirrors-${cache}-files-check`,
                                    ),
                                    ...["k3s-server-1", "k3s-agent-1", "k3s-agent-2"].map((node) => `node-trust-${node}-files-check`),
                                ].map((check) => [
                                    check,
                                    "the files' check's new provider code (and, for Caddy's files, the new owner and Caddyfile)",
                                ]),
                            ),
                            // The scripts that run containers call the host's engine: Docker, or Podman where there is no Docker.
                            "registry-host-container-run":
                                "the container scripts run Podman where the host has no Docker (upkeep/sh/container-engine.sh); the run finds its containers unchanged",
                            ...Object.fromEntries(
                                ["docker-io", "ghcr-io", "registry-k8s-io"].map((cache) => [
                                    `registry-host-mirrors-${cache}-run`,
                                    "the same: the cache's container is left as it is",
                                ]),
                            ),
                        });
                        certificateBefore = servedCertificate();
                        expect(certificateBefore).toMatch(/^sha256 Fingerprint=/i);
                        const pusher = stack.hosts.engine.client();
                        payloadImage(pusher, IMAGE_REF, { payloadBytes: 64 * 1024 });
                        expect(
                            pusher.login(REGISTRY, { username: "jenkins-push", password: stack.secrets.containerRegistryPassword }).code,
                        ).toBe(0);
                        pusher.dockerOk(["push", IMAGE_REF]);
                    },
                    // A pull (the manifest, anonymously) and the start of a push (an upload, with the push account)
                    // every 50 ms on the host, through the front, while `up` moves it.
                    aroundUp: async (up) => {
                        const log = "/var/tmp/dso-front-move-probes.log";
                        const credentials = `${"jenkins-push"}:${stack.secrets.containerRegistryPassword}`;
                        const probe = registryHost().startServer("sh", [
                            "-c",
                            [
                                ': > "$1"',
                                "while :; do",
                                `  pull=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' https://${REGISTRY}/v2/docker-internal/p2c/app/manifests/1.0.0)`,
                                `  push=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -K "$2" -X POST https://${REGISTRY}/v2/docker-internal/p2c/probe/blobs/uploads/)`,
                                '  echo "$(date +%s%3N) $pull $push" >> "$1"',
                                "  sleep 0.05",
                                "done",
                            ].join("\n"),
                            "probe",
                            log,
                            registryHost().writeEtcFile("dso-probe-credentials", `user = "${credentials}"\n`, 0o600),
                        ]);
                        try {
                            return await up();
                        } finally {
                            await probe.stop();
                            probes = registryHost().readFile(log) ?? "";
                        }
                    },
                },
            );
        },
        45 * 60_000,
    );

    it("the front runs the pinned Caddy in its container, with the certificate it had (no new ACME order); the caddy service is stopped", () => {
        expect(stack.hosts.runningContainers()).toContain("dso-registry-front");
        expect(servedCertificate()).toBe(certificateBefore);
        expect(registryHost().run("curl", ["-s", "--max-time", "2", "http://localhost:2019/config/"]).code).not.toBe(0);
        expect(registryHost().exists("/var/lib/dso-registry-front/data/caddy/certificates")).toBe(true);
    });

    it("pulls and pushes through the front before, during and after the move; each failed only in one window while it moved, which is measured", () => {
        const lines = probes
            .trim()
            .split("\n")
            .map((l) => l.split(" "))
            .map(([at, pull, push]) => ({ at: Number(at), pull: pull ?? "", push: push ?? "" }));
        expect(lines.length).toBeGreaterThan(20);
        for (const kind of ["pull", "push"] as const) {
            const ok = kind === "pull" ? "200" : "202";
            expect(lines[0]?.[kind], `${kind} before the move`).toBe(ok);
            expect(lines.at(-1)?.[kind], `${kind} after the move`).toBe(ok);
            // The failures, as windows of consecutive failed probes.
            const windows: { from: number; to: number; codes: Set<string> }[] = [];
            let open: (typeof windows)[number] | undefined;
            for (const l of lines) {
                if (l[kind] === ok) {
                    open = undefined;
                    continue;
                }
                if (!open) {
                    open = { from: l.at, to: l.at, codes: new Set() };
                    windows.push(open);
                }
                open.to = l.at;
                open.codes.add(l[kind]);
            }
            console.log(
                `front move, ${kind === "push" ? "pushes" : "pulls"}: ${lines.length} probes, ${windows.length} failure window(s): ${windows.map((w) => `${w.to - w.from} ms (${[...w.codes].join(",")})`).join("; ") || "none"}`,
            );
            // At most the one window in which the port moved from the service to the container (000: connection refused).
            expect(windows.length, JSON.stringify(windows.map((w) => [w.from, w.to, [...w.codes]]))).toBeLessThanOrEqual(1);
            for (const w of windows) expect([...w.codes]).toEqual(["000"]);
        }
    });
});
