/**
 * The prod stack's transitions of docs/lifecycle.md under the real engine, on machines of its own
 * (test/support/prodHosts.ts: the registry host with Docker, Caddy, Pebble and fail2ban, and four k3s
 * nodes, all over SSH as a sudo user): for each, the stack is brought to config A with `pulumi up`,
 * `pulumi preview --json` for config B is recorded, then `pulumi up --json` (or `destroy --json`) for B
 * runs. What the engine did, custom resources only, must be the plan test/support/plan.ts computes under
 * the mock; and after every `up` the host must serve: the post-deploy check the stack itself runs passed
 * (it is one of the commands), the registry answers through Caddy with the ACME certificate, an image
 * pushed at the start is still there, the running containers are exactly the stack's.
 *
 * Not run here: storage filesystem → s3 (no S3 endpoint of the stack's exists here; the S3 path is proven
 * by test/integration/s3Storage.test.ts), the Jenkins token rotated (test/engine/existing.test.ts rotates a
 * credential under the engine), and the destroy with purge off (test/engine/prodUp.test.ts).
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { PROJECT } from "../../components/shared/facts";
import { payloadImage, registryImage } from "../support/dockerImages";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import { type ControlPlane, namespace, startControlPlane } from "../support/kubeControlPlane";
import { plan, TRANSITIONS } from "../support/lifecycleTransitions";
import { type ProdHosts, REGISTRY, startProdHosts } from "../support/prodHosts";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";
import { makeTestCa } from "../support/realRegistry";
import type { Raw, StackState } from "../support/transitions";

const STACK = "prod";
const RENAMED = "registry-02.dso.example.com";
const NODES = [
    { name: "k3s-server-1", unit: "k3s" },
    { name: "k3s-agent-1", unit: "k3s-agent" },
    { name: "k3s-agent-2", unit: "k3s-agent" },
    // For "a node added".
    { name: "k3s-agent-3", unit: "k3s-agent" },
] as const;
const NOT_HERE = new Set([
    "storage filesystem → s3 (purge on)",
    "Jenkins token rotated",
    "destroy (prod, purge off)",
    "nothing changed (prod)",
]);
const DATA_DIR = "/srv/data/registry";
const TAG_LINK = `${DATA_DIR}/docker/registry/v2/repositories/docker-internal/p2c/kept/_manifests/tags/1/current/link`;

const secrets = {
    containerRegistryPassword: `push-${randomBytes(12).toString("hex")}`,
    mavenRegistryPassword: `deploy-${randomBytes(12).toString("hex")}`,
    jenkinsApiToken: `token-${randomBytes(12).toString("hex")}`,
    backupRepositoryPassword: `restic-${randomBytes(12).toString("hex")}`,
};

let ws: Workspace;
let kube: ControlPlane;
let jenkins: FakeJenkins;
let hosts: ProdHosts;
let jenkinsCaPem: string;

/** Writes the stack file for `state`, pointed at the test's machines, keeping the secrets `config set` encrypted. */
function writeStack(state: StackState): void {
    const file = path.join(ws.projectDir, `Pulumi.${STACK}.yaml`);
    const current = YAML.parse(readFileSync(file, "utf8")) as { config?: Record<string, unknown>; encryptionsalt?: string };
    const secure = Object.entries(current.config ?? {}).filter(([, v]) => typeof v === "object" && v !== null && "secure" in v);
    const raw = structuredClone(state.raw) as Raw & {
        externalHost: { ssh: Raw };
        nodes: { list: Raw[] };
        registry: Raw & { tls: Raw; maintenance: { backup: { destination: Raw } } };
        jenkins: Raw;
    };
    Object.assign(raw.externalHost.ssh, { host: hosts.registryHost.address, hostKey: hosts.hostSsh.hostKey });
    for (const entry of raw.nodes.list) {
        const node = hosts.nodes.find((n) => n.name === entry.name);
        if (!node) throw new Error(`no test machine for node ${String(entry.name)}`);
        Object.assign(entry, { host: node.ssh.host, hostKey: node.ssh.hostKey });
    }
    raw.registry.maintenance.backup.destination.hostKey = hosts.backupHostKey;
    raw.registry.tls.acmeDirectory = hosts.settings.find(([k]) => k === "registry.tls.acmeDirectory")?.[1];
    Object.assign(raw.jenkins, { url: jenkins.url, caCertificate: jenkinsCaPem });
    const config = { ...Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, v])), ...Object.fromEntries(secure) };
    writeFileSync(file, YAML.stringify({ encryptionsalt: current.encryptionsalt, config }));
}

interface EngineStep {
    op: string;
    urn: string;
    oldState?: { custom?: boolean };
    newState?: { custom?: boolean };
}
type PreEvent = EngineStep & { type?: string; old?: { custom?: boolean }; new?: { custom?: boolean } };

/** The engine's plan as "op name" lines, custom resources only, replacements once (as the model lists them). */
function previewLines(steps: readonly EngineStep[]): string[] {
    return steps
        .filter((s) => !s.urn.includes("::pulumi:providers:") && (s.newState ?? s.oldState)?.custom === true)
        .filter((s) => !["same", "read", "create-replacement", "delete-replaced", "refresh"].includes(s.op))
        .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
        .sort();
}

