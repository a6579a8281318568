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
import { cpSync, rmSync, symlinkSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_IMAGES } from "../../components/shared/defaults";
import { PROJECT } from "../../components/shared/facts";
import { consequencesOfPreviewJson, renderConsequences, type StackConsequences } from "../../tools/previewConsequences";
import { baselineNodeModules } from "../support/baselineDependencies";
import { previousCaddyVersion } from "../support/caddyBinaries";
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
const BASELINE = "0cedf0e384fa9f90dd7d29458ff4f0a9e39cd0a3";

/** The program's own files (what a checkout of the package holds), as `openWorkspace` copies them. */
const PROGRAM_FILES = ["Pulumi.yaml", "index.ts", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "components"];

/** Links the workspace's node_modules to `dir`. */
function linkNodeModules(ws: Workspace, dir: string): void {
    rmSync(path.join(ws.projectDir, "node_modules"), { force: true });
    symlinkSync(dir, path.join(ws.projectDir, "node_modules"));
}

/**
 * Puts the program of `commit` (its files from git) in the workspace's project, in place of the current one,
 * with the dependencies its own lock file resolves (test/support/baselineDependencies.ts).
 */
function checkOutProgram(ws: Workspace, commit: string): void {
    for (const file of PROGRAM_FILES) rmSync(path.join(ws.projectDir, file), { recursive: true, force: true });
    linkNodeModules(ws, baselineNodeModules(commit));
    let archive: Buffer;
    try {
        // The files the program had then (tsconfig.pulumi.json came later).
        const files = execFileSync("git", ["-C", PROJECT_DIR, "ls-tree", "--name-only", commit, "--", ...PROGRAM_FILES], {
            encoding: "utf8",
        })
            .split("\n")
            .filter(Boolean);
        archive = execFileSync("git", ["-C", PROJECT_DIR, "archive", "--format=tar", commit, ...files], {
            maxBuffer: 64 * 1024 * 1024,
        });
    } catch (error) {
        throw new Error(`git cannot give the program at ${commit} (a clone without history?): ${String(error)}`);
    }
    execFileSync("tar", ["-x", "-C", ws.projectDir], { input: archive });
}

