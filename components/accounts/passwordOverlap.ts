/**
 * Rotation with an overlap: a generated password's previous value stays valid on every front for
 * `containerRegistry.rotationOverlapHours` after the `up` that replaced it, so a pipeline that read the
 * credential before the `up` still pushes, and its retries never count toward a ban. The random
 * provider forgets a replaced password; this dynamic resource, updated with each new one, keeps what
 * the fronts need of the old one (its bcrypt hash and a short prefix, never the password) and when the
 * overlap ends. The fronts end it by their own clock, whether or not anyone runs `up` again.
 * Why: docs/decisions/rotation-overlap.md
 */
import * as pulumi from "@pulumi/pulumi";
import type { PreviousPassword } from "../accessPolicy/usersFile";
import { dynamicResourceType } from "../shared/dynamicType";
import { type KeptPrevious, passwordOverlapProvider } from "./passwordOverlapProvider";

export interface PasswordOverlapArgs {
    /** The account's current (generated) password and its bcrypt hash. */
    readonly password: pulumi.Input<string>;
    readonly bcryptHash: pulumi.Input<string>;
    /** The overlap's length in hours; 0: the previous password stops at the rotation. */
    readonly overlapHours: number;
}

/** Its module and type as a dynamic resource. */
const MODULE = "accounts";
const TYPE = "PasswordOverlap";
/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const PASSWORD_OVERLAP_TYPE = dynamicResourceType(MODULE, TYPE);

/** A generated password's previous value during its overlap, as the fronts need it. */
export class PasswordOverlap extends pulumi.dynamic.Resource {
    declare readonly previous: pulumi.Output<KeptPrevious | null>;

    constructor(name: string, args: PasswordOverlapArgs, opts?: pulumi.CustomResourceOptions) {
        if (!Number.isInteger(args.overlapHours) || args.overlapHours < 0) {
            throw new Error(`PasswordOverlap ${name}: the overlap is a whole number of hours, 0 or more: ${args.overlapHours}`);
        }
        super(
            passwordOverlapProvider,
            name,
            {
                password: pulumi.secret(args.password),
                bcryptHash: pulumi.secret(args.bcryptHash),
                overlapSeconds: args.overlapHours * 3600,
                previous: undefined,
            },
            { ...opts, additionalSecretOutputs: ["password", "bcryptHash", "previous"] },
            MODULE,
            TYPE,
        );
    }

    /** The previous password as the fronts route to it (secret); none outside a rotation's overlap. */
    get forFronts(): pulumi.Output<PreviousPassword | undefined> {
        return pulumi.secret(this.previous.apply((p) => (p ? { bcryptHash: p.bcryptHash, prefix: p.prefix, until: p.until } : undefined)));
    }
}
