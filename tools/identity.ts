/**
 * Resource identity as the Pulumi engine sees it: a resource's URN (stack, project, the type tokens of
 * its parents and its own, and its name), the URNs its aliases name, and which former identity a
 * resource takes over on `pulumi up`. A change of any of these makes the engine delete the old resource
 * and create a new one (a Secret with its generated password, a PVC with its data) unless an alias
 * names the old URN. The synth records identities in resources.json; `npm run identity:record` keeps a
 * copy of each committed stack's under test/identity/, and a unit test compares the two.
 *
 * The rules here are the engine's (pkg/resource/deploy: URN construction, alias specs, aliases
 * inherited from a parent that was itself found under an alias), so a rename that passes here moves
 * state in a real deployment.
 */
import * as path from "node:path";

/** The type of the stack's root resource; the engine leaves it out of its children's URNs. */
const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

/** The parts of a URN: `urn:pulumi:<stack>::<project>::<qualified type>::<name>`. */
interface UrnParts {
    readonly stack: string;
    readonly project: string;
    /** The type tokens of the parents (not the stack's) and the resource's own, joined with `$`. */
    readonly qualifiedType: string;
    readonly name: string;
}

/** Splits a URN into its parts; type tokens never hold `::`, a name may. */
function urnParts(urn: string): UrnParts {
    const [head, project, qualifiedType, ...name] = urn.split("::");
    if (!head?.startsWith("urn:pulumi:") || project === undefined || !qualifiedType || name.length === 0) {
        throw new Error(`not a Pulumi URN: ${urn}`);
    }
    return { stack: head.slice("urn:pulumi:".length), project, qualifiedType, name: name.join("::") };
}

/** The resource's own type token (the last of its qualified type). */
function typeOfUrn(urn: string): string {
    return urnParts(urn).qualifiedType.split("$").pop()!;
}

