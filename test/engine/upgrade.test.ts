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
import { executedLines, preEvents, previewLines } from "../support/engineEvents";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { PROD_STACK, type ProdStack, startProdStack } from "../support/prodStack";
import { openWorkspace, PROJECT_DIR, type Workspace, writeStackValues } from "../support/pulumiEngine";
import { committedState } from "../support/transitions";

/** The version whose stacks this one must take over unchanged (the one that landed before the reshaping of issue 35). */
const BASELINE = "b2da95872b14ce278fb953089a87bb24ce15b1db";

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

/**
 * `up` with the BASELINE program, then the current one: its preview and its `up` change exactly the
 * intended custom resources (`intended.updates` in place, `intended.replacements` made anew,
 * `intended.creates` added; nothing deleted) and create only the intended components; every other
 * resource keeps its state. Then a second `up` plans and does
 * nothing at all.
 */
async function upgradeChangesNothing(ws: Workspace, stack: string, intended: IntendedChanges): Promise<void> {
    checkOutProgram(ws, BASELINE);
    const before = await ws.pulumi(["up", "--yes", "-s", stack], { timeoutMs: 20 * 60_000 });
    expect(before.code, before.stdout.slice(-20_000) + before.stderr).toBe(0);
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
    const up = await ws.pulumi(["up", "--yes", "--json", "-s", stack], { timeoutMs: 15 * 60_000 });
    expect(up.code, up.stdout.slice(-20_000) + up.stderr).toBe(0);
    expect(executedLines(preEvents(up.stdout))).toEqual(updates);
    const again = await ws.pulumi(["up", "--yes", "--expect-no-changes", "-s", stack], { timeoutMs: 15 * 60_000 });
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

    it("is taken over by this version, only the intended change made", async () => {
        await upgradeChangesNothing(ws, "local", {
            components: [],
            updates: {
                "registry-deployment-registry":
                    "the Maven backend's probes run inside its container: nginx listens on the pod's loopback, and a kubelet's TCP check of the pod's address was refused",
                "registry-secret-registry-tls":
                    "cert-manager's issuer annotations on the program's TLS Secret, so a later move to cert-manager issues instead of taking the program's certificate over (metadata only; the pods do not roll)",
            },
            replacements: {
                "registry-configmap-registry-config":
                    "the front's window answers writes 503 only after the push accounts' check, reading no body before it, and the GC's window cuts an upload that trickles past a bounded drain (the Caddyfile and the GC scripts it holds); the Caddyfile imports the rotation overlap's file and checks previous passwords first",
                "registry-secret-registry-htpasswd":
                    "the rotation overlap's files beside the users files (no previous password yet: only their comments and matchers that match nothing)",
                "node-trust-config":
                    "the node-trust scripts it holds: a mirror's hosts.toml script gained its check mode (for the refresh over SSH); the pods find the files unchanged",
                "node-trust-daemonset": "made anew with the scripts' ConfigMap, as after any change of the scripts",
            },
            creates: {
                "registry-accounts-push-overlap":
                    "rotation with an overlap (docs/decisions/rotation-overlap.md): keeps a rotated password's previous hash; its create keeps nothing",
                "registry-accounts-pull-overlap": "the same for the generated pull-only account",
            },
        });
    });

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

    beforeAll(async () => {
        stack = await startProdStack();
    }, 20 * 60_000);
    afterAll(async () => {
        await stack?.stop();
    }, 5 * 60_000);

    it("is taken over by this version: the nodes regrouped under NodeTrustFleet keep their state, only the intended scripts change", async () => {
        await upgradeChangesNothing(stack.ws, PROD_STACK, {
            components: [
                "dso-registry:nodeTrust:NodeTrustFleet::node-trust-fleet",
                // The rotation overlap's files, each a HostFile (its write command is listed in `creates`).
                ...["overlap", "users-push-previous", "users-pull-previous"].map(
                    (f) =>
                        `dso-registry:externalHost:ExternalRegistryHost$dso-registry:externalHost:CaddySite$dso-registry:shared:HostFile::registry-host-caddy-${f}`,
                ),
            ],
            updates: {
                "registry-host-maintenance-gc-script-write":
                    "tag retention's step in the garbage-collection window (off without rules), and the window cuts an upload that trickles past a bounded drain",
                "registry-host-maintenance-status-script-write": "the status command's retention section",
                "registry-host-maintenance-verify-script-write": "verify's HTTP helpers moved into the file it shares with retention",
                "registry-host-caddy-caddyfile-write":
                    "the window answers writes 503 only after the push accounts' check, reading no body before it; the Caddyfile imports the rotation overlap's file and checks previous passwords first",
                "registry-host-caddy-reload": "the reload waits, bounded, for uploads in flight (the host's Caddy cuts them on a reload)",
                "registry-host-maintenance-backup-script-write":
                    "the backup's window drains for a bounded time and leaves a trickling upload as it is",
                // The scripts below changed text only; their run finds nothing to do (no restart, no new container).
                ...Object.fromEntries(
                    ["k3s-server-1", "k3s-agent-1", "k3s-agent-2"].map((node) => [
                        `node-trust-${node}-registries-yaml-write`,
                        "the registries.yaml script gained its check mode (for the refresh); apply finds the file unchanged and restarts nothing",
                    ]),
                ),
                "registry-host-container-run":
                    "the containers' converge script can make a container anew on request (a repair's follow-up); this run finds it unchanged",
                "registry-host-maintenance-restore-script-write": "the restore script carries the same converge script",
                ...Object.fromEntries(
                    ["docker-io", "ghcr-io", "registry-k8s-io"].map((cache) => [
                        `registry-host-mirrors-${cache}-run`,
                        "the same converge script; the cache's container is left as it is",
                    ]),
                ),
            },
            replacements: {
                "registry-host-check-run": "the post-deploy check runs again whenever the front's files change, as they do above",
            },
            creates: {
                "registry-host-caddy-files-check":
                    "Caddy's files read back at each refresh and put back by the next up (docs/decisions/drift-on-hosts.md); its create reads and writes nothing",
                "registry-host-maintenance-files-check": "the maintenance files read back at each refresh, the same way",
                "registry-accounts-pull-overlap":
                    "rotation with an overlap (docs/decisions/rotation-overlap.md): keeps the generated pull-only password's previous hash (the push password is the operator's)",
                "registry-host-caddy-overlap-write": "the overlap file Caddy imports (matchers that match nothing until a rotation)",
                "registry-host-caddy-users-push-previous-write": "the push users file's previous-passwords file (only its comment)",
                "registry-host-caddy-users-pull-previous-write": "the pull users file's previous-passwords file (only its comment)",
                "registry-host-container-files-check":
                    "the registry's config files read back at each refresh; a repair makes the container anew (docs/decisions/drift-on-hosts.md); its create reads and writes nothing",
                "registry-host-monitoring-files-check": "the monitoring scripts, cron, rules and scrape files read back the same way",
                "registry-host-mirrors-prune-files-check": "the caches' prune script and its cron file read back the same way",
                ...Object.fromEntries(
                    ["docker-io", "ghcr-io", "registry-k8s-io"].map((cache) => [
                        `registry-host-mirrors-${cache}-files-check`,
                        "the cache's config read back the same way; a repair makes its container anew",
                    ]),
                ),
                ...Object.fromEntries(
                    ["k3s-server-1", "k3s-agent-1", "k3s-agent-2"].map((node) => [
                        `node-trust-${node}-files-check`,
                        "the node's registries.yaml judged at each refresh by its script's check mode and put back by the next up; its create reads and writes nothing",
                    ]),
                ),
            },
        });
    });
});
