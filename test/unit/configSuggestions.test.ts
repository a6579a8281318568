/**
 * Every change the configuration suggests, applied, is taken: a refusal or warning that one change
 * settles carries the change (`ConfigProblem.fix`) and words it as the `pulumi config` command it prints
 * (components/config/problems.ts); applied to the stack file, the problem goes, and no problem takes
 * the key it changed, so no two pieces of advice contradict each other. Walked over every stack file
 * the every-setting walk builds (each committed stack and each mode's base, one key changed to each
 * value it tries), and over the stack files below, which reach each rule that suggests a change.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigProblem, parseConfig } from "../../components/config";
import { type ConfigEdit, editCommand, keyPath } from "../../components/config/problems";
import { everySettingVariations } from "../support/everySetting";

type Raw = Record<string, unknown>;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheSuggestionsTest";

/** Problems of a stack file (refusals), or its warnings when it is taken. */
function told(raw: Raw): { readonly taken: boolean; readonly problems: readonly ConfigProblem[] } {
    try {
        return { taken: true, problems: parseConfig(raw, {}, { allowMissingSecrets: true }).warnings };
    } catch (error) {
        if (error instanceof ConfigError) return { taken: false, problems: error.problems };
        throw error;
    }
}

/** The stack file with one change applied, as `pulumi config rm --path` or `set --path` would leave it. */
function apply(raw: Raw, edit: ConfigEdit): Raw {
    const copy = structuredClone(raw);
    const path = "remove" in edit ? edit.remove : edit.set;
    let node = copy as Record<PropertyKey, unknown>;
    for (const [i, part] of path.slice(0, -1).entries()) {
        if (node[part] === undefined || node[part] === null) node[part] = typeof path[i + 1] === "number" ? [] : {};
        node = node[part] as Record<PropertyKey, unknown>;
    }
    const last = path[path.length - 1]!;
    if ("remove" in edit) delete node[last];
    else node[last] = edit.value;
    return copy;
}

const editedKey = (edit: ConfigEdit) => keyPath("remove" in edit ? edit.remove : edit.set);
const line = (p: ConfigProblem) => `${p.key}: ${p.message}`;
/** A command the message prints that changes plain config (secrets are set by the operator, never suggested with a value). */
const PRINTED_COMMAND = /pulumi config (rm|set --path) /;
/** A command whose value the operator reads from elsewhere (`"$(cat issuer-ca.crt)"`): their step, not a change the config can make. */
const OPERATORS_VALUE = /pulumi config set --path '[^']+' "\$\(/;

/**
 * Applies every suggested change, round after round, until none is left. Returns what failed: a
 * message that prints a command without carrying its change, a problem that comes back after its
 * change, a problem on a key a suggestion has just changed, or suggestions that never settle.
 */
function settle(start: Raw): { readonly failures: string[]; readonly last: ReturnType<typeof told>; readonly applied: number } {
    const failures: string[] = [];
    let raw = start;
    let applied = 0;
    for (let round = 0; round < 40; round++) {
        const now = told(raw);
        for (const p of now.problems) {
            if (p.fix && !p.message.includes(editCommand(p.fix)))
                failures.push(`"${line(p)}" does not print its change ${editCommand(p.fix)}`);
            if (!p.fix && PRINTED_COMMAND.test(p.message) && !OPERATORS_VALUE.test(p.message))
                failures.push(`"${line(p)}" prints a command but carries no change`);
        }
        const fixes = now.problems.filter((p) => p.fix);
        if (fixes.length === 0) return { failures, last: now, applied };
        // One change at a time: two problems may suggest changes to the same block.
        const first = fixes[0]!;
        const next = apply(raw, first.fix!);
        const after = told(next);
        if (after.problems.some((p) => p.key === first.key && p.message === first.message)) {
            failures.push(`"${line(first)}" is still told after ${editCommand(first.fix!)}`);
            return { failures, last: after, applied };
        }
        const edited = editedKey(first.fix!);
        const contradicting = after.problems.filter((p) => !after.taken && (p.key === edited || p.key.startsWith(`${edited}.`)));
        for (const p of contradicting) failures.push(`after ${editCommand(first.fix!)} (for "${line(first)}"): "${line(p)}"`);
        if (now.taken && !after.taken) {
            failures.push(
                `after ${editCommand(first.fix!)} (for warning "${line(first)}") the stack is refused: ${after.problems.map(line).join("; ")}`,
            );
        }
        if (failures.length > 0) return { failures, last: after, applied };
        raw = next;
        applied++;
    }
    failures.push("the suggestions did not settle within forty changes");
    return { failures, last: told(raw), applied };
}