/** The URN the engine gives a resource of `type` named `name` under `parentUrn` (none: a root resource). */
export function urnOf(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
    const parentType = parentUrn ? urnParts(parentUrn).qualifiedType : undefined;
    const qualifiedType = parentType && parentType !== ROOT_STACK_TYPE ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::${project}::${qualifiedType}::${name}`;
}

/** An alias as a resource registers it: a whole URN, or the parts that differ from the resource's own. */
export type AliasSpec =
    | { readonly urn: string }
    | {
          readonly name?: string;
          readonly type?: string;
          readonly stack?: string;
          readonly project?: string;
          /** The former parent's URN; absent: the current parent. */
          readonly parentUrn?: string;
          /** The resource had no parent. */
          readonly noParent?: boolean;
      };

/** The resource an alias belongs to, as registered. */
export interface AliasOwner {
    readonly urn: string;
    readonly parentUrn?: string;
}

/** The URN an alias names: each part it leaves out is the resource's own. */
export function aliasUrn(owner: AliasOwner, alias: AliasSpec): string {
    if ("urn" in alias) return alias.urn;
    const own = urnParts(owner.urn);
    const parentUrn = alias.noParent ? undefined : (alias.parentUrn ?? owner.parentUrn);
    return urnOf(
        alias.stack ?? own.stack,
        alias.project ?? own.project,
        parentUrn,
        alias.type ?? typeOfUrn(owner.urn),
        alias.name ?? own.name,
    );
}

/** One resource's identity: its URN, its parent's, and the URNs its own aliases name. */
export interface ResourceIdentity {
    readonly urn: string;
    readonly parentUrn?: string;
    /** Sorted. */
    readonly aliases: readonly string[];
}

/**
 * The alias a child gets from a parent the engine found under `parentAlias`: the child under the
 * parent's former URN, its name's prefix renamed as the parent's was (`<parent>-role` names).
 */
function inheritedChildAlias(childType: string, childName: string, parentName: string, parentAlias: string): string {
    const former = urnParts(parentAlias);
    const name = childName.startsWith(parentName) ? former.name + childName.slice(parentName.length) : childName;
    return urnOf(former.stack, former.project, parentAlias, childType, name);
}

/**
 * Which resource takes over each former identity on `pulumi up`, as the engine decides: a resource
 * whose URN is unchanged keeps its own state; otherwise the first of its aliases that names a former
 * URN wins, where a resource also inherits aliases from a parent that was itself taken over under an
 * alias. Former URNs absent from the result are deleted by the engine.
 */
export function takeOvers(current: readonly ResourceIdentity[], former: ReadonlySet<string>): Map<string, string> {
    const byUrn = new Map(current.map((r) => [r.urn, r]));
    // Resource URN → the former URN it took over under an alias (undefined: none, or unchanged).
    const matched = new Map<string, string | undefined>();
    const matchOf = (r: ResourceIdentity): string | undefined => {
        if (matched.has(r.urn)) return matched.get(r.urn);
        let match: string | undefined;
        if (!former.has(r.urn)) {
            const candidates = [...r.aliases];
            const parent = r.parentUrn ? byUrn.get(r.parentUrn) : undefined;
            const parentAlias = parent ? matchOf(parent) : undefined;
            if (parent && parentAlias) {
                const parentName = urnParts(parent.urn).name;
                candidates.push(inheritedChildAlias(typeOfUrn(r.urn), urnParts(r.urn).name, parentName, parentAlias));
                for (const alias of r.aliases) {
                    candidates.push(inheritedChildAlias(typeOfUrn(alias), urnParts(alias).name, parentName, parentAlias));
                }
            }
            match = candidates.find((c) => former.has(c));
        }
        matched.set(r.urn, match);
        return match;
    };
    const result = new Map<string, string>();
    for (const r of current) {
        const match = matchOf(r);
        if (match !== undefined && !result.has(match)) result.set(match, r.urn);
    }
    return result;
}

/** A row of resources.json, as far as identity goes. */
export interface ResourceRow {
    readonly urn: string;
    /** The parent's name. */
    readonly parent?: string;
    readonly options?: { readonly aliases?: readonly string[] };
}

/**
 * The identities in a synth's resources.json. A parent's URN is its child's with the last type token
 * and the name replaced: the parent's type chain is the child's minus its own type.
 */
export function identitiesOf(rows: readonly ResourceRow[]): ResourceIdentity[] {
    const urns = new Set(rows.map((r) => r.urn));
    return rows
        .map((row) => {
            const { stack, project, qualifiedType } = urnParts(row.urn);
            let parentUrn: string | undefined;
            if (row.parent !== undefined) {
                const parentType = qualifiedType.includes("$") ? qualifiedType.slice(0, qualifiedType.lastIndexOf("$")) : ROOT_STACK_TYPE;
                parentUrn = `urn:pulumi:${stack}::${project}::${parentType}::${row.parent}`;
                if (!urns.has(parentUrn)) throw new Error(`resources.json: the parent of ${row.urn} (${parentUrn}) is not in it`);
            }
            return { urn: row.urn, parentUrn, aliases: [...(row.options?.aliases ?? [])].sort() };
        })
        .sort((a, b) => compare(a.urn, b.urn));
}

/** Where a stack's identities are recorded. */
export function recordPath(projectDir: string, stack: string): string {
    return path.join(projectDir, "test", "identity", `${stack}.txt`);
}

/** One identity of a record under test/identity/: a URN and the URNs its own aliases name. */
export interface RecordedIdentity {
    readonly urn: string;
    readonly aliases: readonly string[];
}

const ALIAS_PREFIX = "    alias ";

/**
 * A record's text: a header saying what it is, then one URN per line in code-point order, the URNs its
 * aliases name on indented lines below it, so a review sees a rename as one line gone and one come.
 */
export function recordText(stack: string, identities: readonly ResourceIdentity[]): string {
    const lines = [
        `# Resource identities of the ${stack} stack: each resource's URN, below it the URNs its aliases name.`,
        `# Written by \`${RECORD_COMMAND}\`; test/unit/identity.test.ts compares it with the synth.`,
    ];
    for (const r of [...identities].sort((a, b) => compare(a.urn, b.urn))) {
        lines.push(r.urn, ...r.aliases.map((alias) => `${ALIAS_PREFIX}${alias}`));
    }
    return `${lines.join("\n")}\n`;
}

