/**
 * Node trust on one node, through the node's own shell: over SSH, with local commands when Pulumi runs
 * on the node, or through `docker exec` into a kind node container. The node's container runtime trusts
 * the registry's CA, resolves its host name, and (k3s / RKE2 with pull credentials) knows the pull-only
 * account. `planNodeTrust` decides the commands and files from the steps and scripts rendered in
 * files.ts; the component only registers them.
 */
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "../shared/formerType";
import {
    HOST_FILE_TYPE,
    type HostCommandArgs,
    type HostConnection,
    HostFile,
    type HostFileArgs,
    type HostTarget,
    hostCommand,
} from "../shared/hostAccess";
import { HostFilesCheck, type HostFilesCheckArgs } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
import { fileContent, type NodeTrustCommonArgs, nodeRunner, type ResolvedNodeTrust, resolveNodeTrust } from "./common";
import {
    checkFileStepBody,
    configPathCheckScript,
    configPathRemoveScript,
    dirCreateScript,
    dirRemoveScript,
    etcHostsScript,
    type FileStep,
    filesPlacedIn,
    ownerScript,
    placeFileStepBody,
    type TrustPlan,
    trustPlan,
    whileOwned,
} from "./files";
import { NodeFile, type NodeFileArgs } from "./nodeFile";
import type { RestartSpec } from "./restarts";

