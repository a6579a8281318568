/**
 * Holds every resource of the stack back until the cluster has been checked for what the stack needs
 * (prerequisites.ts): `preview` and `up` stop with one message listing each missing prerequisite, and
 * nothing has been created, changed or run by then (external hosts included).
 *
 * A stack transformation sees each resource as it is constructed (synchronously, with its plain
 * inputs): it records the Kubernetes ones, and makes each wait for the check through `dependsOn`,
 * which the SDK awaits before it registers the resource. The program constructs every resource
 * before `check` runs, so the check sees the whole stack. Why: docs/decisions/cluster-prerequisites.md
 *
 * The same check asks whether an object the stack declares already exists without this project's label
 * (ownership.ts): such an object stops the run too, before the create would take it over.
 * Why: docs/decisions/existing-objects.md
 *
 * A resource made through a Kubernetes provider of the program's own that names a kubeconfig context
 * (one per kind cluster with kind.clusterNames) is asked about in that context: each cluster's API server
 * answers for its own objects.
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckResult, type ClusterAccess, checkOwnership, checkPrerequisites, type OwnershipResult } from "./kubectlCheck";
import { declaredObjectsOf, foreignObjectsMessage } from "./ownership";
import {
    type IngressMessages,
    missingPrerequisitesMessage,
    type PrerequisiteOptions,
    prerequisitesOf,
    type RegisteredObject,
} from "./prerequisites";

export interface ClusterGate {
    /** Checks the cluster for what the resources constructed so far need; releases them, or fails the run with one message. */
    check(access: ClusterAccess): Promise<void>;
}

/** Installs the gate; call before the program constructs its first resource. */
export function gateOnClusterPrerequisites(
    options: {
        readonly run?: typeof checkPrerequisites;
        readonly ownership?: typeof checkOwnership;
        /** What the stack asks of the cluster beyond what every stack needs (prerequisites.ts). */
        readonly prerequisites?: PrerequisiteOptions;
        /** How the messages name the class of the stack's Ingresses (the in-cluster registry's when unset). */
        readonly ingress?: IngressMessages;
    } = {},
): ClusterGate {
    const recorded: RegisteredObject[] = [];
    /** The context of each Kubernetes provider constructed with one, and the objects made through each. */
    const providerContexts = new Map<pulumi.Resource, string>();
    const byContext = new Map<string | undefined, RegisteredObject[]>();
    let release!: () => void;
    let refuse!: (error: Error) => void;
    const checked = new Promise<void>((resolve, reject) => {
        release = resolve;
        refuse = reject;
    });
    // Each resource gets its own derived promise; the refusal is one error object, reported once.
    checked.catch(() => undefined);
    pulumi.runtime.registerStackTransformation((args) => {
        if (args.type === "pulumi:providers:kubernetes" && typeof args.props.context === "string") {
            providerContexts.set(args.resource, args.props.context);
        }
        if (args.type.startsWith("kubernetes:")) {
            const object = { type: args.type, props: args.props as Record<string, unknown> };
            recorded.push(object);
            const context = args.opts.provider ? providerContexts.get(args.opts.provider) : undefined;
            byContext.set(context, [...(byContext.get(context) ?? []), object]);
        }
        const before = args.opts.dependsOn;
        const dependsOn = checked.then(() => before ?? []) as unknown as pulumi.Input<pulumi.Resource>;
        return { props: args.props, opts: { ...args.opts, dependsOn } };
    });
    return {
        async check(access) {
            let result: CheckResult;
            let owned: OwnershipResult;
            try {
                // The stack's own context first (its objects, as before), then each provider's context; every
                // question at once, the answers merged in that order.
                const groups = [
                    [undefined, byContext.get(undefined) ?? []] as const,
                    ...[...byContext].filter(([context]) => context !== undefined),
                ];
                const [prerequisites, ...answers] = await Promise.all([
                    (options.run ?? checkPrerequisites)(prerequisitesOf(recorded, options.prerequisites), access, options.ingress),
                    ...groups.map(([context, objects]) =>
                        (options.ownership ?? checkOwnership)(
                            declaredObjectsOf(objects),
                            context === undefined ? access : { ...access, context },
                        ),
                    ),
                ]);
                result = prerequisites;
                owned = { foreign: [], unchecked: [] };
                answers.forEach((answer, i) => {
                    const context = groups[i]?.[0];
                    const foreign = context === undefined ? answer.foreign : answer.foreign.map((o) => ({ ...o, context }));
                    owned = { foreign: [...owned.foreign, ...foreign], unchecked: [...owned.unchecked, ...answer.unchecked] };
                });
            } catch (error) {
                refuse(error instanceof Error ? error : new Error(String(error)));
                throw error;
            }
            for (const reason of new Set([...result.unchecked, ...owned.unchecked])) {
                pulumi.log.warn(
                    `could not check the cluster for this stack's prerequisites (${reason}); the Kubernetes provider reports what is missing as it goes`,
                );
            }
            for (const note of result.notes) pulumi.log.warn(note);
            if (result.missing.length === 0 && owned.foreign.length === 0) {
                release();
                return;
            }
            const context = { stack: pulumi.getStack(), ...(options.ingress ? { ingress: options.ingress } : {}) };
            const messages = [
                ...(result.missing.length > 0 ? [missingPrerequisitesMessage(result.missing, context)] : []),
                ...(owned.foreign.length > 0 ? [foreignObjectsMessage(owned.foreign, context)] : []),
            ];
            const error = new pulumi.RunError(messages.join("\n\n"));
            refuse(error);
            throw error;
        },
    };
}
