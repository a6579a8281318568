/**
 * What a change may disrupt without a person's explicit approval. The program never reads it: the preview's
 * consequences summary (`npm run consequences`, docs/preview-consequences.md) compares each pull request's
 * preview with the base branch's value, and the pull request's check fails when something is over it, or the
 * pull request loosens it, and nobody approved.
 */
import { z } from "zod";

/** The longest a disruption may last, in seconds: a day at most (anything longer is approved, not budgeted). */
const seconds = (what: string) =>
    z
        .number()
        .min(0)
        .max(86_400)
        .default(0)
        .describe(
            `Longest time ${what} may go unanswered, in seconds, as the summary's measured figures give it; an outage nobody measured, or one that lasts until a later change, is always over it.`,
        );

/** Key `disruptionBudget`. */
export const disruptionBudget = z.strictObject({
    pullOutageSeconds: seconds("pulls"),
    pushOutageSeconds: seconds("pushes"),
    runtimeRestarts: z
        .boolean()
        .default(false)
        .describe("Whether a change may restart a node's container runtime (containerd, k3s, RKE2; CRI-O only reloads)."),
    credentialCuts: z
        .enum(["none", "after-overlap", "any"])
        .default("none")
        .describe(
            '"none": no password, Jenkins credential, pull secret or trusted CA may stop working; "after-overlap": only a rotated password whose previous one keeps working for containerRegistry.rotationOverlapHours; "any": every cut is within the budget.',
        ),
    dataChanges: z
        .boolean()
        .default(false)
        .describe(
            "Whether a change may touch a claim, a namespace, a data directory or what a destroy deletes (a claim created empty does not count).",
        ),
    approved: z
        .string()
        .trim()
        .min(1, { error: "must say who approved the change and why, or be removed" })
        .optional()
        .describe(
            "Approval of the change this pull request makes, over the budget or to a looser budget: who approved it and why. It counts only in the pull request that adds or changes it (a value the base branch already has approves nothing); remove it in the next pull request, once the change is applied.",
        ),
});

/** What a stack file's `disruptionBudget` yields, defaults filled in. */
export type DisruptionBudget = z.output<typeof disruptionBudget>;