export interface NodeTrustArgs extends NodeTrustCommonArgs {
    /** How to reach the node (SSH, or local when Pulumi runs on it); for kind, its name is the node container's. */
    readonly connection: HostConnection;
    /** The node's Kubernetes name, for the Ready check after a restart (default: its host name in lower case). */
    readonly kubernetesNodeName?: string;
    /**
     * This node's turn in a rolling restart (k3s / RKE2): the restarting command waits for these
     * resources (earlier nodes' `restartStep`), and the turn is said in its script.
     */
    readonly restartTurn?: { readonly after: readonly pulumi.Resource[]; readonly turn: string };
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const NODE_TRUST_TYPE = typeToken("nodeTrust", "NodeTrust");

/** The name of the command that sets containerd's config_path on the node (and restarts containerd when allowed). */
export const configPathStepName = (name: string) => `${name}-config-path`;

/**
 * One resource `NodeTrust` registers: its name, its args, and the names of the resources (registered
 * before it, by this plan) it waits for; none when `dependsOn` is unset.
 */
export interface NodeTrustStep<K extends string, A> {
    readonly kind: K;
    readonly name: string;
    readonly args: A;
    readonly dependsOn?: readonly string[];
}

/** A file placed by a command of its own (`NodeFile`), with the alias that keeps an earlier HostFile's identity. */
export type NodeFileStep = NodeTrustStep<"node-file", NodeFileArgs> & {
    readonly aliases: readonly { readonly type: string }[];
};

/** A resource of `NodeTrust` after the owner claim: a command, a file placed whole, or a file with its own scripts. */
export type NodeTrustResource = NodeTrustStep<"command", HostCommandArgs> | NodeTrustStep<"host-file", HostFileArgs> | NodeFileStep;

/** The files read back at each refresh, as `HostFilesCheck` takes them. */
type CheckedFile = HostFilesCheckArgs["files"][number];

/** What `NodeTrust` registers, in this order: `planNodeTrust`. */
export interface NodeTrustPlan {
    /** The node entry's claim on the node: created first, deleted last. */
    readonly owner: NodeTrustStep<"command", HostCommandArgs>;
    /** The directories, files and commands of the trust steps, in the order of the steps. */
    readonly resources: readonly NodeTrustResource[];
    /** The read-back of every file; none when the steps place no file. */
    readonly filesCheck?: NodeTrustStep<"files-check", HostFilesCheckArgs>;
    /** The resource later nodes' restarts wait for (k3s / RKE2): this node's last restarting file, or the check that may repair it. */
    readonly restartStep?: string;
}

/**
 * Everything `NodeTrust` registers for one node, from its resolved args (`resolveNodeTrust`) and the
 * stack's `<project>.<stack>` (the owner's key): the claim on the node, one command or file per trust
 * step, the read-back of the files, and what each waits for.
 */
export function planNodeTrust(name: string, args: NodeTrustArgs & ResolvedNodeTrust, stack: string): NodeTrustPlan {
    const plan = trustPlan(args.flavour, args.target);
    const { connection } = args;
    const run = nodeRunner(args.flavour, connection);
    const restart = { ...args.restart, nodeName: args.kubernetesNodeName, turn: args.restartTurn?.turn };
    // The node entry claims the node first and gives it up last; every other delete runs only while the
    // claim is still this entry's (files.ts ownerScript): a renamed entry's old deletes come after the
    // new entry's creates, on the same machine.
    const guard = (body: string) => whileOwned(stack, name, body);
    const owner = {
        kind: "command",
        name: `${name}-owner`,
        args: { connection, create: run(ownerScript("claim", stack, name)), delete: run(ownerScript("release", stack, name)) },
    } as const;
    const context: StepContext = { name, args, plan, run, restart, guard, stack, owner: owner.name };

    let dir: string | undefined;
    const placed: string[] = [];
    /**
     * The files read back at each refresh (HostFilesCheck): those placed whole (HostFile), and the
     * registries.yaml the program merges its entries into, with its own placing command and check.
     */
    const checked: CheckedFile[] = [];
    let restartStep: string | undefined;
    const resources: NodeTrustResource[] = [];
    for (const step of plan.steps) {
        switch (step.kind) {
            case "dir":
                dir = `${name}-dir${step.id ? `-${step.id}` : ""}`;
                resources.push({
                    kind: "command",
                    name: dir,
                    args: {
                        connection,
                        create: run(dirCreateScript(step.path)),
                        delete: run(guard(dirRemoveScript(step.path, filesPlacedIn(plan, step.path)))),
                        triggers: [step.path],
                    },
                    dependsOn: [owner.name],
                });
                break;
            case "file": {
                const file = fileResource(context, step, dir ?? owner.name, placed);
                resources.push(file.resource);
                checked.push(...file.checked);
                placed.push(file.resource.name);
                if (file.restarts) restartStep = file.resource.name;
                break;
            }
            case "config-path": {
                const allow = args.allowContainerdRestart ?? false;
                resources.push({
                    kind: "command",
                    name: configPathStepName(name),
                    args: {
                        connection,
                        create: run(configPathCheckScript(step, allow)),
                        delete: run(guard(configPathRemoveScript(step, allow))),
                    },
                    dependsOn: [owner.name, ...placed],
                });
                break;
            }
            case "etc-hosts":
                resources.push({
                    kind: "command",
                    name: `${name}-etc-hosts`,
                    args: {
                        connection,
                        create: pulumi.output(args.registryAddress!).apply((address) => run(etcHostsScript(args.host, address))),
                        delete: run(guard(etcHostsScript(args.host, undefined))),
                        // The block's markers carry the host name: a new name is a new block.
                        triggers: [args.host],
                    },
                    dependsOn: [owner.name],
                });
                break;
        }
    }
    // Every file of the node's trust is read back by a refresh and put back by the next `up`, over SSH, on
    // this machine, or inside a kind node container (docs/decisions/drift-on-hosts.md): whole files by their
    // digest, the files the program merges its entries into (registries.yaml, a mirror's hosts.toml) by
    // their script's check mode; each is put back by the command that placed it, a restart or reload
    // included where that command makes one.
    const filesCheck =
        checked.length > 0
            ? ({ kind: "files-check", name: `${name}-files-check`, args: { connection, files: checked, run }, dependsOn: placed } as const)
            : undefined;
    // A repair of registries.yaml restarts the node's service: the next node's turn waits for it too.
    if (filesCheck && restartStep && checked.some((f) => f.check !== undefined)) restartStep = filesCheck.name;
    return { owner, resources, ...(filesCheck ? { filesCheck } : {}), ...(restartStep ? { restartStep } : {}) };
}

/** What every file step of one node shares. */
interface StepContext {
    readonly name: string;
    readonly args: NodeTrustArgs & ResolvedNodeTrust;
    readonly plan: TrustPlan;
    readonly run: (body: string) => string;
    readonly restart: RestartSpec;
    readonly guard: (body: string) => string;
    readonly stack: string;
    /** The owner claim's name. */
    readonly owner: string;
}

/**
 * A file step's resource: a file with scripts of its own (`NodeFile`), or one placed whole (`HostFile`);
 * what it waits for (the last directory, else the claim; a restart also every file placed before it), and
 * how the read-back checks it.
 */
function fileResource(
    { name, args, plan, run, restart, guard, stack }: StepContext,
    step: FileStep,
    after: string,
    placed: readonly string[],
): { resource: NodeTrustResource; checked: CheckedFile[]; restarts: boolean } {
    const { connection } = args;
    const content = fileContent(step, plan, args);
    const resourceName = `${name}-${step.id ?? step.role}`;
    // Files placed by scripts of their own: a merge into a shared file, a restart or reload after
    // a change, or any file inside a kind node container.
    const ownScript =
        step.mergeKey !== undefined || step.restartUnits.length > 0 || (step.reloadUnits?.length ?? 0) > 0 || args.flavour === "kind";
    if (!ownScript) {
        return {
            resource: {
                kind: "host-file",
                name: resourceName,
                args: {
                    connection,
                    path: step.path,
                    mode: step.mode,
                    content,
                    secret: step.secret,
                    replaceOnPathChange: true,
                    deletePrelude: ownerScript("check", stack, name),
                },
                dependsOn: [after],
            },
            checked: [{ path: step.path, mode: step.mode, content }],
            restarts: false,
        };
    }
    // A restart comes after every earlier file (the CA that registries.yaml names), so the service
    // reads them together, and after the nodes whose turn comes before this one's.
    const restarts = step.restartUnits.length > 0;
    // Earlier versions placed a mirror's hosts.toml whole, as a HostFile. The alias keeps it the same
    // resource, replaced delete first (its triggers changed): a new resource's create would be
    // undone by the old one's delete, which removes the file.
    const aliases = step.role === "mirror-hosts-toml" && args.flavour !== "kind" ? [{ type: HOST_FILE_TYPE }] : [];
    // Read back too, and put back with the file's own command: a merged file judged by its
    // script's check mode, a whole file (CRI-O's drop-in, a CA) by its digest.
    const check = checkFileStepBody(step, restart);
    const place = run(placeFileStepBody(step, restart));
    const checked: CheckedFile[] =
        check !== undefined
            ? [{ path: step.path, mode: step.mode, content, place, check: run(check) }]
            : step.mergeKey === undefined
              ? [{ path: step.path, mode: step.mode, content, place }]
              : [];
    return {
        resource: {
            kind: "node-file",
            name: resourceName,
            args: {
                connection,
                run,
                step,
                content,
                restart,
                after: restarts ? args.restartTurn?.after : undefined,
                guardDelete: guard,
            },
            dependsOn: restarts ? [after, ...placed] : [after],
            aliases,
        },
        checked,
        restarts,
    };
}

/** Node trust on one node, over SSH, with local commands, or inside a kind node container. */
export class NodeTrust extends pulumi.ComponentResource {
    /** The command after which this node's runtime has restarted and is Ready (k3s / RKE2), for later nodes to wait for. */
    readonly restartStep?: pulumi.Resource;