const incluster = (registry: Raw = {}, rest: Raw = {}): Raw => ({
    containerRegistry: { host: "registry.example.test", pathPrefix: "dev" },
    registry: { mode: "in-cluster", ...registry },
    ...rest,
});
const external = (registry: Raw = {}, rest: Raw = {}): Raw => ({
    containerRegistry: { host: "registry.example.test", pathPrefix: "dev" },
    registry: { mode: "external-host", ...registry },
    externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } },
    ...rest,
});
const kind = (registry: Raw = {}, rest: Raw = {}, containerRegistry: Raw = {}): Raw => ({
    containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev", ...containerRegistry },
    registry: { mode: "kind", ...registry },
    ...rest,
});
const existing = (registry: Raw = {}, rest: Raw = {}, containerRegistry: Raw = {}): Raw => ({
    containerRegistry: { host: "registry.corp.example.test", pathPrefix: "dev", ...containerRegistry },
    registry: { mode: "existing", ...registry },
    nodes: { delivery: "none" },
    ...rest,
});
const PEM = "-----BEGIN CERTIFICATE-----\nMIIBsuggestions\n-----END CERTIFICATE-----\n";

/**
 * A stack file for each rule that suggests one change, and whether it is taken once the suggestions
 * are applied (false where the last step needs the operator's own value, such as a bucket's name).
 */
