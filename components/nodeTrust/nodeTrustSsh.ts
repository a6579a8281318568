/**
 * Node trust on one node over SSH (or with local commands when Pulumi runs on the node): the node's
 * container runtime trusts the registry's CA, resolves its host name, and (k3s / RKE2 with pull
 * credentials) knows the pull-only account. Runs the steps and scripts rendered in files.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "../shared/formerType";
import { type HostConnection, HostFile, type HostFileSpec, type HostTarget, hostCommand } from "../shared/hostAccess";
import { HostFilesCheck } from "../shared/hostFilesCheck";
import { fileContent, type NodeTrustCommonArgs, nodeRunner, nodeTrustDefaults, restartSettingsOf, trustTargetOf } from "./common";
import {
    checkFileStepBody,
    configPathCheckScript,
    configPathRemoveScript,
    dirCreateScript,
    dirRemoveScript,
    etcHostsScript,
    filesPlacedIn,
    ownerScript,
    placeFileStepBody,
    trustPlan,
    whileOwned,
} from "./files";
import { NodeFile } from "./nodeFile";

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

/** Type token of the shared file placer (components/shared/hostAccess.ts). */
const HOST_FILE_TYPE = "dso-registry:shared:HostFile";

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const NODE_TRUST_TYPE = "dso-registry:nodeTrust:NodeTrust";

/** The name of the command that sets containerd's config_path on the node (and restarts containerd when allowed). */
export const configPathStepName = (name: string) => `${name}-config-path`;

/** Node trust on one node, over SSH or with local commands. */
export class NodeTrust extends pulumi.ComponentResource {
    /** The command after which this node's runtime has restarted and is Ready (k3s / RKE2), for later nodes to wait for. */
    readonly restartStep?: pulumi.Resource;

