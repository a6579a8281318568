/**
 * The package as another program installs it (docs/library.md): `npm pack` (its `prepack` builds dist/
 * with tsconfig.build.json) gives a tarball of JavaScript, declarations and the scripts the components
 * read; a program of its own, in a folder with its own package.json, Pulumi.yaml and tsconfig.json,
 * installs it with `npm install <tarball>` and imports the components by the package's name.
 *
 * npm resolves the install for real, from the npm registry (a cache of the project's outside the checkout
 * keeps warm runs short). The program pins its own @pulumi/pulumi, the lowest the package's peer range
 * accepts and not the release this project runs on, as a program on another 3.x has it; the providers at
 * the versions of the engine set's plugins; TypeScript and Node's types as `pulumi new typescript` does.
 * The package's SDK and providers are peer dependencies, so the program's tree holds one copy of
 * @pulumi/pulumi, the program's: a second copy would break the identity of resources and outputs between
 * the program and the components.
 *
 * The program places the registry in the cluster, with a CA and a push account it generates, every node
 * trusting that CA through the DaemonSet, and the push account in Jenkins (a dynamic resource, whose
 * provider the engine runs from code serialized out of the installed package). It type-checks with
 * `tsc --noEmit`, and the engine tier's CLI runs it against a node whose pods really run
 * (test/support/kubeNode.ts) and the fake Jenkins: `up`, a second `up` that plans nothing, `destroy`.
 * The language host (tools/engine/language-nodejs, ours) reads the plugins the program needs from the
 * program folder's own node_modules and runs the SDK's runner that resolves from there: the program's copy.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import semver from "semver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataFiles } from "../../tools/buildPackage";
import { projectCacheDir } from "../support/cachedInstall";
import { busyboxImage, pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import { provideVolumes } from "../support/kubeControlPlane";
import { type RealCluster, startRealCluster } from "../support/kubeNode";
import { openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";

const run = promisify(execFile);
const STACK = "dev";
const PACKAGE = "dso-registry";
const PROGRAM_PROJECT = "registry-package-consumer";
const HOST = "registry.lab.example";
const NAMESPACE = "registry";
const TRUST_NAMESPACE = "registry-node-trust";
const PUSH_USER = "ci-push";
const JENKINS_USER = "pulumi";
const CREDENTIAL_ID = "registry-push";
/** Where the node's containerd reads registry hosts (the real node's default), so where the DaemonSet writes them. */
const CERTS_D = "/etc/containerd/certs.d";
/** The node's directory of the static volume the registry's claim binds to. */
const VOLUMES = "/srv/test-volumes";
const jenkinsToken = `token-${randomBytes(12).toString("hex")}`;

const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const projectPackage = readJson(path.join(PROJECT_DIR, "package.json")) as { peerDependencies?: Record<string, string> };
/** The version of `name` this project has installed (its lock file's). */
const projectVersion = (name: string): string => readJson(path.join(PROJECT_DIR, "node_modules", name, "package.json")).version;

/** The SDK the program pins: the lowest release the package's peer range accepts. */
const PROGRAM_SDK = semver.minVersion(projectPackage.peerDependencies?.["@pulumi/pulumi"] ?? "")?.version ?? "";
/** The providers at this project's versions: the engine set holds their plugins at those versions, and no other. */
const PROVIDERS = ["@pulumi/kubernetes", "@pulumi/command", "@pulumi/random", "@pulumi/tls"];