/** Puts the current program back in the workspace's project, with this checkout's dependencies. */
function currentProgram(ws: Workspace): void {
    linkNodeModules(ws, path.join(PROJECT_DIR, "node_modules"));
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
    hooks: {
        afterBaseline?: () => void | Promise<void>;
        onPreview?: (json: string) => void;
        aroundUp?: <T>(up: () => Promise<T>) => Promise<T>;
    } = {},
): Promise<void> {
    checkOutProgram(ws, BASELINE);
    // The earlier version's own preview is not what this test is about: its `up` alone.
    const before = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", stack], { timeoutMs: 20 * 60_000 });
    expect(before.code, before.stdout.slice(-20_000) + before.stderr).toBe(0);
    await hooks.afterBaseline?.();
    currentProgram(ws);
    const preview = await ws.pulumi(["preview", "--json", "-s", stack], { timeoutMs: 15 * 60_000 });
    expect(preview.code, preview.stdout.slice(-20_000) + preview.stderr).toBe(0);
    hooks.onPreview?.(preview.stdout);
    const replaced = Object.keys(intended.replacements ?? {});
    const created = Object.keys(intended.creates ?? {});
    const updates = [
        ...Object.keys(intended.updates).map((name) => `update ${name}`),
        ...replaced.map((name) => `replace ${name}`),
        ...created.map((name) => `create ${name}`),
    ].sort();
    const steps =
        (JSON.parse(preview.stdout) as { steps?: { op: string; urn: string; diffReasons?: string[]; detailedDiff?: object }[] }).steps ??
        [];
    // What each planned step changes, for the message of a list that differs from the intended one.
    const changed = steps
        .filter((st) => st.op !== "same")
        .map(
            (st) =>
                `${st.op} ${st.urn.split("::").pop()}: ${Object.keys(st.detailedDiff ?? {}).join(", ") || (st.diffReasons ?? []).join(", ")}`,
        )
        .join("\n");
    expect(previewLines(preview.stdout), changed).toEqual(updates);
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

/** The agent templates' ConfigMap: its data changes, so it is made anew (every stack that writes it). */
const AGENT_TEMPLATES =
    "the agent templates' images at their current releases: docker 29.9.3 (the runc fixes of 28.5.2 and later) and buildah v1.44.0; kaniko, archived upstream, is no default template any more (docs/ci-agents.md)";

/** The Caddyfile's change, in every placement's front. */
const REFUSED_WRITES =
    "the Caddyfile answers a refused write (401) with Connection: close, so that Caddy 2.11 answers a stalled upload at once instead of reading its body first, gives a request's head at most 16 KiB and 10 s (slow clients), checks a rotation's previous passwords with the decoy too, and answers a new upload 507 while the disk guard refuses (the external host's front, and the registry pod's sidecar), and a Maven deploy 507 while the guard refuses on the Maven repository's disk (a front that serves Maven: the local stack's sidecar)";

/** Why each pull-through cache changes: it starts whatever its upstream does (docs/mirrors.md, When the upstream is down). */
const CACHE_START = "the cache's start script and read-only config, beside its proxy config";
/** Why the textfile writers change: a directory that is not root's is refused, and temporary names are mktemp's. */
const TEXTFILES =
    "its textfile is written only into a directory of root's, through a temporary file of mktemp's (a local user cannot turn it onto a file of root's)";
/** Why the external host's scripts that remove, stop or replace a container by its name change. */
const OURS_ONLY =
    "a container of its name that the stack did not make (no label dso-registry.spec) is left as it is: the script stops with a message, or on delete keeps it (docs/decisions/existing-objects.md); it is looked up as a container only, so an image, a network or a volume of that name is neither the stack's nor someone else's container";
/** The prod stack's caches. */
const PROD_CACHES = ["docker-io", "ghcr-io", "registry-k8s-io"];

/** Why the Deployments' pod templates change (and their pods roll). */
const STARTUP_PROBES =
    "each container with a readiness probe has a startup probe of its check, every second within its liveness probe's budget, so that a new pod is ready about a second after it answers (docs/performance.md, From `up` to a running pod)";

/** What this version changes on purpose in the local stack BASELINE deployed. */
const LOCAL_INTENDED: IntendedChanges = {
    components: [],
    updates: {
        "registry-deployment-registry": `the registry pod's front at ${DEFAULT_IMAGES.caddy} (docs/access-policy.md, Caddy 2.8 to 2.11) with its new Caddyfile (its checksum) and GOMEMLIMIT, and Maven's nginx at 1.30, the maintained stable line; the disk guard's container (registry.diskGuard, on by default), which keeps the sidecar's markers while the data volume, or the Maven volume (mounted into it read-only), is used past refusePercent: the pod is rolled (Recreate); and the Deployment's pulumi.com/waitFor annotation, by which \`up\` waits for the rollout by the Deployment's own status; ${STARTUP_PROBES}`,
        "registry-deployment-registry-certificate-probe": `the probe's relay runs ${DEFAULT_IMAGES.caddy}, as every front; ${STARTUP_PROBES}`,
        "node-trust-daemonset": "busybox 1.37.0 (nodes.daemonsetImage): the pods are rolled and find the nodes' files unchanged",
        "registry-ingress-registry-login":
            "ingress-nginx's login limit covers the ping (/v2, /v2/) too, where a password is checked: both paths join the token endpoint's Ingress and its limit",
        "registry-deployment-registry-mirror-docker-io": `${CACHE_START}: the cache's pod runs it, ready on GET /v2/ (rolled); ${STARTUP_PROBES}`,
        ...Object.fromEntries(
            ["registry-service-registry", "registry-service-registry-tls", "registry-service-registry-mirror-docker-io"].map((service) => [
                service,
                "annotated pulumi.com/skipAwait: `up` no longer holds 10 s after its endpoints change, the Deployment's own wait holding it until its pods are ready (docs/performance.md, From `up` to a running pod)",
            ]),
        ),
    },
    replacements: {
        "agent-pods-configmap": AGENT_TEMPLATES,
        "registry-configmap-registry-config": REFUSED_WRITES,
        "registry-configmap-registry-mirror-docker-io": CACHE_START,
        "registry-configmap-dso-registry-alert-rules":
            "the error-rate alert no longer counts a 507 (the disk guard's answer while it refuses uploads: no server error), DsoRegistryUploadsRefusedDiskFull fires while the pod's disk guard refuses uploads (the volume used past refusePercent), and DsoRegistryMavenDeploysRefusedDiskFull while it refuses Maven deploys (the maven-data claim used past refusePercent)",
    },
};

/** The files' checks whose expected files changed above: each reads the host's files again and writes nothing. */
const PROD_FILES_CHECKS = ["caddy", "container", "maintenance"].map((part) => `registry-host-${part}-files-check`);

/** What this version changes on purpose in the prod stack BASELINE deployed. */
const PROD_INTENDED: IntendedChanges = {
    // A HostFile component per new file of a cache, under its MirrorCachesOnHost (the URN's type chain and name).
    components: [
        ...PROD_CACHES.flatMap((cache) =>
            ["read-only-config", "start-script"].map(
                (file) =>
                    `dso-registry:externalHost:ExternalRegistryHost$dso-registry:mirrors:MirrorCachesOnHost$dso-registry:shared:HostFile::registry-host-mirrors-${cache}-${file}`,
            ),
        ),
        // The disk guard's two files, under the host's upkeep component.
        ...["cron", "script"].map(
            (file) =>
                `dso-registry:externalHost:ExternalRegistryHost$dso-registry:externalHost:HostUpkeep$dso-registry:shared:HostFile::registry-host-maintenance-disk-guard-${file}`,
        ),
    ],
    creates: Object.fromEntries([
        ...PROD_CACHES.flatMap((cache) => [
            [`registry-host-mirrors-${cache}-read-only-config-write`, `${CACHE_START}: its read-only config.yml, placed on the host`],
            [`registry-host-mirrors-${cache}-start-script-write`, `${CACHE_START}: its start script, placed on the host`],
        ]),
        [
            "registry-host-maintenance-disk-guard-script-write",
            "the disk guard (registry.diskGuard, on by default): its script, which checks the data directory (and the Maven directory on a host that serves Maven, writing its refusal as a series of its own; this one does not, so it removes that series' file should one be left)",
        ],
        ["registry-host-maintenance-disk-guard-cron-write", "the disk guard: its check every five minutes"],
    ]),
    updates: {
        "registry-host-caddy-reload": `the front's container is made anew with ${DEFAULT_IMAGES.caddy} and a memory and open-files limit, its certificates kept (the consequences summary names the window, measured below); ${OURS_ONLY}`,
        "registry-host-container-run": `the metrics relay (Caddy, in the registry's namespaces) is made anew with ${DEFAULT_IMAGES.caddy}; Distribution's container is left as it is; ${OURS_ONLY}`,
        "registry-host-maintenance-gc-script-write": `the collection recreates the metrics relay with its new image, and its window cuts every upload session left once the storage is quiet (no upload commits inside it); tag retention reads before the window and only removes inside it; ${OURS_ONLY}`,
        "registry-host-maintenance-backup-script-write":
            "the window's shared shell it carries (front-window.sh) now cuts the upload sessions left in a collection's window; a backup's window leaves them, as before",
        "registry-host-maintenance-restore-script-write": `the restore recreates the metrics relay with its new image, and reloads the front inside its container (where \`docker\` is Podman's shell function too); ${OURS_ONLY}`,
        "registry-host-maintenance-verify-script-write":
            "the check after a collection asks Distribution for each blob of a repository once, however many of its tags name it",
        "registry-host-maintenance-status-script-write":
            "the status says whether the disk guard refuses uploads (and Maven deploys, on a host that serves Maven; this one does not), and what each repository holds",
        "registry-host-monitoring-rules-write":
            "the disk alerts follow the disk guard's thresholds (warn past warnPercent, page while uploads are refused) and the error rate no longer counts its 507",
        "registry-host-packages-install":
            "Podman is recognised by what `docker` is (podman-docker's script, or a link to podman), not only by docker's absence: it runs again and changes nothing on a Docker host",
        "registry-host-caddy-caddyfile-write": REFUSED_WRITES,
        ...Object.fromEntries(
            PROD_CACHES.map((cache) => [
                `registry-host-mirrors-${cache}-run`,
                `${CACHE_START}: the cache's container is made anew running it; the shared container shell it carries checks ownership before any removal, and its delete keeps a container of its name that the stack did not make, with the cache's socket directory and content`,
            ]),
        ),
        "registry-host-mirrors-prune-script-write":
            "the prune's reason for leaving a cache whose upstream does not answer is said anew, and a cache whose container the stack did not make is left as it is (never stopped)",
        "registry-host-monitoring-probe-write": `${TEXTFILES}; a stopped metrics relay is started again only when it is the stack's`,
        "registry-host-monitoring-reporter-write": TEXTFILES,
        "registry-host-packages-data-dir":
            "its script's header now says the umask the registry writes with: it runs again and changes nothing",
        // Every other files check: the provider's code is new (a check that says why, as a container's does, is
        // taken at its word), so the engine updates each to carry it; the update writes the state only.
        ...Object.fromEntries(
            [
                ...["k3s-server-1", "k3s-agent-1", "k3s-agent-2"].map((node) => `node-trust-${node}-files-check`),
                ...["monitoring", "mirrors-prune", "mirrors-docker-io", "mirrors-ghcr-io", "mirrors-registry-k8s-io"].map(
                    (part) => `registry-host-${part}-files-check`,
                ),
            ].map((check) => [check, "the files-check provider's code is new: the update writes the state only"]),
        ),
        ...Object.fromEntries(
            PROD_FILES_CHECKS.map((check) => [
                check,
                `the files it checks changed above (the scripts' new images, the Caddyfile)${check.includes("maintenance") ? "" : "; it reads its container back too (a container that is gone comes back with `up --refresh`)"}`,
            ]),
        ),
    },
    replacements: {
        "agent-pods-configmap": AGENT_TEMPLATES,
        "registry-host-check-run": "the post-deploy check runs again whenever the front's files change, as they do above",
    },
};

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
        writeStackValues(ws, "local", baselineLocal());
    }, 20 * 60_000);
    afterAll(async () => {
        ws?.close();
        await jenkins?.close();
        kube?.stop();
    });

    /**
     * The committed local stack as BASELINE took it: without registry.loginLimit.allowUnlimitedCredentialRequests,
     * a key BASELINE does not know, which this version asks of a stack on ingress-nginx (the class "public").
     */
    const baselineLocal = () => {
        const raw = structuredClone(committedState("local").raw) as Record<string, any>;
        raw.jenkins.url = jenkins.url;
        const { allowUnlimitedCredentialRequests: _accepted, ...loginLimit } = raw.registry.loginLimit;
        raw.registry.loginLimit = loginLimit;
        return raw;
    };

    it(
        "is taken over by this version, only the intended change made",
        async () => {
            await upgradeChangesNothing(ws, "local", LOCAL_INTENDED, {
                // The one edit this version asks of the file: ingress-nginx's open routes accepted, as its refusal says.
                afterBaseline: () => {
                    const raw = structuredClone(committedState("local").raw) as Record<string, any>;
                    raw.jenkins.url = jenkins.url;
                    writeStackValues(ws, "local", raw);
                },
            });
        },
        45 * 60_000,
    );

    // Earlier releases only told about keys of another variant; this one refuses such a file before anything
    // changes, each key with the command that takes it out, and the commands, run as printed, leave a file
    // that is taken with no change.
    it("refuses a stack file of the earlier shape, and the printed commands rewrite it into one taken with no change", async () => {
        const raw = structuredClone(committedState("local").raw) as Record<string, any>;
        raw.jenkins.url = jenkins.url;
        raw.kind = { clusterName: "dev" };
        raw.registry.tls.acmeEmail = "ops@example.test";
        raw.registry.loginLimit = { ...raw.registry.loginLimit, maxRetry: 5 };
        raw.registry.maintenance = { backup: { schedule: "0 3 * * *" } };
        writeStackValues(ws, "local", raw);
        const preview = await ws.pulumi(["preview", "--expect-no-changes", "-s", "local"], { timeoutMs: 15 * 60_000 });
        const output = preview.stdout + preview.stderr;
        expect(preview.code, output.slice(-20_000)).not.toBe(0);
        expect(output).toContain("The stack configuration is invalid; nothing was created.");
        const commands = [...output.matchAll(/has no place with .*?: remove it \((pulumi config rm [^)]+)\)/g)].map((m) => m[1]!);
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
        expect(after.stdout + after.stderr).not.toMatch(/has no place with/);
    });
});

