/**
 * What a preview of the Jenkins credentials disrupts, for the consequences summary
 * (tools/previewConsequences.ts, docs/preview-consequences.md): a credential created, rewritten, replaced
 * or deleted; a change of nothing but the token the program reaches Jenkins with; a credential rewritten
 * with the password its account rotates in the same preview (components/accounts/previewConsequences.ts).
 */
import { ACCOUNTS_TARGETS } from "../accounts/previewConsequences";
import { at, CUT, changeAt, either, inputsOf, is, type Rule, type Target } from "../consequences/previewConsequences";
import { JENKINS_CREDENTIAL_TYPE } from "./jenkinsCredentials";

/** The resources the Jenkins credentials' rule reads. */
export const JENKINS_TARGETS = {
    jenkinsCredential: { types: [JENKINS_CREDENTIAL_TYPE] },
} as const satisfies Record<string, Target>;

/** Jenkins credentials. */
const jenkinsCredentials: Rule = (c, all) => {
    if (!is(c, JENKINS_TARGETS.jenkinsCredential)) return [];
    const id = String(at(inputsOf(c), "credentialId") ?? c.name);
    if (c.op === "create") return [{ kind: "credential", text: `Jenkins credential ${id} is created` }];
    if (c.op === "delete")
        return [{ kind: "credential", text: `Jenkins credential ${id} is deleted: pipelines that use it fail`, disrupts: CUT }];
    const secret = either(changeAt(c, "password"), changeAt(c, "secret"));
    const visible = ["username", "description", "kind", "credentialId", "jenkinsUrl"].some((k) => changeAt(c, k) !== "no");
    if (secret === "no" && !visible) {
        return changeAt(c, "jenkinsSecret") === "no"
            ? []
            : [
                  {
                      kind: "credential",
                      text: `Jenkins credential ${id}: only the token the program reaches Jenkins with changes; the credential stays as it is`,
                  },
              ];
    }
    const verb = c.op === "replace" ? "replaced" : "rewritten";
    // A password generated anew in the same plan for the credential's account is what changes, whether the
    // preview shows the new value as unknown or, as newer engines do for an unknown secret, as "[secret]".
    const username = at(inputsOf(c), "username");
    const rotated = all.some(
        (o) =>
            is(o, ACCOUNTS_TARGETS.password) &&
            o.op === "replace" &&
            username !== undefined &&
            at(inputsOf(o), "keepers.username") === username,
    );
    if (secret === "hidden" && rotated) {
        return [
            {
                kind: "credential",
                text: `Jenkins credential ${id} is ${verb} with the new password: a pipeline that read it before the up keeps the old value`,
            },
        ];
    }
    if (secret === "hidden" && !visible) {
        return [
            {
                kind: "credential",
                text: `Jenkins credential ${id} is ${verb}: a secret input changes, its password or only the token the program reaches Jenkins with (the preview shows neither)`,
            },
        ];
    }
    const what = secret === "yes" || secret === "maybe" ? " with the new password" : "";
    return [
        {
            kind: "credential",
            text: `Jenkins credential ${id} is ${verb}${what}: a pipeline that read it before the up keeps the old value`,
        },
    ];
};

/** The Jenkins credentials' rules. */
export const JENKINS_RULES: readonly Rule[] = [jenkinsCredentials];
