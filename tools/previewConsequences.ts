/**
 * What a `pulumi preview --json` of this program will disrupt, said for a reviewer: which nodes restart
 * their container runtime, which registry containers or pods are replaced and for how long pulls and
 * pushes go unanswered, whether the front reloads, whether a claim or a data directory is touched,
 * whether a credential or certificate changes. docs/preview-consequences.md says what it covers.
 *
 * Each component says what a change of its children disrupts in a rule beside it
 * (`components/<folder>/previewConsequences.ts`), picking them out by the type tokens and child names it
 * defines; what the rules share (reading a step, telling whether an input changes, the measured outages)
 * is components/consequences/previewConsequences.ts. This module lists the rules (RULES) and the
 * resources they read (TARGETS), applies them to a preview's steps, renders the summary and compares it
 * with the stack's disruption budget.
 */
import { parse as parseYaml } from "yaml";
import { ACCOUNTS_RULES, ACCOUNTS_TARGETS } from "../components/accounts/previewConsequences";
import { type DisruptionBudget, disruptionBudget } from "../components/config/schema/review";
import {
    type Consequence,
    type ConsequenceKind,
    changesOf,
    KINDS,
    type PreviewStep,
    type Rule,
    type Target,
} from "../components/consequences/previewConsequences";
import { EXTERNAL_HOST_RULES, EXTERNAL_HOST_TARGETS } from "../components/externalHost/previewConsequences";
import { IN_CLUSTER_RULES, IN_CLUSTER_TARGETS } from "../components/inCluster/previewConsequences";
import { JENKINS_RULES, JENKINS_TARGETS } from "../components/jenkins/previewConsequences";
import { KIND_RULES, KIND_TARGETS } from "../components/kind/previewConsequences";
import { MIRROR_RULES, MIRROR_TARGETS } from "../components/mirrors/previewConsequences";
import { NODE_TRUST_RULES, NODE_TRUST_TARGETS } from "../components/nodeTrust/previewConsequences";
import { PROJECT } from "../components/shared/facts";
import { TLS_RULES } from "../components/tls/previewConsequences";

export {
    type Consequence,
    type ConsequenceKind,
    type Disruption,
    isTarget,
    KINDS,
    MEASURED,
    MEASURED_SECONDS,
    type Named,
    type PreviewStep,
    scriptParameters,
    type Target,
    UNKNOWN,
} from "../components/consequences/previewConsequences";

/** Headings of the kinds in the summary. */
const HEADINGS: Record<ConsequenceKind, string> = {
    runtime: "Nodes: container runtime restarts and trust",
    registry: "The registry: pulls and pushes",
    front: "Front (Caddy)",
    cache: "Pull-through caches",
    exposure: "How clients reach the registry",
    data: "Claims and data directories",
    credential: "Credentials",
    certificate: "Certificates",
    other: "Other",
};

/** A stack's consequences and its step counts. */
export interface StackConsequences {
    readonly stack: string;
    /** Custom resources by operation: create, update, replace, delete. */
    readonly counts: Readonly<Record<"create" | "update" | "replace" | "delete", number>>;
    readonly consequences: readonly Consequence[];
}

/** The stack a URN belongs to (`urn:pulumi:<stack>::<project>::…`). */
export function stackOfUrn(urn: string): string {
    return urn.split("::")[0]?.replace(/^urn:pulumi:/, "") ?? "";
}

// ---------------------------------------------------------------------------------------------
// The rules, each beside the component whose children it reads

/** Every kind of resource a rule reads, by the component that makes it. */
export const TARGETS = {
    ...NODE_TRUST_TARGETS,
    ...EXTERNAL_HOST_TARGETS,
    ...MIRROR_TARGETS,
    ...KIND_TARGETS,
    ...IN_CLUSTER_TARGETS,
    ...ACCOUNTS_TARGETS,
    ...JENKINS_TARGETS,
} as const satisfies Record<string, Target>;

