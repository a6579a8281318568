/**
 * The plan model against the real engine: for each transition of the local stack in docs/lifecycle.md
 * (test/support/lifecycleTransitions.ts), the stack is brought to config A with `pulumi up` on a real API
 * server, `pulumi preview --json` for config B is recorded, then `pulumi up --json` (or `destroy`) for B runs
 * and reports its engine events. Both `up`s skip the preview `up` runs first by default (`--skip-preview`):
 * the one for B is the preview just recorded, and the one for A is of no interest. What it did, custom resources only (components and providers are not the model's),
 * must be the plan test/support/plan.ts computes from two runs under the mock: the same resources, each
 * with the same operation. Where they differed, the model was corrected to the engine. The preview can
 * say more than the `up` does: an object whose whole `spec` is unknown at preview (made from a password
 * the same `up` replaces) previews as a replacement and is updated once the value is known. And no
 * Ingress may be replaced create-first. The transitions run one after another on one stack, so each
 * `up` to the next config A also undoes the last B: the namespace renamed is renamed back, onto the
 * namespace and data claims the rename retained.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disruptionBudget } from "../../components/config/schema/review";
import { PROJECT } from "../../components/shared/facts";
import { budgetVerdict, type ConsequenceKind, consequencesOfPreviewJson, MEASURED, overBudget } from "../../tools/previewConsequences";
import { countOps, executedLines, modelLines, type PreEvent, preEvents, previewLines } from "../support/engineEvents";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import type { ControlPlane } from "../support/kubeControlPlane";
import { ACCOUNTS, plan, TRANSITIONS } from "../support/lifecycleTransitions";
import { startLocalCluster } from "../support/localCluster";
import { FINAL_STATE_ONLY, openWorkspace, type Workspace, writeStackValues } from "../support/pulumiEngine";
import { makeTestCa } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";
import type { Raw, StackState } from "../support/transitions";

const STACK = "local";
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

let kube: ControlPlane;
let jenkins: FakeJenkins;
let ws: Workspace;

/** Writes the stack file for `state`: its values and the fake Jenkins's address (the secrets stay as set). */
function writeStack(state: StackState): void {
    const raw = structuredClone(state.raw);
    (raw.jenkins as Raw).url = jenkins.url;
    writeStackValues(ws, STACK, raw);
}

/**
 * The config (values and secrets) the stack's last `up` applied, undefined after a destroy or before a step
 * that may fail. A transition whose config A is that config skips its `up` to A: the stack is there already,
 * and a second `up` of one config plans no change (the no-change checks of the unit and slow projects, and
 * `up --expect-no-changes` in prodUp, local and kind).
 */
let appliedConfig: string | undefined;
const configId = (state: StackState) => JSON.stringify([state.raw, state.secrets]);

const local = TRANSITIONS.filter((t) => t.stack === "local");
/** What each transition's comparison found, for the table in docs/lifecycle.md. */
const found: string[] = [];
/** Each transition's `preview --json` output, as the engine printed it. */
const previews = new Map<string, string>();

