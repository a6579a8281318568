/**
 * Settings the program never reads: tools read them, each named here with the tool and what it does with
 * them. They change nothing the synth writes and are not moot (no warning says they have no effect); the
 * every-setting test holds them to the first (test/support/everySetting.ts), and the tool's own tests to
 * what they do.
 */

/** Top-level keys read by tools only, and by which. */
export const TOOL_SETTINGS: Readonly<Record<string, string>> = {
    disruptionBudget:
        "`npm run consequences` (tools/previewConsequences.ts): the pull request's check fails when the preview's consequences are over it and nobody approved them",
};
