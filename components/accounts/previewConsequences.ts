/**
 * What a preview of the registry's accounts disrupts, for the consequences summary
 * (tools/previewConsequences.ts, docs/preview-consequences.md): a generated password rotated (with its
 * overlap, `PasswordOverlap`), added or removed, and a pull secret rewritten or deleted, picked out by the
 * type tokens this folder's components export.
 */
import { at, CUT, inputsOf, is, metadataName, type Rule, type Target } from "../consequences/previewConsequences";
import { PASSWORD_OVERLAP_TYPE } from "./passwordOverlap";
import { PULL_SECRETS_TYPE } from "./pullSecrets";
import { passwordOverlapName, REGISTRY_ACCOUNTS_TYPE } from "./registryAccounts";

/** The resources the accounts' rules read. */
export const ACCOUNTS_TARGETS = {
    password: { types: ["random:index/randomPassword:RandomPassword"], parentType: REGISTRY_ACCOUNTS_TYPE },
    passwordOverlap: { types: [PASSWORD_OVERLAP_TYPE], parentType: REGISTRY_ACCOUNTS_TYPE },
    pullSecret: { types: ["kubernetes:core/v1:Secret"], parentType: PULL_SECRETS_TYPE },
} as const satisfies Record<string, Target>;

/** Generated passwords. */
const passwords: Rule = (c, all) => {
    if (!is(c, ACCOUNTS_TARGETS.password)) return [];
    const user = String(at(inputsOf(c), "keepers.username") ?? c.name);
    if (c.op === "replace") {
        // Its PasswordOverlap (components/accounts/passwordOverlap.ts) keeps the old one for the overlap.
        const overlap = all.find(
            (o) => is(o, ACCOUNTS_TARGETS.passwordOverlap) && o.name === passwordOverlapName(c.name) && o.op === "update",
        );
        const seconds = Number(overlap ? at(overlap.news, "overlapSeconds") : 0);
        const kept =
            seconds > 0
                ? `the old one keeps working for ${seconds / 3600} hours after this runs (the rotation's overlap), then stops`
                : "the old one stops working when this runs";
        return [
            {
                kind: "credential",
                text: `account ${user}: its password rotates; ${kept}`,
                disrupts: { credentialCut: seconds > 0 ? "after-overlap" : "now" },
            },
        ];
    }
    if (c.op === "delete")
        return [{ kind: "credential", text: `account ${user} is removed: its password stops working when this runs`, disrupts: CUT }];
    if (c.op === "create") return [{ kind: "credential", text: `account ${user} is added` }];
    return [];
};

/** Pull secrets. */
const pullSecrets: Rule = (c) => {
    if (!is(c, ACCOUNTS_TARGETS.pullSecret) || c.op === "create") return [];
    const ns = String(at(inputsOf(c), "metadata.namespace") ?? "");
    return [
        {
            kind: "credential",
            text: `pull secret ${metadataName(c)}${ns ? ` in ${ns}` : ""} is ${c.op === "delete" ? "deleted" : "rewritten"}`,
            ...(c.op === "delete" ? { disrupts: CUT } : {}),
        },
    ];
};

/** The accounts' rules, in the order the summary applies them. */
export const ACCOUNTS_RULES: readonly Rule[] = [passwords, pullSecrets];
