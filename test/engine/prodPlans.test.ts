/**
 * The prod stack's transitions of docs/lifecycle.md under the real engine, on machines of its own
 * (test/support/prodHosts.ts: the registry host with Docker (the front's Caddy a container of it), Pebble and fail2ban, and four k3s
 * nodes, all over SSH as a sudo user): for each, the stack is brought to config A with `pulumi up`,
 * `pulumi preview --json` for config B is recorded, then `pulumi up --json` (or `destroy --json`) for B
 * runs, both `up`s with `--skip-preview` (the preview for B is the one just recorded). What the engine did, custom resources only, must be the plan test/support/plan.ts computes under
 * the mock; and after every `up` the host must serve: the post-deploy check the stack itself runs passed
 * (it is one of the commands), the registry answers through Caddy with the ACME certificate, an image
 * pushed at the start is still there and is pulled again through Caddy, the running containers are exactly
 * the stack's and the registry's runs the image the config names, nothing is left of a cache the change
 * removed (container, socket directory, storage). Where the registry's image changes (a bump, the upgrade
 * from 2.8.3), every file of its data directory is the same bytes after the change and the new image takes
 * a push. After a destroy, nothing of any cache is left, and the data directory is there only if purge was
 * off.
 *
 * The Jenkins token rotated: the fake Jenkins's user holds both tokens, as a user rotating a token does
 * for a while. Not run here: storage filesystem → s3 (the stack's S3 endpoint does not exist here, and the
 * host's containers reach no other machine; the S3 path is proven by test/integration/s3Storage.test.ts),
 * and the destroy with purge off (test/engine/prodUp.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disruptionBudget } from "../../components/config/schema/review";
import { type ConsequenceKind, consequencesOfPreviewJson, overBudget } from "../../tools/previewConsequences";
import { BUMPED_REGISTRY_IMAGE, DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { payloadImage, registryImage } from "../support/dockerImages";
import { countOps, executedLines, modelLines, preEvents, previewLines } from "../support/engineEvents";
import { ACCOUNTS, plan, TRANSITIONS } from "../support/lifecycleTransitions";
import { ACME_DIRECTORY, REGISTRY } from "../support/prodHosts";
import { PROD_NODES, PROD_STACK, type ProdStack, startProdStack } from "../support/prodStack";
import { FINAL_STATE_ONLY, writeStackValues } from "../support/pulumiEngine";
import type { Raw, StackState } from "../support/transitions";

const STACK = PROD_STACK;
const RENAMED = "registry-02.dso.example.com";
/** The committed stack's nodes, and the one "a node added" adds. */
const NODES = [...PROD_NODES, { name: "k3s-agent-3", unit: "k3s-agent" } as const];
const NOT_HERE = new Set(["storage filesystem → s3 (purge on)", "destroy (prod, purge off)", "nothing changed (prod)"]);
const DATA_DIR = "/srv/data/registry";
/** The image every transition must keep, under the registry's name `host`. */
const keptImage = (host: string) => `${host}/docker-internal/p2c/kept:1`;
const TAG_LINK = `${DATA_DIR}/docker/registry/v2/repositories/docker-internal/p2c/kept/_manifests/tags/1/current/link`;
/** Where each pull-through cache keeps its unix socket and its storage on the host, one directory per upstream. */
const CACHE_SOCKETS = "/run/dso-registry-mirrors";
const CACHE_DATA = `${DATA_DIR}-mirrors`;

let stack: ProdStack;
const ws = () => stack.ws;
const hosts = () => stack.hosts;

/** Writes the stack file for `state`, pointed at the test's machines (the secrets stay as set). */
function writeStack(state: StackState): void {
    const raw = structuredClone(state.raw) as Raw & {
        externalHost: { ssh: Raw };
        nodes: { list: Raw[] };
        registry: Raw & { tls: Raw; maintenance: { backup: { destination: Raw } } };
        jenkins: Raw;
    };
    Object.assign(raw.externalHost.ssh, { host: hosts().registryHost.address, hostKey: hosts().hostSsh.hostKey });
    for (const entry of raw.nodes.list) {
        const node = hosts().nodes.find((n) => n.name === entry.name);
        if (!node) throw new Error(`no test machine for node ${String(entry.name)}`);
        Object.assign(entry, { host: node.ssh.host, hostKey: node.ssh.hostKey });
    }
    raw.registry.maintenance.backup.destination.hostKey = hosts().backupHostKey;
    raw.registry.tls.acmeDirectory = ACME_DIRECTORY;
    Object.assign(raw.jenkins, { url: stack.jenkins.url, caCertificate: stack.jenkinsCaPem });
    writeStackValues(ws(), STACK, raw);
}

