/**
 * A users file (usersFile.ts) from accounts whose hashes are Pulumi values: the one way every placement
 * (the external host, the in-cluster sidecar, kind's front) turns its accounts into the file's text,
 * and, with a rotation's overlap, the previous-passwords files and the overlap file beside them.
 */
import * as pulumi from "@pulumi/pulumi";
import { type PreviousPassword, renderOverlapMatchers, renderPreviousUsersFile, renderUsersFile } from "./usersFile";

/** An account whose bcrypt hash is a (secret) Pulumi value. */
export interface HashedAccount {
    readonly username: string;
    readonly bcryptHash: pulumi.Input<string>;
    /** The previous password during a rotation's overlap (secret). */
    readonly previous?: pulumi.Input<PreviousPassword | undefined>;
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

/** A front's accounts by users file: push, pull and, with a Maven route, the Maven deploy account. */
export interface FrontFileAccounts {
    readonly push: readonly HashedAccount[];
    readonly pull: readonly HashedAccount[];
    readonly mavenDeploy?: readonly HashedAccount[];
}

/** The overlap's files of a front (secret): each users file's previous passwords, and the overlap file. */
export interface OverlapFiles {
    readonly push: pulumi.Output<string>;
    readonly pull: pulumi.Output<string>;
    readonly mavenDeploy?: pulumi.Output<string>;
    readonly matchers: pulumi.Output<string>;
}

/**
 * The overlap's files of a front whose accounts may have a previous password (a generated account
 * with an overlap); none when no account can, so a front without rotation overlap keeps its files.
 */
export function overlapFilesOutput(accounts: FrontFileAccounts): OverlapFiles | undefined {
    const all = [...accounts.push, ...accounts.pull, ...(accounts.mavenDeploy ?? [])];
    if (!all.some((a) => a.previous !== undefined)) return undefined;
    const previousFile = (role: "push" | "pull", list: readonly HashedAccount[]) =>
        pulumi.secret(
            pulumi.all(list.map((a) => a.previous)).apply((previous) =>
                renderPreviousUsersFile(
                    role,
                    list.map((a, i) => ({ username: a.username, previous: previous[i] })),
                ),
            ),
        );
    // Each name once: the Maven deploy account may be the push account.
    const byName = new Map(all.map((a) => [a.username, a] as const));
    const named = [...byName.values()];
    return {
        push: previousFile("push", accounts.push),
        pull: previousFile("pull", accounts.pull),
        ...(accounts.mavenDeploy ? { mavenDeploy: previousFile("push", accounts.mavenDeploy) } : {}),
        matchers: pulumi.secret(
            pulumi
                .all(named.map((a) => a.previous))
                .apply((previous) => renderOverlapMatchers(named.map((a, i) => ({ username: a.username, previous: previous[i] })))),
        ),
    };
}
