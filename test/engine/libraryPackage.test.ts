/**
 * The package as another program installs it (docs/library.md): `npm pack` (its `prepack` builds dist/
 * with tsconfig.build.json) gives a tarball of JavaScript, declarations and the scripts the components
 * read; a program of its own, in a folder with its own package.json, Pulumi.yaml and tsconfig.json,
 * gets the tarball in its node_modules and imports the components by the package's name. The program
 * type-checks with `tsc --noEmit`, and the engine tier's CLI previews it (type-checked again by the
 * SDK's ts-node, as a newcomer's `npx pulumi preview` does).
 *
 * The tarball is unpacked where npm would put it (node_modules/dso-registry) and every other package
 * the program resolves is a link to this checkout's node_modules, so the program and the package share
 * one copy of @pulumi/pulumi and nothing is downloaded. The program's Kubernetes provider renders its
 * objects to files (`renderYamlToDirectory`), so the preview needs no cluster: its plan still holds
 * every object the components register, through the real engine and the providers' plugins.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataFiles } from "../../tools/buildPackage";
import { openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";

const run = promisify(execFile);
const STACK = "dev";
const PACKAGE = "dso-registry";

/**
 * The program of its own: the accounts, certificates and node trust the example composes, declared as it
 * does, and the Jenkins credentials, whose dynamic resources carry code serialized from the package.
 */
const PROGRAM = `import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    JenkinsCredentials,
    NodeTrustDaemonSet,
    type NodeTrustDaemonSetArgs,
    planJenkinsCredentials,
    RegistryAccounts,
    RegistryTls,
} from "${PACKAGE}";

const host = "registry.lab.example";
// The objects are rendered to files, not applied: a preview needs no cluster.
const cluster = new k8s.Provider("rendered", { renderYamlToDirectory: "rendered" });

const accounts = new RegistryAccounts("registry-accounts", { push: { username: "ci-push" }, rotation: "1" });
const tls = new RegistryTls("registry-tls", {
    source: "generated",
    dnsNames: [host],
    caValidityDays: 3650,
    serverCertValidityDays: 825,
});
const trustArgs: NodeTrustDaemonSetArgs = { namespace: "registry-node-trust", host, port: 443, flavour: "containerd", caCertPem: tls.caCertPem };
const trust = new NodeTrustDaemonSet("node-trust", trustArgs, { providers: { kubernetes: cluster } });

// A dynamic resource: the engine runs its provider from the code serialized out of the installed package.
new JenkinsCredentials("jenkins", {
    url: "https://jenkins.lab.example",
    user: "pulumi",
    auth: "token",
    secret: pulumi.secret("not-a-token"),
    timeoutSeconds: 30,
    usernameSecret: false,
    credentials: planJenkinsCredentials({
        container: { credentialId: "registry-push", authority: host, username: accounts.push.username, password: accounts.push.password },
    }),
});

export const pushUsername = accounts.push.username;
export const nodeTrustDaemonSet = trust.daemonSet.metadata.name;
`;

/** The program's files; its package.json names the tarball as npm writes a dependency installed from one. */
const programFiles = (tarball: string): Record<string, string> => ({
    "package.json": JSON.stringify(
        { name: "registry-package-consumer", private: true, dependencies: { [PACKAGE]: `file:../pack/${tarball}` } },
        null,
        4,
    ),
    "Pulumi.yaml": "name: registry-package-consumer\nruntime:\n    name: nodejs\n    options:\n        typescript: true\n",
    "tsconfig.json": JSON.stringify(
        {
            compilerOptions: {
                target: "ES2022",
                module: "commonjs",
                moduleResolution: "bundler",
                strict: true,
                esModuleInterop: true,
                types: ["node"],
            },
        },
        null,
        4,
    ),
    "index.ts": PROGRAM,
});

interface PackResult {
    readonly filename: string;
    readonly files: readonly { readonly path: string }[];
}

let ws: Workspace;
let packed: PackResult;
let programDir: string;

