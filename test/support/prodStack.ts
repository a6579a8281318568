/**
 * The `prod` stack set up for the engine tier the way an operator sets it up: a workspace with the
 * committed stack file, a real API server with the namespaces the stack expects (jenkins, flux-system),
 * the fake Jenkins over HTTPS (a CA made at test time), the machines of test/support/prodHosts.ts, then
 * `pulumi stack init`, the placeholders replaced with the machines' addresses and keys, Jenkins's URL
 * and CA, and every secret on stdin (the SSH keys from files), none on a command line.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { PROJECT } from "../../components/shared/facts";
import { type FakeJenkins, startFakeJenkins } from "./fakeJenkins";
import { type ControlPlane, namespace, startControlPlane } from "./kubeControlPlane";
import { type ProdHosts, type ProdHostsOptions, type ProdNode, startProdHosts } from "./prodHosts";
import { openWorkspace, type Workspace } from "./pulumiEngine";
import { makeTestCa } from "./realRegistry";
import { type SftpTarget, startSftpTarget } from "./sftpTarget";

export const PROD_STACK = "prod";

/** The committed stack's nodes, each with the k3s unit its role runs. */
export const PROD_NODES: ReadonlyArray<{ readonly name: string; readonly unit: ProdNode["unit"] }> = [
    { name: "k3s-server-1", unit: "k3s" },
    { name: "k3s-agent-1", unit: "k3s-agent" },
    { name: "k3s-agent-2", unit: "k3s-agent" },
];

export interface ProdStackOptions {
    /** The machines' nodes (default PROD_NODES). */
    readonly nodes?: ReadonlyArray<{ readonly name: string; readonly unit: ProdNode["unit"] }>;
    /** Further names the registry host answers for. */
    readonly siteNames?: readonly string[];
    readonly hosts?: ProdHostsOptions;
    /** Further API tokens the Jenkins user holds (a token rotated). */
    readonly moreApiTokens?: readonly string[];
    /** Further environment for every command of the workspace (e.g. FINAL_STATE_ONLY). */
    readonly env?: Readonly<Record<string, string>>;
}

export interface ProdStack {
    readonly ws: Workspace;
    readonly kube: ControlPlane;
    readonly jenkins: FakeJenkins;
    readonly jenkinsCaPem: string;
    readonly hosts: ProdHosts;
    /** The operator's secrets, as set. */
    readonly secrets: {
        readonly containerRegistryPassword: string;
        readonly mavenRegistryPassword: string;
        readonly jenkinsApiToken: string;
        readonly backupRepositoryPassword: string;
    };
    /** `pulumi config set --path dso-registry:<key> <value>` on the stack. */
    config(key: string, value: string): Promise<void>;
    /** `pulumi config set --secret dso-registry:<key>` with the value on stdin. */
    secret(key: string, value: string): Promise<void>;
    stop(): Promise<void>;
}

export async function startProdStack(options: ProdStackOptions = {}): Promise<ProdStack> {
    const secrets = {
        containerRegistryPassword: `push-${randomBytes(12).toString("hex")}`,
        mavenRegistryPassword: `deploy-${randomBytes(12).toString("hex")}`,
        jenkinsApiToken: `token-${randomBytes(12).toString("hex")}`,
        backupRepositoryPassword: `restic-${randomBytes(12).toString("hex")}`,
    };
    const kube = startControlPlane();
    let ws: Workspace | undefined;
    let jenkins: FakeJenkins | undefined;
    let hosts: ProdHosts | undefined;
    const stop = async () => {
        await hosts?.stop();
        ws?.close();
        await jenkins?.close();
        kube.stop();
    };
    try {
        const workspace = openWorkspace({ stackFiles: [PROD_STACK], env: { ...options.env, KUBECONFIG: kube.kubeconfig } });
        ws = workspace;
        for (const ns of ["jenkins", "flux-system"]) await kube.create("/api/v1/namespaces", namespace(ns));
        const jenkinsCa = makeTestCa(path.join(workspace.dir, "jenkins-ca"));
        jenkins = await startFakeJenkins({
            user: "pulumi",
            apiToken: secrets.jenkinsApiToken,
            moreApiTokens: options.moreApiTokens,
            tls: { key: readFileSync(jenkinsCa.serverKeyFile, "utf8"), cert: readFileSync(jenkinsCa.serverCertFile, "utf8") },
        });
        const machines = await startProdHosts(workspace.dir, options.nodes ?? PROD_NODES, options.siteNames ?? [], options.hosts ?? {});
        hosts = machines;

        const config = async (key: string, value: string) => {
            await workspace.pulumiOk(["config", "set", "--path", `${PROJECT}:${key}`, value, "-s", PROD_STACK]);
        };
        const secret = async (key: string, value: string) => {
            await workspace.pulumiOk(["config", "set", "--secret", `${PROJECT}:${key}`, "-s", PROD_STACK], { input: value });
        };
        await workspace.pulumiOk(["stack", "init", PROD_STACK]);
        for (const [key, value] of machines.settings) await config(key, value);
        await config("jenkins.url", jenkins.url);
        await workspace.pulumiOk(["config", "set", "--path", `${PROJECT}:jenkins.caCertificate`, "-s", PROD_STACK], {
            input: jenkinsCa.caCertPem,
        });
        for (const [key, value] of Object.entries(secrets)) await secret(key, value);
        // The SSH keys as the README has them set: from the key files.
        for (const [key, file] of [
            ["sshPrivateKey", machines.clientKeyFile],
            ["backupSshPrivateKey", machines.backupKeyFile],
        ] as const) {
            const r = await workspace.shell(`npx pulumi config set --secret ${PROJECT}:${key} -s ${PROD_STACK} < ${file}`);
            if (r.code !== 0) throw new Error(r.stderr);
        }
        return { ws: workspace, kube, jenkins, jenkinsCaPem: jenkinsCa.caCertPem, hosts: machines, secrets, config, secret, stop };
    } catch (error) {
        await stop();
        throw error;
    }
}

/**
 * The backup machine: an SFTP-only OpenSSH server on this machine's end of the registry host's link, set as
 * the stack's backup destination (its address, port, user, path and pinned host key, and the client key as
 * the secret backupSshPrivateKey). The caller stops it.
 */
export async function startBackupTarget(stack: ProdStack): Promise<SftpTarget> {
    const target = await startSftpTarget(stack.hosts.registryHost.hostAddress);
    for (const [key, value] of [
        ["host", target.host],
        ["port", String(target.port)],
        ["user", target.user],
        ["path", `${target.dir}/dso-registry`],
        ["hostKey", target.hostKey],
    ] as const)
        await stack.config(`registry.maintenance.backup.destination.${key}`, value);
    await stack.secret("backupSshPrivateKey", target.privateKey);
    return target;
}