const found: string[] = [];
/** Each transition's `preview --json` output, as the engine printed it. */
const previews = new Map<string, string>();

/** The accounts of the host's push users file (`user hash` lines), user → hash. */
function pushUsersOnHost(): Map<string, string> {
    const text = hosts().registryHost.readFile("/etc/caddy/dso-registry/users-push") ?? "";
    return new Map(
        text
            .split("\n")
            .map((line) => line.trim().split(/\s+/))
            .filter((f) => f.length === 2 && f[1]!.startsWith("$2"))
            .map((f) => [f[0]!, f[1]!] as [string, string]),
    );
}

/** The containers config `raw` runs on the host: the registry, the front, its metrics relay (monitoring on, the default) and one cache per mirror. */
const expectedContainers = (raw: Raw) => {
    const registry = raw.registry as { mirrors?: { upstream: string }[]; monitoring?: { enabled?: boolean } };
    return [
        "dso-registry",
        "dso-registry-front",
        ...(registry.monitoring?.enabled === false ? [] : ["dso-registry-metrics"]),
        ...(registry.mirrors ?? []).map((m) => `dso-registry-mirror-${m.upstream}`),
    ].sort();
};

beforeAll(async () => {
    stack = await startProdStack({
        // Each `up` must succeed and none's state is read midway: the state is written once per command.
        env: FINAL_STATE_ONLY,
        nodes: NODES,
        siteNames: [RENAMED],
        // The tokens a transition rotates between: the user holds both while the stack moves from one to the other.
        moreApiTokens: TRANSITIONS.flatMap((t) => [t.from, t.to]).flatMap((s) =>
            s?.secrets.jenkinsApiToken ? [s.secrets.jenkinsApiToken] : [],
        ),
    });
    // The image bump's tag: the same Distribution under the new name (nothing can be pulled here);
    // and 2.8.3, built from its own version, for the upgrade of a stack made before registry:3.
    registryImage(hosts().engine, BUMPED_REGISTRY_IMAGE.replace(/^registry:/, ""));
    registryImage(hosts().engine, "2.8.3");
}, 20 * 60_000);

afterAll(async () => {
    if (found.length > 0) console.log(found.join("\n"));
    await stack?.stop();
}, 5 * 60_000);

/** Sets the stack's Jenkins token to the one `state` names (the test's own when it names none), as an operator rotating it does. */
let currentToken: string | undefined;
async function useJenkinsToken(state: StackState): Promise<void> {
    const token = state.secrets.jenkinsApiToken ?? stack.secrets.jenkinsApiToken;
    if (token === (currentToken ?? stack.secrets.jenkinsApiToken)) return;
    await stack.secret("jenkinsApiToken", token);
    currentToken = token;
}

/** A docker client of the test's engine, logged in through the host's Caddy, by the registry's name `host`, with the push account. */
function pushClient(host = REGISTRY) {
    const client = hosts().engine.client();
    const login = client.login(host, { username: "jenkins-push", password: stack.secrets.containerRegistryPassword });
    expect(login.code, login.stderr).toBe(0);
    return client;
}

/** Pushes the image every later transition must keep, once the registry first runs. */
let pushed = false;
function pushKeptImage(): void {
    if (pushed) return;
    const client = pushClient();
    client.dockerOk(["push", payloadImage(client, keptImage(REGISTRY), { payloadBytes: 16 * 1024 })]);
    pushed = true;
}

/** The kept image, pulled anew through the host's Caddy by the name config `raw` gives the registry (nothing of it left on the engine first). */
function pullKeptImage(raw: Raw): void {
    const host = registryNameOf(raw);
    const client = pushClient(host);
    client.docker(["rmi", keptImage(REGISTRY), keptImage(host)]);
    client.dockerOk(["pull", keptImage(host)]);
}

/** The name config `raw` gives the registry. */
const registryNameOf = (raw: Raw) => (raw.containerRegistry as { host?: string }).host ?? REGISTRY;

/** The registry image config `raw` runs (the stack's default when it names none). */
const registryImageOf = (raw: Raw) => (raw.registry as { image?: string }).image ?? DEPLOYED_REGISTRY_IMAGE;
/** The upstreams of config `raw`'s pull-through caches. */
const cachesOf = (raw: Raw) => ((raw.registry as { mirrors?: { upstream: string }[] }).mirrors ?? []).map((m) => m.upstream);