beforeAll(async () => {
    ws = openWorkspace({ typeCheck: true });
    const packDir = path.join(ws.dir, "pack");
    mkdirSync(packDir);
    const pack = await run("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: PROJECT_DIR, maxBuffer: 16 * 1024 * 1024 });
    packed = (JSON.parse(pack.stdout) as PackResult[])[0] as PackResult;

    programDir = path.join(ws.dir, "consumer");
    mkdirSync(programDir);
    for (const [file, text] of Object.entries(programFiles(packed.filename))) writeFileSync(path.join(programDir, file), text);
    // The package where npm installs it; its dependencies (and the program's) from the checkout, one copy each.
    const modules = path.join(programDir, "node_modules");
    const installed = path.join(modules, PACKAGE);
    mkdirSync(installed, { recursive: true });
    await run("tar", ["-xzf", path.join(packDir, packed.filename), "-C", installed, "--strip-components=1"]);
    for (const entry of readdirSync(path.join(PROJECT_DIR, "node_modules"))) {
        if (entry.startsWith(".")) continue;
        symlinkSync(path.join(PROJECT_DIR, "node_modules", entry), path.join(modules, entry));
    }
}, 10 * 60_000);

afterAll(() => ws?.close());

describe("the package, packed and installed in a program of its own", () => {
    it("the tarball holds the compiled surface, its declarations and every script beside them; no TypeScript source, no test", () => {
        const paths = packed.files.map((f) => f.path);
        expect(paths).toEqual(expect.arrayContaining(["package.json", "dist/index.js", "dist/index.d.ts"]));
        expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
        expect(paths.filter((p) => !p.startsWith("dist/") && !["package.json", "README.md", "docs/library.md"].includes(p))).toEqual([]);
        expect(paths.filter((p) => /test|\.map$/.test(p))).toEqual([]);
        const missing = dataFiles(path.join(PROJECT_DIR, "components")).filter((file) => !paths.includes(`dist/${file}`));
        expect(missing).toEqual([]);
    });

    it("requiring the package by name gives the components and planJenkinsCredentials, nothing of this project's program", async () => {
        const listed = await run(process.execPath, ["-e", `console.log(JSON.stringify(Object.keys(require("${PACKAGE}")).sort()))`], {
            cwd: programDir,
        });
        expect(JSON.parse(listed.stdout)).toEqual([
            "ExternalRegistryHost",
            "InClusterRegistry",
            "JenkinsCredentials",
            "KindRegistry",
            "NodeTrust",
            "NodeTrustDaemonSet",
            "PullSecrets",
            "RegistryAccounts",
            "RegistryTls",
            "planJenkinsCredentials",
        ]);
        const declarations = readFileSync(path.join(programDir, "node_modules", PACKAGE, "dist/index.d.ts"), "utf8");
        expect(declarations).not.toMatch(/defineStack|loadDeployableConfig|gateOnClusterPrerequisites|StackConfig/);
    });

    it("the program type-checks against the package's declarations (`tsc --noEmit`)", async () => {
        const tsc = await run(process.execPath, [path.join(PROJECT_DIR, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], {
            cwd: programDir,
        }).catch((error: { stdout: string; stderr: string }) => error);
        expect(tsc.stdout + tsc.stderr).toBe("");
    });

    it("`pulumi preview` with the engine tier's CLI plans the components and the objects they register", async () => {
        const init = await ws.pulumi(["--cwd", programDir, "stack", "init", STACK]);
        expect(init.code, init.stdout + init.stderr).toBe(0);
        const preview = await ws.pulumi(["--cwd", programDir, "preview", "--diff", "-s", STACK]);
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        expect(preview.stdout).toMatch(/\+ \d+ to create/);
        for (const type of [
            "dso-registry:accounts:RegistryAccounts",
            "dso-registry:accounts:RegistryTls",
            "dso-registry:nodeTrust:NodeTrustDaemonSet",
            "kubernetes:apps/v1:DaemonSet",
            "kubernetes:core/v1:ConfigMap",
            "dso-registry:jenkins:JenkinsCredentials",
            "pulumi-nodejs:dynamic/jenkins:Credential",
        ]) {
            expect(preview.stdout).toContain(type);
        }
    });
});