const PROGRAM = `import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    InClusterRegistry,
    JenkinsCredentials,
    NodeTrustDaemonSet,
    type NodeTrustDaemonSetArgs,
    planJenkinsCredentials,
    RegistryAccounts,
    RegistryTls,
} from "${PACKAGE}";

const config = new pulumi.Config();
const host = config.require("host");

const accounts = new RegistryAccounts("registry-accounts", { push: { username: "${PUSH_USER}" } });
const tls = new RegistryTls("registry-tls", { dnsNames: [host] });
const registry = new InClusterRegistry("registry", {
    host,
    namespace: "${NAMESPACE}",
    accounts,
    tls: { kind: "secret", certPem: tls.serverCertPem, keyPem: tls.serverKeyPem },
});

const trustNamespace = new k8s.core.v1.Namespace("node-trust-namespace", {
    metadata: { name: "${TRUST_NAMESPACE}", labels: { "pod-security.kubernetes.io/enforce": "privileged" } },
});
// The nodes reach the registry at its TLS Service's address: the name goes into their /etc/hosts.
const trustArgs: NodeTrustDaemonSetArgs = {
    namespace: trustNamespace.metadata.name,
    host,
    flavour: "containerd",
    caCertPem: tls.caCertPem,
    registryAddress: registry.tlsServiceClusterIp,
};
const trust = new NodeTrustDaemonSet("node-trust", trustArgs, { dependsOn: [registry.deployment] });

new JenkinsCredentials("jenkins", {
    url: config.require("jenkinsUrl"),
    user: "${JENKINS_USER}",
    auth: "token",
    secret: config.requireSecret("jenkinsToken"),
    timeoutSeconds: 30,
    usernameSecret: false,
    credentials: planJenkinsCredentials({
        container: { credentialId: "${CREDENTIAL_ID}", authority: host, username: accounts.push.username, password: accounts.push.password },
    }),
});

export const caCertPem = tls.caCertPem;
export const registryDeployment = registry.deployment.metadata.name;
export const nodeTrustDaemonSet = trust.daemonSet.metadata.name;
export const pushPassword = accounts.push.password;
// The SDK the program runs on, and whether the package's components are resources of that very copy.
export const sdkVersion: string = require("@pulumi/pulumi/package.json").version;
export const componentsOfProgramSdk = Object.getPrototypeOf(InClusterRegistry) === pulumi.ComponentResource;
`;

/** The program's files but its package.json. */
const PROGRAM_FILES: Record<string, string> = {
    "Pulumi.yaml": `name: ${PROGRAM_PROJECT}\nruntime:\n    name: nodejs\n    options:\n        typescript: true\n`,
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
};

/** The program's package.json before the package is installed: what it pins of its own. */
const programPackage = () => ({
    name: PROGRAM_PROJECT,
    private: true,
    dependencies: {
        "@pulumi/pulumi": PROGRAM_SDK,
        ...Object.fromEntries(PROVIDERS.map((name) => [name, projectVersion(name)])),
    },
    devDependencies: { typescript: projectVersion("typescript"), "@types/node": projectVersion("@types/node") },
});

/**
 * npm's environment for the program's install: this process's, without the `npm_*` variables of the
 * `npm run` that started the tests (npm reads them as its config: the project's, not the program's).
 */
const npmEnv = (): NodeJS.ProcessEnv =>
    Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));

interface PackResult {
    readonly filename: string;
    readonly files: readonly { readonly path: string }[];
}

interface NpmTree {
    readonly version?: string;
    readonly dependencies?: Record<string, NpmTree>;
}

let cluster: RealCluster;
let jenkins: FakeJenkins;
let ws: Workspace;
let packed: PackResult;
let programDir: string;
let tarball: string;

