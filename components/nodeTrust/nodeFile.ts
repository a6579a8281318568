/**
 * One node-trust file that the shared HostFile cannot place: a file whose change restarts a service
 * (k3s / RKE2 registries.yaml), or any file inside a kind node container (through `docker exec`).
 * Like HostFile it registers the host, path and mode as its inputs, and its command carries the
 * content on stdin.
 */
import * as pulumi from "@pulumi/pulumi";
import { urnWithFormerType, withFormerType } from "../shared/formerType";
import { type HostConnection, hostCommand, type PlacedFile } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import { type FileStep, placeFileStepBody, removeFileStepBody } from "./files";
import type { RestartSpec } from "./restarts";

export interface NodeFileArgs {
    /** How to reach the node. */
    readonly connection: HostConnection;
    /** Wraps a root script so that it runs where the file lives (sudo, or `docker exec` for kind). */
    readonly run: (body: string) => string;
    /** The file step of the trust plan. */
    readonly step: FileStep;
    /** The file's content; travels on stdin, secret where the step is. */
    readonly content: pulumi.Input<string>;
    /** Whether and how the step's units restart after the file changed (its turn in a rolling restart). */
    readonly restart: RestartSpec;
    /** Resources the command waits for (a rolling restart's earlier nodes, the files it names). */
    readonly after?: readonly pulumi.Resource[];
    /** Turns the removal's body into the script that runs (node trust: only while the node is this entry's). */
    readonly guardDelete?: (body: string) => string;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const NODE_FILE_TYPE = typeToken("nodeTrust", "NodeFile");

/** A node-trust file placed by its own scripts: written when its content changes, removed on destroy. */
export class NodeFile extends pulumi.ComponentResource {
    /** The command that places the file (and restarts): what a later node's restart waits for. */
    readonly command: pulumi.Resource;

    constructor(name: string, args: NodeFileArgs, opts?: pulumi.ComponentResourceOptions) {
        const placed: PlacedFile = { target: args.connection.name, path: args.step.path, mode: args.step.mode };
        super(NODE_FILE_TYPE, name, placed, withFormerType(opts, "dso:nodes:NodeFile"));
        const { step, run } = args;
        this.command = hostCommand(
            `${name}-write`,
            {
                connection: args.connection,
                create: run(placeFileStepBody(step, args.restart)),
                delete: run((args.guardDelete ?? ((body: string) => body))(removeFileStepBody(step, args.restart))),
                stdin: args.content,
                sensitiveOutput: step.secret,
                // The path (certs.d/<host> in a kind node, the CA named after the host), or the key of the
                // program's entries in a shared file (registries.yaml), follows the registry's host name.
                triggers: [step.path, step.mergeKey ?? ""],
            },
            // Earlier versions made this command a direct child of NodeTrust (then of type dso:nodes:NodeTrust,
            // and a resource of the stack itself before NodeTrustFleet grouped the nodes), named like this
            // component: the aliases keep it the same resource, so updating does not run its delete (which
            // removes the file).
            {
                parent: this,
                aliases: opts?.parent
                    ? [
                          { name, parent: urnWithFormerType(opts.parent, "dso:nodes:NodeTrust") },
                          { name, parent: urnWithFormerType(opts.parent, "dso:nodes:NodeTrust", { formerlyTopLevel: true }) },
                      ]
                    : [{ name, parent: undefined }],
                dependsOn: [...(args.after ?? [])],
            },
        );
        this.registerOutputs({});
    }
}