/** Every rule, each applied to every change of the preview. */
const RULES: readonly Rule[] = [
    ...NODE_TRUST_RULES,
    ...EXTERNAL_HOST_RULES,
    ...MIRROR_RULES,
    ...KIND_RULES,
    ...IN_CLUSTER_RULES,
    ...ACCOUNTS_RULES,
    ...JENKINS_RULES,
    ...TLS_RULES,
];

// ---------------------------------------------------------------------------------------------
// The summary

/** The consequences of one `preview --json` document (one stack). */
export function previewConsequences(preview: { readonly steps?: readonly PreviewStep[] | null }): StackConsequences {
    const steps = preview.steps ?? [];
    const changes = changesOf(steps);
    const counts = { create: 0, update: 0, replace: 0, delete: 0 };
    for (const c of changes) counts[c.op]++;
    const consequences = changes
        .flatMap((c) => RULES.flatMap((rule) => rule(c, changes)).map((found) => ({ ...found, resource: c.name })))
        .sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.text.localeCompare(b.text));
    const stack = steps.map((s) => stackOfUrn(s.urn)).find(Boolean) ?? "";
    return { stack, counts, consequences };
}

/** Parses `preview --json` output (one document, as the CLI prints it) and gives its consequences. */
export function consequencesOfPreviewJson(text: string): StackConsequences {
    const start = text.indexOf("{");
    if (start < 0) throw new Error("no JSON document in the input: give the output of `pulumi preview --json`");
    return previewConsequences(JSON.parse(text.slice(start)) as { steps?: PreviewStep[] });
}

/** The summary of one stack in Markdown, for a pull request's comment and a terminal alike. */
export function renderConsequences(result: StackConsequences, stackName = result.stack): string {
    const { create, update, replace, delete: deleted } = result.counts;
    const lines = [`### What this change disrupts: stack \`${stackName || "?"}\``, ""];
    lines.push(`${create} to create, ${update} to update, ${replace} to replace, ${deleted} to delete.`, "");
    if (result.consequences.length === 0) {
        lines.push(
            create + update + replace + deleted === 0
                ? "No change."
                : "Nothing that restarts a node's runtime, replaces the registry, reloads its front, touches a claim or data directory, or changes a credential or certificate.",
        );
        return `${lines.join("\n")}\n`;
    }
    for (const kind of KINDS) {
        const texts = [...new Set(result.consequences.filter((c) => c.kind === kind).map((c) => c.text))];
        if (texts.length === 0) continue;
        lines.push(`**${HEADINGS[kind]}**`, "", ...texts.map((t) => `- ${t}`), "");
    }
    lines.push(
        'Figures are measured ones where the docs give them (docs/preview-consequences.md); "not measured" means the project has none.',
    );
    return `${lines.join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------------
// The disruption budget

/** A consequence over the budget, with what it exceeds. */
export interface OverBudget {
    readonly consequence: Consequence;
    /** The budget's key and its value, and what the consequence does beyond it. */
    readonly exceeds: string;
}

/** How an outage of `seconds` (undefined: not measured) is said against a budget of `budget` seconds. */
const outageBeyond = (who: "pulls" | "pushes", seconds: number | undefined, key: string, budget: number): string | undefined =>
    seconds === undefined
        ? `disruptionBudget.${key} ${budget}: ${who} go unanswered for a time nobody measured`
        : seconds > budget
          ? `disruptionBudget.${key} ${budget}: ${who} go unanswered for about ${seconds} s`
          : undefined;

/** Each consequence over the budget, once for each part of the budget it exceeds. */
export function overBudget(result: StackConsequences, budget: DisruptionBudget): OverBudget[] {
    const over: OverBudget[] = [];
    for (const consequence of result.consequences) {
        const d = consequence.disrupts;
        if (!d) continue;
        const exceeded = [
            d.outage?.pulls ? outageBeyond("pulls", d.outage.seconds, "pullOutageSeconds", budget.pullOutageSeconds) : undefined,
            d.outage?.pushes ? outageBeyond("pushes", d.outage.seconds, "pushOutageSeconds", budget.pushOutageSeconds) : undefined,
            d.runtimeRestart && !budget.runtimeRestarts
                ? "disruptionBudget.runtimeRestarts false: a node's container runtime restarts"
                : undefined,
            d.credentialCut === "now" && budget.credentialCuts !== "any"
                ? `disruptionBudget.credentialCuts "${budget.credentialCuts}": a credential stops working when this runs`
                : undefined,
            d.credentialCut === "after-overlap" && budget.credentialCuts === "none"
                ? `disruptionBudget.credentialCuts "none": a password stops working once its rotation's overlap ends`
                : undefined,
            d.data && !budget.dataChanges
                ? "disruptionBudget.dataChanges false: a claim, namespace or data directory is touched"
                : undefined,
        ];
        for (const exceeds of exceeded) if (exceeds) over.push({ consequence, exceeds });
    }
    return over;
}