const inProgram = (args: readonly string[]) => ws.pulumi(["--cwd", programDir, ...args, "-s", STACK], { timeoutMs: 15 * 60_000 });
const failure = (r: { stdout: string; stderr: string }) => `${r.stdout.slice(-10_000)}${r.stderr}\n${cluster.logs(15)}`;
/** npm in the program's folder; resolves with its exit code and output, whatever the code. */
const npm = (args: readonly string[]) =>
    run("npm", [...args], { cwd: programDir, env: npmEnv(), maxBuffer: 64 * 1024 * 1024 }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { stdout: string; stderr: string; code: number }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

beforeAll(async () => {
    // The pods the program makes: the registry's (Distribution, the Caddy sidecar) and the node trust's (busybox).
    cluster = await startRealCluster({ images: (t) => [registryImage(t), pinnedCaddyImage(t), busyboxImage(t)] });
    await provideVolumes(cluster.kube, 1, "500Gi", VOLUMES);
    const made = cluster.node.run("sh", ["-c", `mkdir -p ${VOLUMES}/test-volume-0 && chmod 0777 ${VOLUMES}/test-volume-0`]);
    if (made.code !== 0) throw new Error(`the volume's directory: ${made.stderr}`);
    jenkins = await startFakeJenkins({ user: JENKINS_USER, apiToken: jenkinsToken });
    ws = openWorkspace({ env: { KUBECONFIG: cluster.kube.kubeconfig }, typeCheck: true });

    const packDir = path.join(ws.dir, "pack");
    mkdirSync(packDir);
    const pack = await run("npm", ["pack", "--json", "--pack-destination", packDir], { cwd: PROJECT_DIR, maxBuffer: 16 * 1024 * 1024 });
    packed = (JSON.parse(pack.stdout) as PackResult[])[0] as PackResult;
    tarball = path.join(packDir, packed.filename);

    programDir = path.join(ws.dir, "consumer");
    mkdirSync(programDir);
    writeFileSync(path.join(programDir, "package.json"), `${JSON.stringify(programPackage(), null, 4)}\n`);
    for (const [file, text] of Object.entries(PROGRAM_FILES)) writeFileSync(path.join(programDir, file), text);
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await jenkins?.close();
    await cluster?.stop();
});

describe("the package, packed and installed by npm in a program of its own", () => {
    it("the tarball holds the compiled surface, its declarations and every script beside them; no TypeScript source, no test", () => {
        const paths = packed.files.map((f) => f.path);
        expect(paths).toEqual(expect.arrayContaining(["package.json", "dist/index.js", "dist/index.d.ts"]));
        expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
        expect(paths.filter((p) => !p.startsWith("dist/") && !["package.json", "README.md", "docs/library.md"].includes(p))).toEqual([]);
        expect(paths.filter((p) => /test|\.map$/.test(p))).toEqual([]);
        const missing = dataFiles(path.join(PROJECT_DIR, "components")).filter((file) => !paths.includes(`dist/${file}`));
        expect(missing).toEqual([]);
    });

    it(`\`npm install <tarball>\` beside the program's own @pulumi/pulumi (${PROGRAM_SDK}, not ${projectVersion("@pulumi/pulumi")}) leaves one copy of the SDK`, async () => {
        expect(PROGRAM_SDK, "package.json's peerDependencies name @pulumi/pulumi").not.toBe("");
        expect(PROGRAM_SDK).not.toBe(projectVersion("@pulumi/pulumi"));
        // The providers' install scripts would fetch their plugins; the engine tier brings its own.
        const install = await npm([
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefer-offline",
            "--cache",
            projectCacheDir("npm"),
            tarball,
        ]);
        expect(install.code, install.stdout + install.stderr).toBe(0);
        expect(readJson(path.join(programDir, "package.json")).dependencies[PACKAGE]).toMatch(/^file:/);

        const listed = await npm(["ls", "@pulumi/pulumi", "--all", "--json"]);
        expect(listed.code, listed.stdout + listed.stderr).toBe(0);
        const versions = new Set<string>();
        const walk = (tree: NpmTree) => {
            for (const [name, child] of Object.entries(tree.dependencies ?? {})) {
                if (name === "@pulumi/pulumi" && child.version) versions.add(child.version);
                walk(child);
            }
        };
        walk(JSON.parse(listed.stdout) as NpmTree);
        expect([...versions]).toEqual([PROGRAM_SDK]);
        expect(existsSync(path.join(programDir, "node_modules", PACKAGE, "node_modules/@pulumi/pulumi"))).toBe(false);
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

    it("the program type-checks against the package's declarations with its own TypeScript (`tsc --noEmit`)", async () => {
        const tsc = await run(process.execPath, [path.join(programDir, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", "."], {
            cwd: programDir,
        }).catch((error: { stdout: string; stderr: string }) => error);
        expect(tsc.stdout + tsc.stderr).toBe("");
    });

    it(
        "`pulumi up` places the registry and the nodes' trust on the real node and the push account in Jenkins",
        async () => {
            await ws.pulumiOk(["--cwd", programDir, "stack", "init", STACK]);
            await ws.pulumiOk(["--cwd", programDir, "config", "set", "host", HOST, "-s", STACK]);
            await ws.pulumiOk(["--cwd", programDir, "config", "set", "jenkinsUrl", jenkins.url, "-s", STACK]);
            await ws.pulumiOk(["--cwd", programDir, "config", "set", "--secret", "jenkinsToken", "-s", STACK], { input: jenkinsToken });
            const up = await inProgram(["up", "--yes"]);
            expect(up.code, failure(up)).toBe(0);

            const deployment = await cluster.kube.get<{ status: { availableReplicas?: number } }>(
                `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/registry`,
            );
            expect(deployment?.status.availableReplicas).toBe(1);
            const daemonSet = await cluster.kube.get<{ status: { numberReady: number } }>(
                `/apis/apps/v1/namespaces/${TRUST_NAMESPACE}/daemonsets/dso-node-trust`,
            );
            expect(daemonSet?.status.numberReady).toBe(1);

            const outputs = JSON.parse((await inProgram(["stack", "output", "--json", "--show-secrets"])).stdout) as Record<
                string,
                unknown
            >;
            expect(outputs).toMatchObject({
                registryDeployment: "registry",
                nodeTrustDaemonSet: "dso-node-trust",
                sdkVersion: PROGRAM_SDK,
                componentsOfProgramSdk: true,
            });
            expect(jenkins.credentials.get(CREDENTIAL_ID)?.fields).toMatchObject({ username: PUSH_USER, password: outputs.pushPassword });
        },
        20 * 60_000,
    );

    it("the node trusts the CA the program generated and reaches the registry by its name: anonymous asks are challenged, the push account's answered", async () => {
        const outputs = JSON.parse((await inProgram(["stack", "output", "--json", "--show-secrets"])).stdout) as Record<string, string>;
        expect(cluster.node.readFile(`${CERTS_D}/${HOST}/hosts.toml`)).toContain(`https://${HOST}`);
        expect(cluster.node.readFile(`${CERTS_D}/${HOST}/ca.crt`)?.trim()).toBe(outputs.caCertPem?.trim());
        expect(cluster.node.readFile("/etc/hosts")).toContain(HOST);
        // The node's curl, with the CA the DaemonSet placed; the account from curl's config on stdin, never its command line.
        const ask = (account?: string) =>
            cluster.node.run(
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
                    `${CERTS_D}/${HOST}/ca.crt`,
                    "-K",
                    "-",
                    `https://${HOST}/v2/`,
                ],
                { input: account ? `user = "${account}"\n` : "" },
            );
        const anonymous = ask();
        expect(anonymous.stdout, anonymous.stderr).toBe("401");
        const push = ask(`${PUSH_USER}:${outputs.pushPassword}`);
        expect(push.stdout, push.stderr).toBe("200");
    });

    it("a second `up` plans nothing", async () => {
        const again = await inProgram(["up", "--yes", "--expect-no-changes"]);
        expect(again.code, failure(again)).toBe(0);
    });

    it("`destroy` removes the registry's workloads, the DaemonSet and the Jenkins credential", async () => {
        const destroy = await inProgram(["destroy", "--yes"]);
        expect(destroy.code, failure(destroy)).toBe(0);
        expect(await cluster.kube.get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/registry`)).toBeUndefined();
        expect(await cluster.kube.get(`/apis/apps/v1/namespaces/${TRUST_NAMESPACE}/daemonsets/dso-node-trust`)).toBeUndefined();
        expect(jenkins.credentials.has(CREDENTIAL_ID)).toBe(false);
    });
});
