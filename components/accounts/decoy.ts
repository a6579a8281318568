/**
 * The decoy password check's hash for a front (`DecoyCheck` in accessPolicy/policy.ts): bcrypt, at the
 * accounts' cost, of a random password the stack generates and nobody keeps. A client chooses the whole
 * password the decoy is checked with, so the password must be one nobody knows: generated per stack,
 * never a constant of the program.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { DECOY_ACCOUNT } from "../accessPolicy/usersFile";
import { deterministicBcrypt } from "./registryAccounts";

/**
 * The hash, from a RandomPassword named `name` under `parent`. It is kept plain: a bcrypt hash of 40
 * random characters reveals nothing, and the Caddyfile that holds it stays readable in previews.
 */
export function decoyHash(name: string, parent: pulumi.Resource): pulumi.Output<string> {
    const password = new random.RandomPassword(name, { length: 40, special: false }, { parent });
    return pulumi.unsecret(password.result.apply((p) => deterministicBcrypt(DECOY_ACCOUNT, p)));
}