/** Who approved a change over the budget. */
export type Approval = { readonly by: "label"; readonly label: string } | { readonly by: "stack file"; readonly reason: string };

/** The keys of a budget that say what may be disrupted (all but `approved`), in the order the summary names them. */
export const BUDGET_KEYS = ["pullOutageSeconds", "pushOutageSeconds", "runtimeRestarts", "credentialCuts", "dataChanges"] as const;
export type BudgetKey = (typeof BUDGET_KEYS)[number];

/** The budget of a stack file that sets `disruptionBudget` without a key: every key at its strictest. */
export const DEFAULT_BUDGET: DisruptionBudget = disruptionBudget.parse({});

/** `credentialCuts` from the strictest to the loosest. */
const CUTS_ORDER: readonly DisruptionBudget["credentialCuts"][] = ["none", "after-overlap", "any"];

/** One key of a stack's budget that a pull request changes. */
export interface BudgetChange {
    readonly key: BudgetKey;
    /** The value the change is judged by (the base branch's, or the default for a new stack); undefined: no budget. */
    readonly before?: DisruptionBudget[BudgetKey];
    /** The pull request's value; undefined: its stack file sets no budget, and nothing is checked once it is merged. */
    readonly after?: DisruptionBudget[BudgetKey];
    /** It lets more through than before: a change to approve. */
    readonly looser: boolean;
}

/** Whether `after` lets more through than `before` (no budget at all lets everything through). */
function isLooser(
    key: BudgetKey,
    before: DisruptionBudget[BudgetKey] | undefined,
    after: DisruptionBudget[BudgetKey] | undefined,
): boolean {
    if (after === undefined) return before !== undefined;
    if (before === undefined) return false;
    if (key === "credentialCuts") {
        return (
            CUTS_ORDER.indexOf(after as DisruptionBudget["credentialCuts"]) >
            CUTS_ORDER.indexOf(before as DisruptionBudget["credentialCuts"])
        );
    }
    return typeof after === "number" ? after > (before as number) : after === true && before === false;
}

/** Each key that differs between the budget that judges (`before`) and the pull request's (`after`). */
export function budgetChanges(before: DisruptionBudget | undefined, after: DisruptionBudget | undefined): BudgetChange[] {
    if (before === undefined && after === undefined) return [];
    return BUDGET_KEYS.filter((key) => before?.[key] !== after?.[key]).map((key) => ({
        key,
        before: before?.[key],
        after: after?.[key],
        looser: isLooser(key, before?.[key], after?.[key]),
    }));
}

/** Where the budget that judges a change comes from. */
export type BudgetSource =
    /** The stack file the preview ran with: a run by hand, with no base branch to compare with. */
    | "stack file"
    /** The base branch's stack file: a pull request's own budget never judges it. */
    | "base branch"
    /** DEFAULT_BUDGET: the base branch has no file for the stack (it is new in the pull request). */
    | "default";

