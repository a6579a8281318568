/**
 * Components whose type token changed: `pulumi up` must find their state under the former URN and move
 * it, and their children's with it, instead of deleting live resources (Secrets, PVCs, files on hosts)
 * and creating them anew. docs/architecture.md, "Resource identity", says how tokens are formed and
 * when an alias may go.
 */
import type * as pulumi from "@pulumi/pulumi";

/**
 * A component's options plus an alias from each of its former type tokens (oldest last); aliases the caller
 * gives are kept.
 */
export function withFormerType(
    opts: pulumi.ComponentResourceOptions | undefined,
    ...formerTypes: readonly string[]
): pulumi.ComponentResourceOptions {
    return { ...opts, aliases: [...(opts?.aliases ?? []), ...formerTypes.map((type) => ({ type }))] };
}

/**
 * The URN a resource had under its former type token (its parents' unchanged), for the alias of a
 * resource that used to be its child directly.
 */
export function urnWithFormerType(
    resource: pulumi.Resource,
    formerType: string,
    options: { readonly formerlyTopLevel?: boolean } = {},
): pulumi.Output<string> {
    return resource.urn.apply((urn) => {
        const [head, project, qualifiedType, ...name] = urn.split("::");
        // `formerlyTopLevel`: the resource has since moved under a parent (a component that groups it).
        const types = options.formerlyTopLevel ? [formerType] : qualifiedType!.split("$");
        types[types.length - 1] = formerType;
        return [head, project, types.join("$"), ...name].join("::");
    });
}
