/**
 * What the docs say the code does, checked against the code where a claim is mechanical: the challenge
 * the front answers with (quoted in several pages), combinations the config check refuses or accepts,
 * and defaults quoted in prose. A page that drifts from the code, or code that drifts from its page,
 * fails here with the page and the claim.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, PROJECT, parseConfig, type SecretName, type SecretState } from "../../components/config";
import { configRows } from "../../tools/configReference";
import { committedSynthDir } from "../support/committedSynth";
import { PROJECT_DIR } from "../support/synthCli";

const read = (file: string) => readFileSync(path.join(PROJECT_DIR, file), "utf8");
/** Every page a reader meets: the README, the docs and the decision records. */
const PAGES = [
    "README.md",
    ...readdirSync(path.join(PROJECT_DIR, "docs"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`),
    ...readdirSync(path.join(PROJECT_DIR, "docs/decisions"))
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/decisions/${f}`),
];

describe("the registry's challenge, as the docs quote it", () => {
    /** The origin part of a realm, whichever way it is written: Caddy's placeholders, a host, or a placeholder of the docs. */
    const normalise = (challenge: string) =>
        challenge
            .replace(/(\{dso_client_scheme\}|https?):\/\/\{http\.request\.hostport\}/g, "<origin>")
            .replace(/<this origin>|https?:\/\/(<host>|[a-z0-9.-]+(:\d+)?)/g, "<origin>");

    /** The challenges the Caddyfiles the committed stacks render answer registry requests with (the Maven route's Basic one aside). */
    function renderedChallenges(): Set<string> {
        const caddyfiles = [
            read(path.relative(PROJECT_DIR, path.join(committedSynthDir("local"), "k8s/dso/ConfigMap-registry-config.yaml"))),
            read(path.relative(PROJECT_DIR, path.join(committedSynthDir("prod"), "hosts/registry-01.dso.example.com/etc/caddy/Caddyfile"))),
        ];
        const challenges = new Set<string>();
        for (const text of caddyfiles) {
            const withoutMaven = text.replace(/handle @mavenUnauthorized \{[\s\S]*?\n\s*\}/g, "");
            for (const [, value] of withoutMaven.matchAll(/WWW-Authenticate `([^`]+)`/g)) challenges.add(normalise(value!));
        }
        return challenges;
    }

    const quotes = PAGES.filter((page) => page !== "docs/maven.md").flatMap((page) =>
        [...read(page).matchAll(/`WWW-Authenticate: ([^`]+)`/g)].map((m) => ({ page, quote: m[1]! })),
    );

    it("the docs quote it somewhere", () => {
        expect(quotes.length).toBeGreaterThanOrEqual(3);
    });

    it.each(quotes)("$page quotes $quote, which the front answers", ({ quote }) => {
        const rendered = renderedChallenges();
        expect([...rendered]).toContain(normalise(quote));
    });
});

describe("combinations the docs say are refused or accepted", () => {
    const secrets = (...names: SecretName[]): Partial<Record<SecretName, SecretState>> =>
        Object.fromEntries(names.map((n) => [n, "secret" as const]));
    const existing = {
        containerRegistry: { host: "registry.corp.example.com", pathPrefix: "team" },
        registry: { mode: "existing", tls: { mode: "public" } },
    };
    const inCluster = { containerRegistry: { host: "registry.example.com", pathPrefix: "team" }, registry: { mode: "in-cluster" } };
    const jenkins = (extra: Record<string, unknown>) => ({ ...inCluster, jenkins: { enabled: true, ...extra } });

    const claims: {
        page: string;
        says: string;
        raw: Record<string, unknown>;
        secrets?: Partial<Record<SecretName, SecretState>>;
        refused: boolean;
    }[] = [
        {
            page: "docs/jenkins.md",
            says: "for mode `existing`, `pullSecrets` is accepted too",
            raw: { ...existing, pullSecrets: { namespaces: ["apps"], flux: true } },
            secrets: secrets("existingPullUsername", "existingPullPassword"),
            refused: false,
        },
        {
            page: "docs/jenkins.md",
            says: "An `http://` Jenkins URL is refused unless the stack also sets `jenkins.allowPlainHttp: true`",
            raw: jenkins({ url: "http://jenkins.lab.example.com" }),
            secrets: secrets("jenkinsApiToken"),
            refused: true,
        },
        {
            page: "docs/jenkins.md",
            says: "An `http://` Jenkins URL is refused unless the stack also sets `jenkins.allowPlainHttp: true`",
            raw: jenkins({ url: "http://jenkins.lab.example.com", allowPlainHttp: true }),
            secrets: secrets("jenkinsApiToken"),
            refused: false,
        },
        {
            page: "docs/node-trust.md",
            says: "It is accepted only\nfor an existing registry (`registry.mode: existing`), never for a registry this program runs",
            raw: { ...inCluster, nodes: { insecurePlainHttp: true } },
            refused: true,
        },
        {
            page: "docs/node-trust.md",
            says: "It is accepted only\nfor an existing registry (`registry.mode: existing`), never for a registry this program runs",
            raw: { ...existing, nodes: { insecurePlainHttp: true } },
            refused: false,
        },
    ];

    it.each(claims)("$page: “$says” ($raw.registry.mode, refused: $refused)", ({ page, says, raw, secrets, refused }) => {
        expect(read(page)).toContain(says);
        let problems: string[] = [];
        try {
            parseConfig(raw, secrets ?? {});
        } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            problems = error.problems.map((p) => `${p.key}: ${p.message}`);
        }
        if (refused) expect(problems).not.toEqual([]);
        else expect(problems).toEqual([]);
    });
});

describe("defaults quoted in prose", () => {
    const defaults = new Map(
        configRows()
            .filter((row) => row.defaultValue !== undefined && typeof row.defaultValue !== "object")
            .map((row) => [row.key.slice(PROJECT.length + 1), String(row.defaultValue)]),
    );
    /**
     * "`key` (default `value`)", "`key` (default value)", "`key` (default: value)", and a table row that
     * starts with the key and says "(default …)" in the next cell, before any other key; the generated
     * page aside.
     */
    const patterns = [
        /`([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)+)`[^`(\n]{0,12}\(default:? `?([A-Za-z0-9./:_-]+?)`?:?[,;)\s]/g,
        /^\| `([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)+)` \|(?:(?!`[a-z][A-Za-z0-9]*\.)[^|\n])*?\(default:? `?([A-Za-z0-9./:_-]+?)`?:?[,;)\s]/gm,
    ];
    const quoted = PAGES.filter((page) => page !== "docs/configuration.md").flatMap((page) => {
        const found = patterns.flatMap((pattern) => [...read(page).matchAll(pattern)].map((m) => `${m[1]}=${m[2]}`));
        return [...new Set(found)]
            .map((claim) => ({ page, key: claim.slice(0, claim.indexOf("=")), value: claim.slice(claim.indexOf("=") + 1) }))
            .filter((claim) => defaults.has(claim.key));
    });

    it("finds the defaults the docs quote", () => {
        expect(quoted.length).toBeGreaterThanOrEqual(10);
    });

    it.each(quoted)("$page: $key defaults to $value", ({ key, value }) => {
        expect(value).toBe(defaults.get(key));
    });
});