    constructor(name: string, given: NodeTrustArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget = { target: given.connection.name };
        super(NODE_TRUST_TYPE, name, target, withFormerType(opts, "dso:nodes:NodeTrust"));
        const plan = planNodeTrust(name, resolveNodeTrust(given), `${pulumi.getProject()}.${pulumi.getStack()}`);
        const registered = new Map<string, pulumi.Resource>();
        const after = (names: readonly string[] | undefined) => ({
            parent: this,
            ...(names ? { dependsOn: names.map((n) => registered.get(n)!) } : {}),
        });
        registered.set(plan.owner.name, hostCommand(plan.owner.name, plan.owner.args, { parent: this }));
        for (const step of plan.resources) {
            const options = after(step.dependsOn);
            switch (step.kind) {
                case "command":
                    registered.set(step.name, hostCommand(step.name, step.args, options));
                    break;
                case "host-file":
                    registered.set(step.name, new HostFile(step.name, step.args, options));
                    break;
                case "node-file": {
                    const file = new NodeFile(step.name, step.args, { ...options, aliases: [...step.aliases] });
                    registered.set(step.name, file);
                    // A restart's own command is what later nodes wait for, not the file component.
                    if (step.name === plan.restartStep) this.restartStep = file.command;
                    break;
                }
            }
        }
        if (plan.filesCheck) {
            const check = new HostFilesCheck(plan.filesCheck.name, plan.filesCheck.args, after(plan.filesCheck.dependsOn));
            if (plan.restartStep === plan.filesCheck.name) this.restartStep = check;
        }
        this.registerOutputs({});
    }
}