    constructor(name: string, given: NodeTrustArgs, opts?: pulumi.ComponentResourceOptions) {
        const target: HostTarget = { target: given.connection.name };
        super(NODE_TRUST_TYPE, name, target, withFormerType(opts, "dso:nodes:NodeTrust"));
        const args = nodeTrustDefaults(given);
        const plan = trustPlan(args.flavour, trustTargetOf(args));
        const connection = args.connection;
        const run = nodeRunner(args.flavour, connection);
        const restart = restartSettingsOf(args, { nodeName: args.kubernetesNodeName, turn: args.restartTurn?.turn });

        // The node entry claims the node first and gives it up last; every other delete runs only while the
        // claim is still this entry's (files.ts ownerScript): a renamed entry's old deletes come after the
        // new entry's creates, on the same machine.
        const stack = `${pulumi.getProject()}.${pulumi.getStack()}`;
        const guard = (body: string) => whileOwned(stack, name, body);
        const claim = hostCommand(
            `${name}-owner`,
            { connection, create: run(ownerScript("claim", stack, name)), delete: run(ownerScript("release", stack, name)) },
            { parent: this },
        );

        let dir: pulumi.Resource | undefined;
        const placed: pulumi.Resource[] = [];
        /**
         * The files read back at each refresh (HostFilesCheck): those placed whole (HostFile), and the
         * registries.yaml the program merges its entries into, with its own placing command and check.
         */
        const checked: (HostFileSpec & { content: pulumi.Input<string>; place?: string; check?: string })[] = [];
        for (const step of plan.steps) {
            const after = { parent: this, dependsOn: dir ? [dir] : [claim] };
            switch (step.kind) {
                case "dir":
                    dir = hostCommand(
                        `${name}-dir${step.id ? `-${step.id}` : ""}`,
                        {
                            connection,
                            create: run(dirCreateScript(step.path)),
                            delete: run(guard(dirRemoveScript(step.path, filesPlacedIn(plan, step.path)))),
                            triggers: [step.path],
                        },
                        { parent: this, dependsOn: [claim] },
                    );
                    break;
                case "file": {
                    const content = fileContent(step, plan, args);
                    // Files placed by scripts of their own: a merge into a shared file, a restart or reload after
                    // a change, or any file inside a kind node container.
                    const ownScript =
                        step.mergeKey !== undefined ||
                        step.restartUnits.length > 0 ||
                        (step.reloadUnits?.length ?? 0) > 0 ||
                        args.flavour === "kind";
                    if (ownScript) {
                        // A restart comes after every earlier file (the CA that registries.yaml names), so the service
                        // reads them together, and after the nodes whose turn comes before this one's.
                        const restarts = step.restartUnits.length > 0;
                        const dependsOn = restarts ? [...after.dependsOn, ...placed] : after.dependsOn;
                        // Earlier versions placed a mirror's hosts.toml whole, as a HostFile. The alias keeps it the same
                        // resource, replaced delete first (its triggers changed): a new resource's create would be
                        // undone by the old one's delete, which removes the file.
                        const aliases = step.role === "mirror-hosts-toml" && args.flavour !== "kind" ? [{ type: HOST_FILE_TYPE }] : [];
                        const file = new NodeFile(
                            `${name}-${step.id ?? step.role}`,
                            {
                                connection,
                                run,
                                step,
                                content,
                                restart,
                                after: restarts ? args.restartTurn?.after : undefined,
                                guardDelete: guard,
                            },
                            { ...after, dependsOn, aliases },
                        );
                        if (restarts) this.restartStep = file.command;
                        placed.push(file);
                        // Read back too, and put back with the file's own command: a merged file judged by its
                        // script's check mode, a whole file (CRI-O's drop-in, a CA) by its digest.
                        const check = checkFileStepBody(step, restart);
                        const place = run(placeFileStepBody(step, restart));
                        if (check !== undefined) checked.push({ path: step.path, mode: step.mode, content, place, check: run(check) });
                        else if (step.mergeKey === undefined) checked.push({ path: step.path, mode: step.mode, content, place });
                    } else {
                        checked.push({ path: step.path, mode: step.mode, content });
                        placed.push(
                            new HostFile(
                                `${name}-${step.id ?? step.role}`,
                                {
                                    connection,
                                    path: step.path,
                                    mode: step.mode,
                                    content,
                                    secret: step.secret,
                                    replaceOnPathChange: true,
                                    deletePrelude: ownerScript("check", stack, name),
                                },
                                after,
                            ),
                        );
                    }
                    break;
                }
                case "config-path": {
                    const allow = args.allowContainerdRestart ?? false;
                    hostCommand(
                        configPathStepName(name),
                        {
                            connection,
                            create: run(configPathCheckScript(step, allow)),
                            delete: run(guard(configPathRemoveScript(step, allow))),
                        },
                        { parent: this, dependsOn: [claim, ...placed] },
                    );
                    break;
                }
                case "etc-hosts":
                    hostCommand(
                        `${name}-etc-hosts`,
                        {
                            connection,
                            create: pulumi.output(args.registryAddress!).apply((address) => run(etcHostsScript(args.host, address))),
                            delete: run(guard(etcHostsScript(args.host, undefined))),
                            // The block's markers carry the host name: a new name is a new block.
                            triggers: [args.host],
                        },
                        { parent: this, dependsOn: [claim] },
                    );
                    break;
            }
        }
        // Every file of the node's trust is read back by a refresh and put back by the next `up`, over SSH, on
        // this machine, or inside a kind node container (docs/decisions/drift-on-hosts.md): whole files by their
        // digest, the files the program merges its entries into (registries.yaml, a mirror's hosts.toml) by
        // their script's check mode; each is put back by the command that placed it, a restart or reload
        // included where that command makes one.
        if (checked.length > 0) {
            const check = new HostFilesCheck(
                `${name}-files-check`,
                { connection, files: checked, run },
                { parent: this, dependsOn: placed },
            );
            // A repair of registries.yaml restarts the node's service: the next node's turn waits for it too.
            if (this.restartStep && checked.some((f) => f.check !== undefined)) this.restartStep = check;
        }
        this.registerOutputs({});
    }
}