beforeAll(async () => {
    kube = await startLocalCluster(12);
    jenkins = await startFakeJenkins({ user: "admin", apiToken: jenkinsToken });
    // Each `up` must succeed and none's state is read midway: the state is written once per command.
    ws = openWorkspace({ stackFiles: [STACK], env: { ...FINAL_STATE_ONLY, KUBECONFIG: kube.kubeconfig } });
    await ws.pulumiOk(["stack", "init", STACK]);
    await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:jenkinsApiToken`, "-s", STACK], { input: jenkinsToken });
    // For the transition to a provided certificate: a CA and server certificate made now.
    const dir = privateDir("engine-plans-tls");
    try {
        const ca = makeTestCa(dir, ["registry-dso.jmann.local"]);
        const pem = (file: string) => readFileSync(file, "utf8");
        await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:tlsCertificate`, "-s", STACK], { input: pem(ca.serverCertFile) });
        await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:tlsPrivateKey`, "-s", STACK], { input: pem(ca.serverKeyFile) });
    } finally {
        removeDir(dir);
    }
}, 20 * 60_000);

afterAll(async () => {
    if (found.length > 0) console.log(found.join("\n"));
    ws?.close();
    await jenkins?.close();
    kube?.stop();
});

/**
 * Ingresses the engine replaced create-first: the new one was created while the old one, for the same host
 * and paths, still existed (ingress-nginx's admission webhook refuses that).
 */
function ingressesCreatedFirst(events: readonly PreEvent[]): string[] {
    const order = events.filter((m) => m.type === "kubernetes:networking.k8s.io/v1:Ingress").map((m) => `${m.op} ${m.urn}`);
    return order
        .filter((e) => e.startsWith("create-replacement "))
        .map((e) => e.slice("create-replacement ".length))
        .filter((urn) => !order.slice(0, order.indexOf(`create-replacement ${urn}`)).includes(`delete-replaced ${urn}`));
}

describe.each(local.map((t) => [t.name, t] as const))("%s (local), real engine", (_, t) => {
    it("what the engine does is what the model plans", async () => {
        if (appliedConfig !== configId(t.from)) {
            appliedConfig = undefined;
            writeStack(t.from);
            const base = await ws.pulumi(["up", "--yes", "--skip-preview", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(base.code, base.stdout + base.stderr).toBe(0);
        }
        if (t.to) writeStack(t.to);
        const preview = t.to
            ? await ws.pulumi(["preview", "--json", "-s", STACK], { timeoutMs: 15 * 60_000 })
            : // --preview-only refuses the workspace's PULUMI_SKIP_CONFIRMATIONS (it counts as --yes).
              await ws.shell(`PULUMI_SKIP_CONFIRMATIONS= pulumi destroy --preview-only --json --non-interactive -s ${STACK}`, {
                  timeoutMs: 15 * 60_000,
              });
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        const previewed = previewLines(preview.stdout);
        previews.set(t.name, preview.stdout);

        const accountsBefore = await accountEntries();
        appliedConfig = undefined;
        const applied = await ws.pulumi([t.to ? "up" : "destroy", "--yes", "--skip-preview", "--json", "-s", STACK], {
            timeoutMs: 15 * 60_000,
        });
        expect(applied.code, applied.stdout + applied.stderr).toBe(0);
        appliedConfig = t.to ? configId(t.to) : undefined;
        const events = preEvents(applied.stdout);
        const executed = executedLines(events);
        expect(ingressesCreatedFirst(events)).toEqual([]);

        const { plan: model } = await plan(t);
        const modelled = modelLines(model.steps);
        found.push(`${t.name}: preview ${countOps(previewed)}, executed ${countOps(executed)}, model ${countOps(modelled)}`);
        expect(executed).toEqual(modelled);

        const gone = ACCOUNT_CHANGES[t.name];
        if (gone) {
            // One account revoked or rotated: its entries changed or went, every other account's stayed as they were.
            const after = await accountEntries();
            for (const [entry, value] of accountsBefore) {
                if (entry.endsWith(` ${gone.account}`)) {
                    if (gone.revoked) expect(after.has(entry), `${entry} is gone`).toBe(false);
                    else expect(after.get(entry), `${entry} changed`).not.toBe(value);
                } else {
                    expect(after.get(entry), `${entry} is unchanged`).toBe(value);
                }
            }
            // Where the account had entries before: its users-file line, and its Jenkins credential or pull Secret.
            const where = [...accountsBefore.keys()].filter((e) => e.endsWith(` ${gone.account}`)).map((e) => e.split(":")[0]);
            expect(where).toContain("users");
            expect(where).toContain(gone.account === "flux-reader" ? "secret" : "jenkins");
        }
    });

    it("the consequences summary of its preview names what it disrupts", () => {
        const expected = CONSEQUENCES[t.name];
        expect(expected, `CONSEQUENCES has no entry for "${t.name}"`).toBeDefined();
        const preview = previews.get(t.name);
        expect(preview, "the preview of the test above").toBeDefined();
        const { consequences } = consequencesOfPreviewJson(preview!);
        expect(new Set(consequences.map((c) => c.kind))).toEqual(new Set(expected!.kinds));
        const lines = consequences.map((c) => c.text).join("\n");
        for (const phrase of expected!.says) expect(lines).toContain(phrase);
    });

    it("its preview is within or over the stated budget, as the pull request's check would find", () => {
        const preview = previews.get(t.name);
        expect(preview, "the preview of the test above").toBeDefined();
        const result = consequencesOfPreviewJson(preview!);
        const over = overBudget(result, LOCAL_BUDGET).map((o) => `${o.consequence.text}: over ${o.exceeds}`);
        expect(over.length > 0 ? "over" : "within", over.join("\n")).toBe(CONSEQUENCES[t.name]!.budget);
        expect(budgetVerdict(result, { budget: LOCAL_BUDGET }).passes).toBe(over.length === 0);
    });
});

/**
 * The budget the transitions are held to: what a team might allow without asking (docs/preview-consequences.md):
 * up to 15 s without an answer, no runtime restart, passwords cut only after their overlap, no data touched.
 */
const LOCAL_BUDGET = disruptionBudget.parse({
    pullOutageSeconds: 15,
    pushOutageSeconds: 15,
    runtimeRestarts: false,
    credentialCuts: "after-overlap",
    dataChanges: false,
});

/**
 * What the consequences summary (tools/previewConsequences.ts, docs/preview-consequences.md) must say of
 * each transition's preview: exactly these kinds, and each phrase somewhere in its lines.
 */
const CONSEQUENCES: Record<
    string,
    { readonly kinds: readonly ConsequenceKind[]; readonly says: readonly string[]; readonly budget: "within" | "over" }
> = {
    "nothing changed (local)": { budget: "within", kinds: [], says: [] },
    "inCluster.namespace renamed": {
        budget: "over",
        kinds: ["registry", "cache", "exposure", "data"],
        says: [
            "claim registry-data is replaced (namespace dso → registry): the old claim is left in the cluster (retainOnDelete)",
            "claim maven-data is replaced (namespace dso → registry)",
            "namespace dso is left in the cluster (retainOnDelete)",
            "Ingress registry is replaced",
        ],
    },
    "rotation bumped": {
        budget: "within",
        kinds: ["registry", "credential"],
        says: [
            `the registry's pod (Deployment registry, Distribution and its Caddy front) is replaced`,
            MEASURED.inClusterRecreate,
            "account ci-push: its password rotates",
            "account cluster-pull: its password rotates",
            "Jenkins credential container-registry is rewritten with the new password",
        ],
    },
    "rotation by age turned on": {
        budget: "within",
        kinds: ["registry", "credential"],
        says: ["account ci-push: its password rotates", "Jenkins credential container-registry is rewritten with the new password"],
    },
    [ACCOUNTS.added]: {
        budget: "within",
        kinds: ["registry", "credential"],
        says: ["account team-a-ci is added", "account flux-reader is added", "Jenkins credential container-registry-team-a-ci is created"],
    },
    [ACCOUNTS.pushRevoked]: {
        budget: "over",
        kinds: ["registry", "credential"],
        says: ["account team-a-ci is removed", "Jenkins credential container-registry-team-a-ci is deleted"],
    },
    [ACCOUNTS.pushRotated]: {
        budget: "within",
        kinds: ["registry", "credential"],
        says: [
            "account team-b-ci: its password rotates",
            "Jenkins credential container-registry-team-b-ci is rewritten with the new password",
        ],
    },
    [ACCOUNTS.readRevoked]: {
        budget: "over",
        kinds: ["registry", "credential"],
        says: ["account flux-reader is removed", "pull secret registry-read-flux-reader in default is deleted"],
    },
    "tag retention turned on (local)": { budget: "within", kinds: ["registry"], says: ["the registry's pod"] },
    "TLS generated-ca → provided": { budget: "over", kinds: ["registry", "certificate"], says: ["the generated CA is removed"] },
    "registry and Caddy images bumped": {
        budget: "within",
        kinds: ["registry", "cache"],
        says: ["the registry's pod", "cache registry-mirror-docker-io's pod is replaced"],
    },
    "login limit changed (in-cluster)": { budget: "within", kinds: [], says: [] },
    "UI turned on (local)": { budget: "within", kinds: [], says: [] },
    "UI image bumped (local)": { budget: "within", kinds: ["other"], says: ["the web UI's pod (registry-ui) is replaced"] },
    "destroy (local)": {
        budget: "over",
        kinds: ["runtime", "registry", "cache", "exposure", "data", "credential", "certificate"],
        says: [
            "node trust removed from every node",
            "Deployment registry is deleted",
            "claim registry-data is left in the cluster (retainOnDelete)",
            "Jenkins credential container-registry is deleted",
        ],
    },
};

