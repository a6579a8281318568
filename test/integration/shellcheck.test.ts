/**
 * Debian's shellcheck (`-s sh`: the scripts run under POSIX sh on hosts, nodes and in pods) on every
 * script the program can render, in every flavour: the scripts in the synth output of both committed
 * stacks and of variant stacks that switch on what the committed ones leave off — every `*.sh` file,
 * every placed script under hosts/, every ConfigMap key ending in .sh, and every inline `sh -c` script of
 * a pod (the in-cluster GC CronJob, in both of its windows). One test case per script, named by its
 * file; a script that several stacks render byte for byte the same is checked once, under the first name.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { RUNTIME_FLAVOURS } from "../../components/shared/facts";
import { committedSynthDir } from "../support/committedSynth";
import { run } from "../support/serverProcess";
import { COMMITTED_STACKS, PROJECT_DIR, readTree, synthCli } from "../support/synthCli";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheShellcheckVariants";

/** Config every variant shares: the registry as clients see it and Jenkins, which every stack may run. */
const base = {
    "dso-registry:containerRegistry": { host: "registry.example.test", pathPrefix: "team/apps", requiresAuthForPull: true },
    "dso-registry:jenkins": { enabled: true, url: "https://jenkins.example.test" },
    // Pods on nodes that hold no registry credentials pull with this namespace's pull secret.
    "dso-registry:pullSecrets": { namespaces: ["apps"] },
};