/** Each file under the registry's data directory with its SHA-256, as the host has them. */
function dataFiles(): string {
    const listed = hosts().registryHost.run("sh", ["-c", `cd ${DATA_DIR} && find . -type f -exec sha256sum {} + | LC_ALL=C sort`]);
    expect(listed.code, listed.stderr).toBe(0);
    return listed.stdout;
}

/** What is left on the host of the cache of `upstream`: its container (running or not), socket directory and storage. */
function cacheLeftovers(upstream: string): string[] {
    return [
        ...(hosts().engine.docker(["inspect", `dso-registry-mirror-${upstream}`]).code === 0
            ? [`container dso-registry-mirror-${upstream}`]
            : []),
        ...[`${CACHE_SOCKETS}/${upstream}`, `${CACHE_DATA}/${upstream}`].filter((p) => hosts().registryHost.exists(p)),
    ];
}

/**
 * The config (values and secrets) the stack's last `up` applied, undefined after a destroy or before a step
 * that may fail. A transition whose config A is that config skips its `up` to A: the stack is there already,
 * and a second `up` of one config plans no change (the no-change checks of the unit and slow projects, and
 * `up --expect-no-changes` in prodUp, local and kind).
 */
let appliedConfig: string | undefined;
const configId = (state: StackState) => JSON.stringify([state.raw, state.secrets]);

const prod = TRANSITIONS.filter((t) => t.stack === "prod" && !NOT_HERE.has(t.name));

describe.each(prod.map((t) => [t.name, t] as const))("%s (prod), real engine on test hosts", (_, t) => {
    it("what the engine does is what the model plans, and the host serves after it", async () => {
        if (appliedConfig !== configId(t.from)) {
            appliedConfig = undefined;
            writeStack(t.from);
            await useJenkinsToken(t.from);
            const base = await ws().pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(base.code, base.stdout.slice(-20_000) + base.stderr).toBe(0);
        }
        pushKeptImage();
        if (t.to) {
            writeStack(t.to);
            await useJenkinsToken(t.to);
        }
        const preview = t.to
            ? await ws().pulumi(["preview", "--json", "-s", STACK], { timeoutMs: 15 * 60_000 })
            : await ws().shell(`PULUMI_SKIP_CONFIRMATIONS= pulumi destroy --preview-only --json --non-interactive -s ${STACK}`, {
                  timeoutMs: 15 * 60_000,
              });
        expect(preview.code, preview.stdout.slice(-20_000) + preview.stderr).toBe(0);
        const previewed = previewLines(preview.stdout);
        previews.set(t.name, preview.stdout);

        const usersBefore = pushUsersOnHost();
        const imageChanged = t.to !== undefined && registryImageOf(t.from.raw) !== registryImageOf(t.to.raw);
        const dataBefore = imageChanged ? dataFiles() : "";
        appliedConfig = undefined;
        const applied = await ws().pulumi([t.to ? "up" : "destroy", "--yes", "--skip-preview", "--json", "-s", STACK], {
            timeoutMs: 15 * 60_000,
        });
        expect(applied.code, applied.stdout.slice(-20_000) + applied.stderr).toBe(0);
        appliedConfig = t.to ? configId(t.to) : undefined;
        const executed = executedLines(preEvents(applied.stdout));

        const { plan: model } = await plan(t);
        const modelled = modelLines(model.steps);
        found.push(`${t.name}: preview ${countOps(previewed)}, executed ${countOps(executed)}, model ${countOps(modelled)}`);
        expect(executed).toEqual(modelled);

        if (t.name === ACCOUNTS.hostPushRevoked) {
            // team-a-ci's line went from the host's push users file; every other account's stayed as it was.
            const after = pushUsersOnHost();
            expect(usersBefore.has("team-a-ci")).toBe(true);
            expect(after.has("team-a-ci")).toBe(false);
            for (const [user, hash] of usersBefore) if (user !== "team-a-ci") expect(after.get(user), user).toBe(hash);
            expect(stack.jenkins.credentials.has("container-registry-team-a-ci")).toBe(false);
            expect(stack.jenkins.credentials.has("container-registry-team-b-ci")).toBe(true);
        }
        if (t.to) {
            expect(hosts().runningContainers()).toEqual(expectedContainers(t.to.raw));
            expect(hosts().registryHost.exists(TAG_LINK)).toBe(true);
            expect(hosts().engine.dockerOk(["inspect", "-f", "{{.Config.Image}}", "dso-registry"]), "the registry's image").toBe(
                registryImageOf(t.to.raw),
            );
            pullKeptImage(t.to.raw);
            // Nothing is left of a cache the change removed (the engine runs its delete, with the old script, last).
            const kept = new Set(cachesOf(t.to.raw));
            for (const upstream of cachesOf(t.from.raw).filter((u) => !kept.has(u))) expect(cacheLeftovers(upstream), upstream).toEqual([]);
            if (imageChanged) {
                // Another Distribution on the same storage: every file as it was, and it takes a push.
                expect(dataFiles(), "the registry's data files after the image changed").toBe(dataBefore);
                const client = pushClient(registryNameOf(t.to.raw));
                client.dockerOk(["push", payloadImage(client, `${registryNameOf(t.to.raw)}/docker-internal/p2c/after-image-change:1`)]);
            }
        } else {
            expect(hosts().runningContainers()).toEqual([]);
            expect(hosts().registryHost.exists(TAG_LINK)).toBe(!t.purges);
            expect(hosts().registryHost.exists(DATA_DIR), "the data directory after destroy").toBe(!t.purges);
            for (const upstream of cachesOf(t.from.raw)) expect(cacheLeftovers(upstream), upstream).toEqual([]);
            pushed = false;
        }
    });

    it("the consequences summary of its preview names what it disrupts", () => {
        const preview = previews.get(t.name);
        expect(preview, "the preview of the test above").toBeDefined();
        const { consequences } = consequencesOfPreviewJson(preview!);
        const expected = CONSEQUENCES[t.name];
        expect(
            expected,
            `CONSEQUENCES has no entry for "${t.name}"; the summary says:\n${consequences.map((c) => `${c.kind}: ${c.text}`).join("\n")}`,
        ).toBeDefined();
        expect(new Set(consequences.map((c) => c.kind))).toEqual(new Set(expected!.kinds));
        const lines = consequences.map((c) => c.text).join("\n");
        for (const phrase of expected!.says) expect(lines).toContain(phrase);
    });

    it("its preview is within or over the stated budget, as the pull request's check would find", () => {
        const preview = previews.get(t.name);
        expect(preview, "the preview of the test above").toBeDefined();
        const over = overBudget(consequencesOfPreviewJson(preview!), PROD_BUDGET).map((o) => `${o.consequence.text}: over ${o.exceeds}`);
        expect(over.length > 0 ? "over" : "within", over.join("\n")).toBe(CONSEQUENCES[t.name]!.budget);
    });
});

