/**
 * Placeholders a stack file still holds (`REPLACE-WITH-…`), which `pulumi up` and `preview` refuse
 * before anything changes and the synth only warns about.
 */
import { type ConfigProblem, keyPath } from "./problems";
import { setLeaves } from "./stackFileLeaves";

/** What a value the operator still has to fill in starts with, e.g. "ssh-ed25519 REPLACE-WITH-ssh-keyscan-OUTPUT". */
export const PLACEHOLDER_MARK = "REPLACE-WITH-";

/**
 * Values the stack file still holds as a placeholder (`REPLACE-WITH-…`), each with what to put in its
 * place. `pulumi up` and `preview` refuse them before anything changes; the synth warns.
 */
export function placeholderProblems(raw: Readonly<Record<string, unknown>>): ConfigProblem[] {
    return setLeaves(raw)
        .filter((leaf) => typeof leaf.value === "string" && leaf.value.includes(PLACEHOLDER_MARK))
        .map((leaf) => {
            const last = leaf.path[leaf.path.length - 1];
            const parent = leaf.path.slice(0, -1).reduce<unknown>((node, p) => (node as Record<PropertyKey, unknown>)?.[p], raw) as
                | Record<string, unknown>
                | undefined;
            const host = typeof parent?.host === "string" ? parent.host : "<host>";
            const fix =
                last === "hostKey"
                    ? `run \`ssh-keyscan -t ed25519 ${host}\`, check the key it prints out of band (for example against the host's console), and put that line here`
                    : "replace it with the real value";
            return { key: keyPath(leaf.path), message: `still holds the placeholder ${JSON.stringify(leaf.value)}: ${fix}` };
        });
}