const RULES: readonly [string, Raw, boolean][] = [
    ["a CA without an issuer of one's own", incluster({ tls: { mode: "cert-manager", certManagerCaCertificate: PEM } }), true],
    ["several replicas on a volume", incluster({ replicas: 3 }), false],
    [
        "pushes without credentials",
        incluster({}, { containerRegistry: { host: "registry.example.test", pathPrefix: "dev", requiresAuthForPush: false } }),
        true,
    ],
    [
        "a Maven repository served without its account",
        incluster({}, { mavenRegistry: { host: "registry.example.test", pathPrefix: "maven", requiresAuthForPush: false } }),
        true,
    ],
    ["plain HTTP for a registry of our own", incluster({}, { nodes: { insecurePlainHttp: true } }), true],
    [
        "reads with credentials that nothing pulling gets",
        incluster({}, { containerRegistry: { host: "registry.example.test", pathPrefix: "dev", requiresAuthForPull: true } }),
        true,
    ],
    [
        "a created Gateway in another namespace",
        incluster({}, { inCluster: { exposure: "gateway", gateway: { className: "traefik", namespace: "elsewhere" } } }),
        true,
    ],
    [
        "a created Gateway's listener named otherwise",
        incluster({}, { inCluster: { exposure: "gateway", gateway: { className: "traefik", sectionName: "web" } } }),
        true,
    ],
    [
        "the cluster DNS with a port other than 443",
        incluster(
            {},
            {
                containerRegistry: { host: "registry.example.test", port: 8443, pathPrefix: "dev" },
                inCluster: { clusterDns: { flavour: "k3s" } },
            },
        ),
        true,
    ],
    ["trust-manager without a CA", incluster({ tls: { mode: "provided" } }, { caConfigMap: { delivery: "trust-manager" } }), true],
    ["caches beside an existing registry", existing({ mirrors: [{ upstream: "docker.io" }] }), true],
    ["caches for an allowlist that lists nobody", incluster({ mirrors: [{ upstream: "docker.io" }], mirrorPull: "allowlist" }), true],
    ["an allowlist for an existing registry", existing({ allowedNetworks: ["10.0.0.0/8"] }), true],
    ["accounts of an existing registry", existing({}, {}, { pushAccounts: [{ name: "team", prefixes: ["dev/team/"] }] }), true],
    [
        "rotation of an operator's password",
        incluster(
            {},
            {
                containerRegistry: {
                    host: "registry.example.test",
                    pathPrefix: "dev",
                    pushAccounts: [{ name: "team", prefixes: ["dev/team/"], password: "operator", rotation: 2 }],
                },
            },
        ),
        true,
    ],
    [
        "retention of an existing registry",
        existing({ maintenance: { retention: { rules: [{ prefix: "dev/app/", keepNewest: 5 }] } } }),
        true,
    ],
    [
        "retention without garbage collection",
        incluster({ maintenance: { retention: { rules: [{ prefix: "dev/app/", keepNewest: 5 }] } } }),
        true,
    ],
    [
        "a retention prefix outside the path prefix",
        incluster({ maintenance: { garbageCollection: { enabled: true }, retention: { rules: [{ prefix: "app/", keepNewest: 5 }] } } }),
        true,
    ],
    [
        "a push account's prefix outside the path prefix",
        incluster(
            {},
            {
                containerRegistry: {
                    host: "registry.example.test",
                    pathPrefix: "dev",
                    pushAccounts: [{ name: "team", prefixes: ["team/"] }],
                },
            },
        ),
        true,
    ],
    [
        "backups of a volume the images are not on",
        incluster({
            storage: { kind: "s3", s3: { bucket: "images" } },
            maintenance: { backup: { enabled: true, destination: { kind: "s3", bucket: "backups" } } },
        }),
        true,
    ],
    ["kind named other than localhost", kind({}, {}, { host: "registry.example.test" }), true],
    ["kind on a port other than its host port", kind({}, {}, { port: 5003 }), true],
    ["kind's caches for accounts", kind({ mirrors: [{ upstream: "docker.io" }], mirrorPull: "accounts" }), true],
    ["kind's caches for an allowlist", kind({ mirrors: [{ upstream: "docker.io" }], mirrorPull: "allowlist" }), true],
    ["kind's cluster named twice over", kind({}, { kind: { clusterName: "one", clusterNames: ["one", "two"] } }), true],
    ["replicas on kind", kind({ replicas: 3 }), true],
    ["replicas on an external host", external({ replicas: 2 }), true],
    ["a block of another mode", external({}, { inCluster: { namespace: "dso" } }), true],
    ["a TLS mode's setting under another", external({ tls: { mode: "generated-ca", acmeEmail: "ops@example.test" } }), true],
    ["a setting with no effect", incluster({}, { pullSecrets: { secretName: "team-pull" } }), true],
];

describe("every change the configuration suggests, applied, is taken", () => {
    it.each(RULES)("%s", (_name, raw, takenAfter) => {
        const result = settle(raw);
        expect(result.failures).toEqual([]);
        expect(result.applied, "the stack file reaches no rule that suggests a change").toBeGreaterThan(0);
        expect(result.last.taken, result.last.problems.map(line).join("\n")).toBe(takenAfter);
    });

    it("over every stack file of the every-setting walk", () => {
        const variations = everySettingVariations();
        expect(variations.length).toBeGreaterThan(500);
        let suggested = 0;
        const failures: string[] = [];
        for (const { name, raw } of variations) {
            const result = settle(raw);
            if (result.applied > 0) suggested++;
            failures.push(...result.failures.map((f) => `${name}: ${f}`));
        }
        expect(failures).toEqual([]);
        // The walk reaches suggestions: it is no empty check.
        expect(suggested).toBeGreaterThan(50);
    });
});