/** The budget's verdict on one stack's consequences. */
export interface BudgetVerdict {
    /** The budget the change is judged by; undefined when there is none (nothing is checked). */
    readonly budget?: DisruptionBudget;
    readonly source: BudgetSource;
    readonly over: readonly OverBudget[];
    /** The keys of the budget the pull request changes, against the budget that judges it (none without a base branch). */
    readonly changes: readonly BudgetChange[];
    /** Whether the pull request's stack file sets a budget (undefined without a base branch: not compared). */
    readonly headHasBudget?: boolean;
    /** The approval that lets what is over the budget, and a looser budget, pass; undefined when there is none or nothing to approve. */
    readonly approval?: Approval;
    /** What the reviewer is told besides: an approval that approves nothing, or one an earlier change left behind. */
    readonly notes: readonly string[];
    /** Whether the pull request's check passes. */
    readonly passes: boolean;
}

/** The label on a pull request that approves its disruptions (read from the event by .github/workflows/preview.yml). */
export const APPROVAL_LABEL = "disruption-approved";

/** The base branch has no stack file for the stack: it is new in the pull request. */
export const NEW_STACK = "new stack";

export interface BudgetInputs {
    /** `disruptionBudget` of the stack file the preview ran with (the pull request's), parsed; undefined when it sets none. */
    readonly budget?: DisruptionBudget;
    /**
     * The base branch's stack file, in a pull request: its `disruptionBudget` (undefined when it sets none), or
     * NEW_STACK when the base branch has no file for the stack. Its budget judges the change, or DEFAULT_BUDGET
     * for a new stack, never the pull request's own; each key the pull request changes is named, and a looser
     * one needs an approval as a change over the budget does. Its `approved` approves nothing any more.
     * Absent (a run by hand, no pull request): the stack file's own budget judges, and nothing is compared.
     */
    readonly base?: { readonly budget?: DisruptionBudget } | typeof NEW_STACK;
    /** The pull request carries APPROVAL_LABEL. */
    readonly labelApproved?: boolean;
}

/** Compares the consequences with the budget that judges them, and the pull request's budget with it; says whether the check passes, and why. */
export function budgetVerdict(result: StackConsequences, inputs: BudgetInputs): BudgetVerdict {
    const { base } = inputs;
    const source: BudgetSource = base === undefined ? "stack file" : base === NEW_STACK ? "default" : "base branch";
    const budget = base === undefined ? inputs.budget : base === NEW_STACK ? DEFAULT_BUDGET : base.budget;
    const changes = base === undefined ? [] : budgetChanges(budget, inputs.budget);
    const headHasBudget = base === undefined ? undefined : inputs.budget !== undefined;
    if (!budget && changes.length === 0) return { source, over: [], changes, headHasBudget, notes: [], passes: true };
    const over = budget ? overBudget(result, budget) : [];
    const toApprove = over.length + changes.filter((c) => c.looser).length;
    const baseApproved = typeof base === "object" ? base.budget?.approved : undefined;
    const approved = inputs.budget?.approved;
    const notes: string[] = [];
    let fromFile: Approval | undefined;
    if (approved !== undefined) {
        if (approved === baseApproved) {
            notes.push(
                `\`disruptionBudget.approved\` ("${approved}") is on the base branch already: it approved an earlier change and approves nothing here. Remove it from the stack file.`,
            );
        } else if (toApprove === 0) {
            notes.push(`\`disruptionBudget.approved\` ("${approved}") approves nothing: the change is within the budget. Remove it.`);
        } else {
            fromFile = { by: "stack file", reason: approved };
        }
    }
    const approval = toApprove === 0 ? undefined : inputs.labelApproved ? { by: "label" as const, label: APPROVAL_LABEL } : fromFile;
    return { budget, source, over, changes, headHasBudget, approval, notes, passes: toApprove === 0 || approval !== undefined };
}

/** A budget's value as the summary writes it. */
const budgetValue = (value: DisruptionBudget[BudgetKey] | undefined): string =>
    value === undefined ? "no budget" : typeof value === "string" ? `"${value}"` : String(value);

/** The budget's whole statement, for the verdict's first line. */
const statedBudget = (b: DisruptionBudget): string =>
    `pulls ${b.pullOutageSeconds} s, pushes ${b.pushOutageSeconds} s, runtime restarts ${b.runtimeRestarts ? "allowed" : "not allowed"}, credential cuts "${b.credentialCuts}", data changes ${b.dataChanges ? "allowed" : "not allowed"}`;

