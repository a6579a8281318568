/**
 * A users file (usersFile.ts) from accounts whose hashes are Pulumi values: the one way every placement
 * (the external host, the in-cluster sidecar, kind's front) turns its accounts into the file's text.
 */
import * as pulumi from "@pulumi/pulumi";
import { renderUsersFile } from "./usersFile";

/** An account whose bcrypt hash is a (secret) Pulumi value. */
export interface HashedAccount {
    readonly username: string;
    readonly bcryptHash: pulumi.Input<string>;
}

/** The users file of `accounts` for `role`, secret: it holds their hashes. */
export function usersFileOutput(role: "push" | "pull", accounts: readonly HashedAccount[]): pulumi.Output<string> {
    return pulumi.secret(
        pulumi.all(accounts.map((a) => a.bcryptHash)).apply((hashes) =>
            renderUsersFile(
                role,
                accounts.map((a, i) => ({ username: a.username, bcryptHash: hashes[i]! })),
            ),
        ),
    );
}