/** The engine events of `up --json` / `destroy --json`: the summary document, then one document per event. */
function executedLines(output: string): string[] {
    const ops = new Map<string, Set<string>>();
    for (const doc of output.split(/\n(?=\{)/).filter((d) => d.trim())) {
        const m = (JSON.parse(doc) as { resourcePreEvent?: { metadata: PreEvent } }).resourcePreEvent?.metadata;
        if (!m || m.urn.includes("::pulumi:providers:") || (m.new ?? m.old)?.custom !== true) continue;
        ops.set(m.urn, (ops.get(m.urn) ?? new Set()).add(m.op));
    }
    return [...ops]
        .map(([urn, set]) => {
            const op =
                set.has("replace") || set.has("create-replacement") ? "replace" : ["create", "update", "delete"].find((o) => set.has(o));
            return op ? `${op} ${urn.split("::").pop()}` : "";
        })
        .filter(Boolean)
        .sort();
}

const count = (lines: readonly string[]) =>
    ["create", "update", "replace", "delete"].map((op) => lines.filter((l) => l.startsWith(`${op} `)).length).join(" ");
const found: string[] = [];

/** The containers config `raw` runs on the host: the registry and one cache per mirror. */
const expectedContainers = (raw: Raw) =>
    [
        "dso-registry",
        ...((raw.registry as { mirrors?: { upstream: string }[] }).mirrors ?? []).map((m) => `dso-registry-mirror-${m.upstream}`),
    ].sort();

beforeAll(async () => {
    kube = startControlPlane();
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kube.kubeconfig } });
    for (const ns of ["jenkins", "flux-system"]) await kube.create("/api/v1/namespaces", namespace(ns));
    const jenkinsCa = makeTestCa(path.join(ws.dir, "jenkins-ca"));
    jenkinsCaPem = jenkinsCa.caCertPem;
    jenkins = await startFakeJenkins({
        user: "pulumi",
        apiToken: secrets.jenkinsApiToken,
        tls: { key: readFileSync(jenkinsCa.serverKeyFile, "utf8"), cert: readFileSync(jenkinsCa.serverCertFile, "utf8") },
    });
    hosts = await startProdHosts(ws.dir, NODES, [RENAMED]);
    // The image bump's tag: the same Distribution under the new name (nothing can be pulled here).
    registryImage(hosts.engine, "2.8.4");
    await ws.pulumiOk(["stack", "init", STACK]);
    for (const [key, value] of Object.entries(secrets)) {
        await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:${key}`, "-s", STACK], { input: value });
    }
    for (const [key, file] of [
        ["sshPrivateKey", hosts.clientKeyFile],
        ["backupSshPrivateKey", hosts.backupKeyFile],
    ] as const) {
        await ws.pulumiOk(["config", "set", "--secret", `${PROJECT}:${key}`, "-s", STACK], { input: readFileSync(file, "utf8") });
    }
}, 20 * 60_000);

afterAll(async () => {
    if (found.length > 0) console.log(found.join("\n"));
    await hosts?.stop();
    ws?.close();
    await jenkins?.close();
    kube?.stop();
}, 5 * 60_000);

/** Pushes the image every later transition must keep, once the registry first runs. */
let pushed = false;
function pushKeptImage(): void {
    if (pushed) return;
    const client = hosts.engine.client();
    const ref = payloadImage(client, `${REGISTRY}/docker-internal/p2c/kept:1`, { payloadBytes: 16 * 1024 });
    expect(client.login(REGISTRY, { username: "jenkins-push", password: secrets.containerRegistryPassword }).code).toBe(0);
    client.dockerOk(["push", ref]);
    pushed = true;
}

const prod = TRANSITIONS.filter((t) => t.stack === "prod" && !NOT_HERE.has(t.name));

describe.each(prod.map((t) => [t.name, t] as const))("%s (prod), real engine on test hosts", (_, t) => {
    it("what the engine does is what the model plans, and the host serves after it", async () => {
        writeStack(t.from);
        const base = await ws.pulumi(["up", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
        expect(base.code, base.stdout.slice(-20_000) + base.stderr).toBe(0);
        pushKeptImage();
        if (t.to) writeStack(t.to);
        const preview = t.to
            ? await ws.pulumi(["preview", "--json", "-s", STACK], { timeoutMs: 15 * 60_000 })
            : await ws.shell(`PULUMI_SKIP_CONFIRMATIONS= pulumi destroy --preview-only --json --non-interactive -s ${STACK}`, {
                  timeoutMs: 15 * 60_000,
              });
        expect(preview.code, preview.stdout.slice(-20_000) + preview.stderr).toBe(0);
        const previewed = previewLines((JSON.parse(preview.stdout) as { steps?: EngineStep[] }).steps ?? []);

        const applied = await ws.pulumi([t.to ? "up" : "destroy", "--yes", "--json", "-s", STACK], { timeoutMs: 15 * 60_000 });
        expect(applied.code, applied.stdout.slice(-20_000) + applied.stderr).toBe(0);
        const executed = executedLines(applied.stdout);

        const { plan: model } = await plan(t);
        const modelled = model.steps
            .filter((s) => !(s.op === "delete" && s.ofReplaced))
            .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
            .sort();
        found.push(`${t.name}: preview ${count(previewed)}, executed ${count(executed)}, model ${count(modelled)}`);
        expect(executed).toEqual(modelled);

        if (t.to) {
            expect(hosts.runningContainers()).toEqual(expectedContainers(t.to.raw));
            expect(hosts.registryHost.exists(TAG_LINK)).toBe(true);
        } else {
            expect(hosts.runningContainers()).toEqual([]);
            expect(hosts.registryHost.exists(TAG_LINK)).toBe(!t.purges);
            pushed = false;
        }
    });
});