/**
 * The budget the transitions are held to, the local stack's (test/engine/plans.test.ts): up to 15 s without an
 * answer, no runtime restart, passwords cut only after their overlap, no data touched.
 */
const PROD_BUDGET = disruptionBudget.parse({
    pullOutageSeconds: 15,
    pushOutageSeconds: 15,
    runtimeRestarts: false,
    credentialCuts: "after-overlap",
    dataChanges: false,
});

/**
 * What the consequences summary (tools/previewConsequences.ts, docs/preview-consequences.md) must say of
 * each prod transition's preview under the real engine: exactly these kinds, and each phrase somewhere in its lines.
 */
const CONSEQUENCES: Record<
    string,
    { readonly kinds: readonly ConsequenceKind[]; readonly says: readonly string[]; readonly budget: "within" | "over" }
> = {
    // The nodes' registries.yaml carries the pull account's password (secret stdin): a change the preview
    // cannot see into, so each node "may" restart, in its turn.
    "a mirror removed": {
        budget: "over",
        kinds: ["runtime", "front", "cache"],
        says: [
            "k3s-server-1: k3s or k3s-agent may restart (server 1 of 1): registries.yaml changes",
            "k3s-agent-2: k3s or k3s-agent may restart (agent batch 2 of 2, after k3s-agent-1)",
            "the front (Caddy) on the external host reloads: uploads in flight finish",
            "cache docker-io is removed with its storage",
        ],
    },
    "a mirror added": {
        budget: "over",
        kinds: ["runtime", "front", "cache"],
        says: [
            "k3s-agent-1: k3s or k3s-agent may restart (agent batch 1 of 2",
            "the front (Caddy) on the external host reloads: uploads in flight finish",
            "cache quay-io is started",
        ],
    },
    "mirrors reordered": {
        budget: "over",
        kinds: ["runtime", "front"],
        says: ["k3s-server-1: k3s or k3s-agent may restart", "the front (Caddy) on the external host reloads: uploads in flight finish"],
    },
    // The entries are keyed by the registry's name: every node's entry is replaced, so every node restarts.
    "registry host renamed": {
        budget: "over",
        kinds: ["runtime", "front", "credential"],
        says: [
            "k3s-server-1: k3s or k3s-agent restarts (server 1 of 1): registries.yaml changes",
            "k3s-agent-1: k3s or k3s-agent restarts (agent batch 1 of 2, after k3s-server-1)",
            "k3s-agent-2: k3s or k3s-agent restarts (agent batch 2 of 2, after k3s-agent-1)",
            "the front (Caddy) on the external host reloads: uploads in flight finish",
            "Jenkins credential container-registry is rewritten",
            "pull secret registry-credentials in flux-system is rewritten",
        ],
    },
    // containerd reads hosts.toml at each pull: the nodes' files change, nothing restarts.
    "registry host renamed (containerd nodes)": {
        budget: "within",
        kinds: ["front", "credential"],
        says: [
            "the front (Caddy) on the external host reloads: uploads in flight finish",
            "Jenkins credential container-registry is rewritten",
        ],
    },
    "purge off → on": { budget: "over", kinds: ["data"], says: ["from this up on, a destroy deletes the data: /srv/data/registry"] },
    "purge on → off": { budget: "within", kinds: ["data"], says: ["from this up on, a destroy keeps the data"] },
    "a node added": {
        budget: "over",
        kinds: ["runtime"],
        says: ["k3s-agent-3: k3s or k3s-agent restarts (agent batch 3 of 3, after k3s-agent-2)"],
    },
    "a node removed": {
        budget: "over",
        kinds: ["runtime"],
        says: [
            "k3s-agent-2: k3s or k3s-agent restarts (agent batch 2 of 2, after k3s-agent-1): registries.yaml loses the registry's entries",
        ],
    },
    // The rolling restart's order changes, the file does not: the scripts run again and restart nothing.
    "a node's role changed": { budget: "within", kinds: [], says: [] },
    "Jenkins token rotated": {
        budget: "within",
        kinds: ["credential"],
        says: [
            "Jenkins credential container-registry is rewritten: a secret input changes, its password or only the token",
            "Jenkins credential maven-registry is rewritten",
        ],
    },
    "tag retention turned on (external host)": { budget: "within", kinds: [], says: [] },
    [ACCOUNTS.hostPushRevoked]: {
        budget: "over",
        kinds: ["front", "credential"],
        says: [
            "the front (Caddy) on the external host reloads: uploads in flight finish",
            "account team-a-ci is removed",
            "Jenkins credential container-registry-team-a-ci is deleted",
        ],
    },
    "registry image bumped (external host)": {
        budget: "over",
        kinds: ["registry", "cache"],
        says: [
            "the registry container on the external host is recreated",
            "cache docker-io is recreated",
            "cache registry-k8s-io is recreated",
        ],
    },
    "registry upgraded from Distribution 2.8.3 (external host)": {
        budget: "over",
        kinds: ["registry", "cache"],
        says: ["the registry container on the external host is recreated", "cache ghcr-io is recreated"],
    },
    "login limit changed (external host)": {
        budget: "within",
        kinds: ["other"],
        says: ["fail2ban's registry jail is reloaded with the new limits"],
    },
    "login limit turned off (external host)": {
        budget: "within",
        kinds: ["other"],
        says: ["fail2ban's registry jail is removed: its bans are lifted, and failed logins are no longer limited"],
    },
    "destroy (prod, purge on)": {
        budget: "over",
        kinds: ["runtime", "registry", "front", "cache", "data", "credential", "other"],
        says: [
            "k3s-server-1: k3s or k3s-agent restarts (server 1 of 1): registries.yaml loses the registry's entries",
            "the registry container on the external host is removed (its data stays)",
            "the registry's front on the external host is removed",
            "cache docker-io is removed with its storage",
            "the data is deleted: /srv/data/registry (purgeDataOnDestroy was on at the last up)",
            "account cluster-pull is removed",
            "Jenkins credential container-registry is deleted",
            "pull secret registry-credentials in flux-system is deleted",
            "fail2ban's registry jail is removed: its bans are lifted",
        ],
    },
};