/** What the committed stacks leave off, switched on: each variant is synthesized once per run. */
const variants: Record<string, Record<string, unknown>> = {
    // Node trust over SSH in every runtime flavour (one node each, one of them local), with the
    // containerd restart and the /etc/hosts block; the in-cluster registry with garbage collection (the
    // CronJob's inline script, the collection and the check it runs in the registry container,
    // ConfigMap keys gc.sh and verify.sh).
    "ssh-nodes": {
        "dso-registry:registry": { mode: "in-cluster", maintenance: { garbageCollection: { enabled: true, deleteUntagged: true } } },
        "dso-registry:nodes": {
            delivery: "ssh",
            runtime: "containerd",
            registryAddress: "10.20.0.5",
            allowContainerdRestart: true,
            list: [
                ...RUNTIME_FLAVOURS.map((runtime) => ({
                    name: `node-${runtime}`,
                    host: `node-${runtime}.example.test`,
                    user: "deploy",
                    sudo: true,
                    hostKey: HOST_KEY,
                    runtime,
                })),
                { name: "node-local", user: "root", local: true, runtime: "k3s" },
            ],
        },
    },
    // The external host as root (no sudo) with backups, garbage collection, the UI with deletes and the
    // Maven repository (the converged case); the nodes through the DaemonSet (containerd, allowed to restart it).
    "external-all": {
        "dso-registry:mavenRegistry": { host: "registry.example.test", pathPrefix: "maven-releases" },
        "dso-registry:registry": {
            mode: "external-host",
            tls: { mode: "acme", acmeEmail: "ops@example.test" },
            allowedNetworks: ["10.0.0.0/8"],
            maintenance: {
                garbageCollection: { enabled: true, deleteUntagged: true },
                backup: { enabled: true, destination: { kind: "s3", endpoint: "https://minio.example.com", bucket: "registry-backup" } },
            },
            ui: { enabled: true, deleteEnabled: true },
        },
        "dso-registry:externalHost": {
            ssh: { host: "registry-host.example.test", user: "root", hostKey: HOST_KEY },
            purgeDataOnDestroy: true,
        },
        "dso-registry:nodes": { delivery: "daemonset", runtime: "containerd", registryAddress: "10.20.0.5", allowContainerdRestart: true },
    },
    // The external host with s3 storage: credentials from an env file, GC against the bucket, no data dir.
    "external-s3": {
        "dso-registry:registry": {
            mode: "external-host",
            tls: { mode: "acme", acmeEmail: "ops@example.test" },
            storage: { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.example.test" } },
            maintenance: { garbageCollection: { enabled: true } },
        },
        "dso-registry:externalHost": { ssh: { host: "registry-s3.example.test", user: "deploy", sudo: true, hostKey: HOST_KEY } },
    },
    // The in-cluster registry backed up to S3, with the Maven repository on the same front (its volume is
    // backed up too) and garbage collection (which cleans old snapshot builds in the Maven container).
    "in-cluster-backup": {
        "dso-registry:registry": {
            mode: "in-cluster",
            maintenance: {
                garbageCollection: { enabled: true },
                backup: { enabled: true, destination: { kind: "s3", endpoint: "https://minio.example.test", bucket: "registry-backup" } },
            },
        },
        "dso-registry:mavenRegistry": { host: "registry.example.test", pathPrefix: "maven-releases" },
    },
    // The in-cluster registry on s3 with two replicas and garbage collection: the GC job's rollout
    // window (pods that may overlap), where one pod gets the front's marker window instead.
    "in-cluster-s3-gc": {
        "dso-registry:registry": {
            mode: "in-cluster",
            replicas: 2,
            storage: { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.example.test" } },
            maintenance: { garbageCollection: { enabled: true } },
        },
    },
    // The in-cluster registry backed up to a volume of its own.
    "in-cluster-backup-volume": {
        "dso-registry:registry": { mode: "in-cluster", maintenance: { backup: { enabled: true, destination: { kind: "volume" } } } },
    },
    // An existing plain-HTTP registry, trusted by the DaemonSet on k3s nodes.
    "existing-plain-http": {
        "dso-registry:registry": { mode: "existing", tls: { mode: "public" } },
        "dso-registry:nodes": { delivery: "daemonset", runtime: "k3s", insecurePlainHttp: true },
    },
    // The DaemonSet in the flavours no other stack gives it (local: microk8s; above: containerd, k3s).
    ...Object.fromEntries(
        RUNTIME_FLAVOURS.filter((runtime) => !["microk8s", "containerd", "k3s"].includes(runtime)).map((runtime) => [
            `daemonset-${runtime}`,
            {
                "dso-registry:registry": { mode: "in-cluster" },
                "dso-registry:nodes": { delivery: "daemonset", runtime, registryAddress: "10.20.0.5" },
            },
        ]),
    ),
};

const work = mkdtempSync(path.join(tmpdir(), "dso-shellcheck-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Synthesizes every variant side by side; returns label → output directory. */
async function synthVariants(): Promise<Map<string, string>> {
    // A throwaway project: the real Pulumi.yaml and stack files of our own.
    copyFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), path.join(work, "Pulumi.yaml"));
    const outputs = await Promise.all(
        Object.entries(variants).map(async ([stack, config]): Promise<[string, string]> => {
            writeFileSync(path.join(work, `Pulumi.${stack}.yaml`), YAML.stringify({ config: { ...base, ...config } }));
            const out = path.join(work, "out", stack);
            const result = await synthCli(["--stack", stack, "--out", out], work);
            if (result.status !== 0) throw new Error(`synth of the variant stack ${stack} failed:\n${result.stderr}`);
            return [`variant ${stack}`, out];
        }),
    );
    return new Map(outputs);
}

interface Script {
    /** Where the script is: stack, file, and the key or container inside a Kubernetes object. */
    readonly name: string;
    readonly text: string;
}

/** A placed file is a script when it is executable or starts with an sh shebang. */
function isPlacedScript(dir: string, file: string, text: string): boolean {
    return (statSync(path.join(dir, file)).mode & 0o111) !== 0 || /^#!\s*(\/usr)?\/bin\/(env\s+)?sh\b/.test(text);
}

/** The inline `sh -c` scripts of every container of a Kubernetes object (Pods, Jobs, CronJobs, …). */
function inlineScripts(object: Record<string, unknown>): { container: string; text: string }[] {
    const found: { container: string; text: string }[] = [];
    const visit = (value: unknown) => {
        if (Array.isArray(value)) value.forEach(visit);
        else if (value && typeof value === "object") {
            const record = value as Record<string, unknown>;
            const command = [...((record.command as unknown[]) ?? []), ...((record.args as unknown[]) ?? [])];
            const shell = command.findIndex((part, i) => /^(\/bin\/)?sh$/.test(String(part)) && command[i + 1] === "-c");
            if (typeof record.name === "string" && shell >= 0 && typeof command[shell + 2] === "string") {
                found.push({ container: record.name, text: command[shell + 2] as string });
            }
            Object.values(record).forEach(visit);
        }
    };
    visit(object);
    return found;
}

/** Every script in one synth output. */
function scriptsOf(label: string, dir: string): Script[] {
    const scripts: Script[] = [];
    for (const [file, text] of readTree(dir)) {
        const name = `${label}: ${file}`;
        if (file.endsWith(".sh") || (file.startsWith("hosts/") && isPlacedScript(dir, file, text))) {
            scripts.push({ name, text });
        } else if (file.startsWith("k8s/") && file.endsWith(".yaml")) {
            const object = YAML.parse(text) as Record<string, unknown>;
            if (object.kind === "ConfigMap") {
                for (const [key, value] of Object.entries((object.data as Record<string, string>) ?? {})) {
                    if (key.endsWith(".sh")) scripts.push({ name: `${name} data.${key}`, text: value });
                }
            }
            for (const inline of inlineScripts(object)) scripts.push({ name: `${name} container ${inline.container}`, text: inline.text });
        }
    }
    return scripts;
}

describe("shellcheck -s sh", async () => {
    const outputs = new Map<string, string>([
        ...COMMITTED_STACKS.map((stack): [string, string] => [`stack ${stack}`, committedSynthDir(stack)]),
        ...(await synthVariants()),
    ]);
    const seen = new Set<string>();
    const scripts = [...outputs]
        .flatMap(([label, dir]) => scriptsOf(label, dir))
        .filter((script) => !seen.has(script.text) && seen.add(script.text));

    test("finds the scripts of every kind", () => {
        const names = scripts.map((s) => s.name).join("\n");
        expect(names).toMatch(/^stack prod: hosts\/.*\/usr\/local\/sbin\/dso-registry-gc$/m);
        expect(names).toMatch(/^stack prod: hosts\/[^/]+\/commands\/.+\.create\.sh$/m);
        expect(names).toMatch(/^variant ssh-nodes: hosts\/node-kind\/commands\/.+\.sh$/m);
        expect(names).toMatch(/^stack local: k8s\/dso-node-trust\/ConfigMap-dso-node-trust\.yaml data\.apply\.sh$/m);
        expect(names).toMatch(/CronJob-registry-gc\.yaml container /);
        expect(names).toMatch(/^variant ssh-nodes: k8s\/.*ConfigMap-registry-config\.yaml data\.verify\.sh$/m);
        expect(names).toMatch(/^variant ssh-nodes: k8s\/.*ConfigMap-registry-config\.yaml data\.gc\.sh$/m);
        expect(names).toMatch(/^variant in-cluster-s3-gc: k8s\/.*CronJob-registry-gc\.yaml container gc$/m);
        expect(names).toMatch(/^variant in-cluster-backup: k8s\/.*CronJob-registry-backup\.yaml container backup$/m);
        expect(names).toMatch(/^variant in-cluster-backup: k8s\/.*ConfigMap-registry-backup\.yaml data\.backup\.sh$/m);
        expect(names).toMatch(/^variant in-cluster-backup: k8s\/.*ConfigMap-registry-backup\.yaml data\.restore\.sh$/m);
        expect(names).toMatch(/^variant in-cluster-backup: k8s\/.*Deployment-registry\.yaml container backup$/m);
    });

    test.each(scripts.map((script) => [script.name, script.text]))("%s", (_name, text) => {
        const result = run("/usr/bin/shellcheck", ["-s", "sh", "-f", "gcc", "-"], { input: text });
        expect(result.stdout + result.stderr).toBe("");
        expect(result.code).toBe(0);
    });
});

/**
 * The shell sources themselves (`components/**\/*.sh`: the sourced pieces and every script the
 * renderers fill in), as `npm run lint` checks them: shellcheck follows each file's
 * `. "$(dirname "$0")/….sh"` to the piece it sources (-x, relative to the script). One test that names every file that fails.
 */
describe("shellcheck -x on the shell sources", () => {
    test("every .sh file under components/ passes, tracked or new", () => {
        const listed = run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "components/*.sh"], {
            cwd: PROJECT_DIR,
        });
        expect(listed.code, listed.stderr).toBe(0);
        const files = [...new Set(listed.stdout.split("\0").filter((f) => f !== ""))].sort();
        expect(files).toContain("components/upkeep/sh/verify.sh");
        expect(files).toContain("components/shared/sh/place-file.sh");
        const failures = files.flatMap((file) => {
            const result = run("/usr/bin/shellcheck", ["-x", "-P", "SCRIPTDIR", "-f", "gcc", file], { cwd: PROJECT_DIR });
            return result.code === 0 && result.stdout + result.stderr === "" ? [] : [`${file}:\n${result.stdout}${result.stderr}`];
        });
        expect(failures.join("\n")).toBe("");
    });
});
