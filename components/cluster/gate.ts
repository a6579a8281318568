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
 */
import * as pulumi from "@pulumi/pulumi";
import { type CheckResult, type ClusterAccess, checkOwnership, checkPrerequisites, type OwnershipResult } from "./kubectlCheck";
import { declaredObjectsOf, foreignObjectsMessage } from "./ownership";
import { missingPrerequisitesMessage, prerequisitesOf, type RegisteredObject } from "./prerequisites";

export interface ClusterGate {
    /** Checks the cluster for what the resources constructed so far need; releases them, or fails the run with one message. */
    check(access: ClusterAccess): Promise<void>;
}

/** Installs the gate; call before the program constructs its first resource. */
export function gateOnClusterPrerequisites(
    options: { readonly run?: typeof checkPrerequisites; readonly ownership?: typeof checkOwnership } = {},
): ClusterGate {
    const recorded: RegisteredObject[] = [];
    let release!: () => void;
    let refuse!: (error: Error) => void;
    const checked = new Promise<void>((resolve, reject) => {
        release = resolve;
        refuse = reject;
    });
    // Each resource gets its own derived promise; the refusal is one error object, reported once.
    checked.catch(() => undefined);
    pulumi.runtime.registerStackTransformation((args) => {
        if (args.type.startsWith("kubernetes:")) recorded.push({ type: args.type, props: args.props as Record<string, unknown> });
        const before = args.opts.dependsOn;
        const dependsOn = checked.then(() => before ?? []) as unknown as pulumi.Input<pulumi.Resource>;
        return { props: args.props, opts: { ...args.opts, dependsOn } };
    });
    return {
        async check(access) {
            let result: CheckResult;
            let owned: OwnershipResult;
            try {
                result = await (options.run ?? checkPrerequisites)(prerequisitesOf(recorded), access);
                owned = await (options.ownership ?? checkOwnership)(declaredObjectsOf(recorded), access);
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
            const context = { stack: pulumi.getStack() };
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