/** The account each named-account transition revokes or rotates. */
const ACCOUNT_CHANGES: Record<string, { account: string; revoked: boolean }> = {
    [ACCOUNTS.pushRevoked]: { account: "team-a-ci", revoked: true },
    [ACCOUNTS.pushRotated]: { account: "team-b-ci", revoked: false },
    [ACCOUNTS.readRevoked]: { account: "flux-reader", revoked: true },
};

/**
 * Every account's entries where they live, keyed "<where> <account>": its line in the users file
 * (Secret registry-htpasswd, each key a users file), its Jenkins credential's user and password in the
 * fake Jenkins's store, and its pull Secret's content.
 */
async function accountEntries(): Promise<Map<string, string>> {
    const entries = new Map<string, string>();
    const htpasswd = await kube.get<{ data?: Record<string, string> }>("/api/v1/namespaces/dso/secrets/registry-htpasswd");
    for (const [file, encoded] of Object.entries(htpasswd?.data ?? {})) {
        for (const line of Buffer.from(encoded, "base64").toString("utf8").split("\n")) {
            const [user, hash] = line.trim().split(/[\s:]+/);
            if (user && hash) entries.set(`users:${file} ${user}`, hash);
        }
    }
    for (const [id, credential] of jenkins.credentials) {
        const user = credential.fields.username;
        if (user) entries.set(`jenkins:${id} ${user}`, credential.fields.password ?? "");
    }
    for (const name of ["dev-alice", "flux-reader"]) {
        const secret = await kube.get<{ data?: Record<string, string> }>(`/api/v1/namespaces/default/secrets/registry-read-${name}`);
        if (secret) entries.set(`secret:default/registry-read-${name} ${name}`, JSON.stringify(secret.data));
    }
    return entries;
}