/** The identities in a record's text (see recordText). */
export function parseRecord(text: string): RecordedIdentity[] {
    const identities: { urn: string; aliases: string[] }[] = [];
    for (const line of text.split("\n")) {
        if (line === "" || line.startsWith("#")) continue;
        if (line.startsWith(ALIAS_PREFIX)) {
            const owner = identities[identities.length - 1];
            if (!owner) throw new Error(`identity record: an alias line before any URN: ${line}`);
            owner.aliases.push(line.slice(ALIAS_PREFIX.length));
        } else {
            urnParts(line); // throws on a line that is no URN
            identities.push({ urn: line, aliases: [] });
        }
    }
    return identities;
}

/** The command that rewrites the records from the program. */
export const RECORD_COMMAND = "npm run identity:record";

/**
 * What differs between a stack's record and its program, one line per identity: "- " recorded but
 * gone, "+ " new or with other aliases, each saying what `pulumi up` does with it.
 */
export function driftLines(recorded: readonly RecordedIdentity[], current: readonly ResourceIdentity[]): string[] {
    const recordedAliases = new Map(recorded.map((r) => [r.urn, [...r.aliases].sort().join(" ")]));
    const gone = goneUrns(recorded, current);
    const movedTo = takeOvers(current, new Set(gone));
    const movedFrom = new Map([...movedTo].map(([from, to]) => [to, from]));
    const lines: string[] = [];
    for (const urn of gone) {
        const to = movedTo.get(urn);
        lines.push(to ? `- ${urn} (its state moves by an alias)` : `- ${urn} (pulumi up deletes it: no resource has an alias naming it)`);
    }
    for (const r of current) {
        const before = recordedAliases.get(r.urn);
        if (before === undefined) {
            const from = movedFrom.get(r.urn);
            lines.push(from ? `+ ${r.urn} (takes over ${from})` : `+ ${r.urn} (new)`);
        } else if (before !== r.aliases.join(" ")) {
            lines.push(`+ ${r.urn} (aliases were [${before}], now [${r.aliases.join(" ")}])`);
        }
    }
    return lines;
}

/**
 * The failure message of a stack whose program and record differ: the drift lines and how to settle
 * them; empty when they agree.
 */
export function identityDrift(recordFile: string, recorded: readonly RecordedIdentity[], current: readonly ResourceIdentity[]): string {
    const lines = driftLines(recorded, current);
    if (lines.length === 0) return "";
    const advice =
        unmovedRemovals(recorded, current).length > 0
            ? "A resource that is renamed, retyped or moved to another parent keeps its state only when it carries " +
              '`aliases: [{ type: "<former type>" }]` (or `name`, `parent`) naming its former identity; add that, ' +
              `then record the identities with: ${RECORD_COMMAND}. If the resource really goes away: ${RECORD_COMMAND} -- --allow-removals`
            : `If the change is intended, record it with: ${RECORD_COMMAND}`;
    return [`Resource identities differ from ${recordFile}:`, ...lines, advice].join("\n");
}

/**
 * The recorded identities that are gone with nothing taking them over, so `pulumi up` would delete
 * them; `identity:record` refuses to drop these unless told that they go away.
 */
export function unmovedRemovals(recorded: readonly RecordedIdentity[], current: readonly ResourceIdentity[]): string[] {
    const gone = goneUrns(recorded, current);
    const movedTo = takeOvers(current, new Set(gone));
    return gone.filter((urn) => !movedTo.has(urn));
}

function goneUrns(recorded: readonly RecordedIdentity[], current: readonly ResourceIdentity[]): string[] {
    const currentUrns = new Set(current.map((r) => r.urn));
    return recorded.map((r) => r.urn).filter((urn) => !currentUrns.has(urn));
}

/** Code-point order, so records sort the same under every locale. */
function compare(a: string, b: string): number {
    return a < b ? -1 : a > b ? 1 : 0;
}