describe(`the prod stack deployed by ${BASELINE.slice(0, 7)}, real engine on test hosts`, () => {
    let stack: ProdStack;
    const IMAGE_REF = `${REGISTRY}/docker-internal/p2c/app:1.0.0`;

    beforeAll(async () => {
        // The host as BASELINE left it: its front is a container of the Caddy image BASELINE pinned.
        stack = await startProdStack({ hosts: { previousCaddy: true } });
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
    /** The image the front's container runs. */
    const frontImage = () => stack.hosts.engine.client().dockerOk(["inspect", "-f", "{{.Config.Image}}", "dso-registry-front"]).trim();
    let certificateBefore = "";
    let probes = "";
    let consequences: StackConsequences | undefined;

    it(
        `is taken over by this version: the front's container moves from caddy:${previousCaddyVersion()} to ${DEFAULT_IMAGES.caddy}, only the intended changes made`,
        async () => {
            await upgradeChangesNothing(stack.ws, PROD_STACK, PROD_INTENDED, {
                afterBaseline: async () => {
                    expect(frontImage()).toBe(`caddy:${previousCaddyVersion()}`);
                    certificateBefore = servedCertificate();
                    expect(certificateBefore).toMatch(/^sha256 Fingerprint=/i);
                    const pusher = stack.hosts.engine.client();
                    payloadImage(pusher, IMAGE_REF, { payloadBytes: 64 * 1024 });
                    expect(
                        pusher.login(REGISTRY, { username: "jenkins-push", password: stack.secrets.containerRegistryPassword }).code,
                    ).toBe(0);
                    pusher.dockerOk(["push", IMAGE_REF]);
                },
                onPreview: (json) => {
                    consequences = consequencesOfPreviewJson(json);
                    console.log(renderConsequences(consequences, PROD_STACK));
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
            });
        },
        45 * 60_000,
    );

    it("the preview's consequences summary names the front's restart: what a reviewer reads before approving the move", () => {
        expect(consequences, "the preview ran").toBeDefined();
        const text = renderConsequences(consequences!, PROD_STACK);
        expect(text).toContain(`the front on the external host is made anew with ${DEFAULT_IMAGES.caddy}`);
        expect(consequences!.consequences.length).toBeGreaterThan(0);
    });

    it("the front runs the pinned Caddy in its container, with the certificate it had (no new ACME order)", () => {
        expect(frontImage()).toBe(DEFAULT_IMAGES.caddy);
        expect(servedCertificate()).toBe(certificateBefore);
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
            // At most the one window in which the old container stops and the new one starts (000: connection refused).
            expect(windows.length, JSON.stringify(windows.map((w) => [w.from, w.to, [...w.codes]]))).toBeLessThanOrEqual(1);
            for (const w of windows) expect([...w.codes]).toEqual(["000"]);
        }
    });
});
