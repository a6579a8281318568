/**
 * The decoy password check's hash for a front (`DecoyCheck` in accessPolicy/policy.ts): a bcrypt hash at
 * the accounts' cost that no known password matches (`unmatchableBcryptHash`), seeded by a random value
 * the stack generates. A client chooses the whole password the decoy is checked with: the hash must be
 * one nobody has a password for, not even whoever reads the state.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { unmatchableBcryptHash } from "../accessPolicy/usersFile";

/**
 * The hash, from a RandomPassword named `name` under `parent` (its seed; no longer a password of
 * anything). It is kept plain: it reveals nothing, and the Caddyfile that holds it stays readable in previews.
 */
export function decoyHash(name: string, parent: pulumi.Resource): pulumi.Output<string> {
    const seed = new random.RandomPassword(name, { length: 40, special: false }, { parent });
    return pulumi.unsecret(seed.result.apply(unmatchableBcryptHash));
}