/** The verdict in Markdown, below the summary. */
export function renderBudgetVerdict(verdict: BudgetVerdict, stackName: string): string {
    const lines: string[] = [];
    const b = verdict.budget;
    const looser = verdict.changes.some((c) => c.looser);
    if (!b) {
        lines.push(
            verdict.source === "base branch"
                ? `**Disruption budget**: none set for stack \`${stackName}\` on the base branch, nothing is checked.`
                : `**Disruption budget**: none set for stack \`${stackName}\` (\`dso-registry:disruptionBudget\`), nothing is checked.`,
        );
    } else {
        const whose =
            verdict.source === "base branch"
                ? "the base branch's: "
                : verdict.source === "default"
                  ? `the default, stack \`${stackName}\` being new in this pull request: `
                  : "";
        const what =
            verdict.over.length === 0
                ? looser
                    ? "within it, but the pull request loosens the budget"
                    : "within it"
                : looser
                  ? "over it, and the pull request loosens the budget"
                  : "over it";
        const status =
            verdict.over.length === 0 && !looser
                ? `${what}.`
                : verdict.approval === undefined
                  ? `**${what}, not approved**.`
                  : verdict.approval.by === "label"
                    ? `${what}, approved by the label \`${verdict.approval.label}\`.`
                    : `${what}, approved in the stack file: "${verdict.approval.reason}".`;
        lines.push(`**Disruption budget** (${whose}${statedBudget(b)}): ${status}`);
        if (verdict.over.length > 0) lines.push("", ...verdict.over.map((o) => `- ${o.consequence.text}: over ${o.exceeds}`));
    }
    if (verdict.changes.length > 0) {
        const intro =
            verdict.source === "default"
                ? `**The stack is new in this pull request**: it is judged by the default budget (every key at its strictest), not by its own stack file's, which judges pull requests from its merge on. Its budget against the default:`
                : verdict.headHasBudget === false
                  ? `**This pull request removes the disruption budget** of stack \`${stackName}\` (\`dso-registry:disruptionBudget\`): once it is merged, nothing is checked. It is judged by the base branch's budget:`
                  : `**This pull request changes the disruption budget** of stack \`${stackName}\`. It is judged by the base branch's budget; its own judges pull requests from its merge on:`;
        lines.push(
            "",
            intro,
            "",
            ...verdict.changes.map(
                (c) =>
                    `- \`${c.key}\`: ${budgetValue(c.before)} → ${budgetValue(c.after)} (${c.looser ? "looser: to approve" : c.before === undefined ? "a new budget" : "stricter"})`,
            ),
        );
    }
    if ((verdict.over.length > 0 || looser) && verdict.approval === undefined) {
        lines.push(
            "",
            `To go ahead, a maintainer adds the label \`${APPROVAL_LABEL}\` to this pull request, or the pull request sets \`disruptionBudget.approved\` in \`Pulumi.${stackName}.yaml\` to who approved it and why (removed again in the next pull request). docs/preview-consequences.md`,
        );
    }
    if (verdict.notes.length > 0) lines.push("", ...verdict.notes.map((n) => `- ${n}`));
    return `${lines.join("\n")}\n`;
}

/** A stack file's `dso-registry:disruptionBudget`, checked by the config's own schema; undefined when it sets none. */
export function budgetOfStackFile(text: string, file: string): DisruptionBudget | undefined {
    const parsed = parseYaml(text) as { config?: Record<string, unknown> } | null;
    const raw = parsed?.config?.[`${PROJECT}:disruptionBudget`];
    if (raw === undefined) return undefined;
    const result = disruptionBudget.safeParse(raw);
    if (!result.success) {
        const problems = result.error.issues.map((i) => `${[`${PROJECT}:disruptionBudget`, ...i.path.map(String)].join(".")} ${i.message}`);
        throw new Error(`${file}: ${problems.join("; ")}`);
    }
    return result.data;
}
