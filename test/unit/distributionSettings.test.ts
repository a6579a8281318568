/**
 * `registry.distributionConfig`, the escape hatch into Distribution's config.yml: what the stack config
 * accepts and refuses (the program's keys with the setting to use, keys not offered, protocol and
 * credential headers, types of the offered keys), the warning in mode existing, and the registry's
 * config.yml of every placement that renders one (the committed stacks with the setting added).
 * Covers: components/shared/distributionSettings.ts, components/config/schema/distribution.ts,
 * components/config/mootSettings.ts (its row).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { ConfigError, type ConfigProblem, PROJECT, parseConfig } from "../../components/config";
import {
    distributionSettingProblems,
    OFFERED_DISTRIBUTION_KEYS,
    PROGRAM_DISTRIBUTION_KEYS,
} from "../../components/shared/distributionSettings";
import { readStackConfig, synthesizeConfig } from "../../tools/synth";
import { PROJECT_DIR } from "../support/synthCli";

const KEY = `${PROJECT}:registry.distributionConfig`;

function parse(
    distributionConfig: unknown,
    mode = "in-cluster",
): { problems: readonly ConfigProblem[]; warnings: readonly ConfigProblem[] } {
    try {
        const raw = {
            containerRegistry: { host: "registry.example.test", pathPrefix: "apps" },
            registry: { mode, distributionConfig, ...(mode === "existing" ? { tls: { mode: "public" } } : {}) },
            ...(mode === "existing" ? { nodes: { delivery: "none" } } : {}),
        };
        return { problems: [], warnings: parseConfig(raw, {}, { allowMissingSecrets: true }).warnings };
    } catch (error) {
        if (error instanceof ConfigError) return { problems: error.problems, warnings: [] };
        throw error;
    }
}

describe("distributionSettingProblems", () => {
    it.each(Object.keys(PROGRAM_DISTRIBUTION_KEYS))("refuses the program's %s, saying what decides it", (key) => {
        const [top, sub] = key.split(".") as [string, string | undefined];
        const problems = distributionSettingProblems(sub ? { [top]: { [sub]: "x" } } : { [top]: {} });
        expect(problems).toEqual([{ path: key.split("."), message: `${key} is the program's: ${PROGRAM_DISTRIBUTION_KEYS[key]}` }]);
    });

    it.each(["notification", "reporting", "catalog", "loglevel", "compatibility"])(
        "refuses %s, not offered, saying Distribution would ignore it",
        (key) => {
            expect(distributionSettingProblems({ [key]: {} })).toEqual([
                {
                    path: [key],
                    message: `${key} is not offered: Distribution ignores a key it does not know without a word, so only ${OFFERED_DISTRIBUTION_KEYS.join(", ")} are passed on`,
                },
            ]);
        },
    );

    it.each([
        ["Docker-Distribution-Api-Version", "is the registry protocol's or the program's to set"],
        ["Content-Type", "is the registry protocol's or the program's to set"],
        ["X-Content-Type-Options", "is the registry protocol's or the program's to set"],
        ["Authorization", "carries credentials, which plain stack config must not hold"],
        ["X Frame", "is not an HTTP header name"],
    ])("refuses the response header %s", (name, message) => {
        const [problem] = distributionSettingProblems({ http: { headers: { [name]: ["x"] } } });
        expect(problem?.path).toEqual(["http", "headers", name]);
        expect(problem?.message).toContain(message);
    });

    it("refuses a webhook header that carries credentials, naming the endpoint", () => {
        expect(
            distributionSettingProblems({
                notifications: { endpoints: [{ name: "a" }, { name: "b", headers: { Authorization: ["Bearer t"] } }] },
            }),
        ).toEqual([
            {
                path: ["notifications", "endpoints", 1, "headers", "Authorization"],
                message: expect.stringContaining("carries credentials"),
            },
        ]);
    });

    it("accepts each offered key", () => {
        expect(
            distributionSettingProblems({
                log: { level: "debug" },
                http: { headers: { "X-Frame-Options": ["DENY"] } },
                notifications: { endpoints: [] },
                validation: {},
            }),
        ).toEqual([]);
    });
});

describe("registry.distributionConfig in the stack config", () => {
    it.each<[string, unknown, string, string]>([
        ["the storage section", { storage: {} }, `${KEY}.storage`, "set registry.storage instead"],
        ["the listener", { http: { addr: ":5000" } }, `${KEY}.http.addr`, "Distribution listens only where the front reaches it"],
        ["auth", { auth: { htpasswd: {} } }, `${KEY}.auth`, "the front checks every request"],
        ["a typo of an offered key", { validations: {} }, `${KEY}.validations`, "ignores a key it does not know without a word"],
        ["an unknown log level", { log: { level: "loud" } }, `${KEY}.log.level`, '"error", "warn", "info", "debug"'],
        ["a key unknown in log", { log: { colour: true } }, `${KEY}.log.colour`, 'unknown key "colour"'],
        ["a header with no value", { http: { headers: { "X-Frame-Options": [] } } }, `${KEY}.http.headers.X-Frame-Options`, ""],
        [
            "a webhook that is not http",
            { notifications: { endpoints: [{ name: "a", url: "ftp://x.example.test" }] } },
            `${KEY}.notifications.endpoints[0].url`,
            "http or https URL",
        ],
        ["a webhook without endpoints", { notifications: { endpoints: [] } }, `${KEY}.notifications.endpoints`, ""],
        [
            "a duration Go cannot read",
            { notifications: { endpoints: [{ name: "a", url: "https://x.example.test", timeout: "2 seconds" }] } },
            `${KEY}.notifications.endpoints[0].timeout`,
            '"5s"',
        ],
        [
            "a URL rule that is no regular expression",
            { validation: { manifests: { urls: { allow: ["("] } } } },
            `${KEY}.validation.manifests.urls.allow[0]`,
            "not a regular expression",
        ],
    ])("refuses %s, naming the key", (_, value, key, message) => {
        const { problems } = parse(value);
        expect(problems.map((p) => p.key)).toContain(key);
        expect(problems.find((p) => p.key === key)?.message).toContain(message);
    });

    it("accepts the offered keys, typed, with the program's level and format as defaults", () => {
        expect(parse({ log: { fields: { env: "lab" } }, http: { headers: { "X-Frame-Options": ["DENY"] } } })).toEqual({
            problems: [],
            warnings: [],
        });
    });

    it.each(["in-cluster", "external-host", "kind"])("is no notice in mode %s", (mode) => {
        expect(parse({ log: { level: "debug" } }, mode).warnings.filter((w) => w.key.startsWith(KEY))).toEqual([]);
    });

    it("is refused in mode existing (the organisation's registry), with the command that takes it out", () => {
        expect(parse({ log: { level: "debug" } }, "existing").problems).toContainEqual(
            expect.objectContaining({
                key: KEY,
                message: expect.stringMatching(
                    /^has no place with registry\.mode "existing": remove it \(pulumi config rm --path 'dso-registry:registry\.distributionConfig'\)/,
                ),
            }),
        );
    });
});

describe("the registry's config.yml in every placement that renders one", () => {
    const settings = { log: { level: "debug" }, http: { headers: { "X-Frame-Options": ["DENY"] } } };
    const files = new Map<string, Map<string, string>>();

    beforeAll(async () => {
        for (const stack of ["local", "prod", "kind"]) {
            const { config, secretKeys } = readStackConfig(PROJECT_DIR, stack);
            const registry = { ...JSON.parse(config[`${PROJECT}:registry`] ?? "{}"), distributionConfig: settings };
            const synth = await synthesizeConfig(stack, {
                config: { ...config, [`${PROJECT}:registry`]: JSON.stringify(registry) },
                secretKeys,
            });
            files.set(stack, synth.files);
        }
    }, 120_000);

    const registryConfigs: [string, string, (text: string) => string][] = [
        ["local", "k8s/dso/ConfigMap-registry-config.yaml", (text) => YAML.parse(text).data["config.yml"]],
        ["prod", "hosts/registry-01.dso.example.com/etc/dso-registry/config.yml", (text) => text],
        ["prod", "hosts/registry-01.dso.example.com/etc/dso-registry/config-readonly.yml", (text) => text],
        ["kind", "hosts/localhost/root/.local/share/dso-registry-kind/front/config.yml", (text) => text],
    ];

    it.each(registryConfigs)("%s: %s has the operator's level and header", (stack, file, configOf) => {
        const text = files.get(stack)?.get(file);
        expect(text, `${stack} wrote no ${file}`).toBeDefined();
        const doc = YAML.parse(configOf(text!));
        expect(doc.log.level).toBe("debug");
        expect(doc.http.headers).toEqual({ "X-Content-Type-Options": ["nosniff"], "X-Frame-Options": ["DENY"] });
    });

    it("the pull-through caches keep the program's config", () => {
        const cache = files.get("prod")?.get("hosts/registry-01.dso.example.com/etc/dso-registry/mirrors/docker.io/config.yml");
        expect(YAML.parse(cache ?? "").log.level).toBe("info");
        expect(cache).not.toContain("X-Frame-Options");
    });
});

describe("docs/distribution-config.md", () => {
    const page = readFileSync(path.join(PROJECT_DIR, "docs/distribution-config.md"), "utf8");

    it.each([...OFFERED_DISTRIBUTION_KEYS, ...Object.keys(PROGRAM_DISTRIBUTION_KEYS)])("names %s", (key) => {
        // As a key of its own or the start of one (`log.level`).
        expect(page).toMatch(new RegExp(`\`${key.replace(/\./g, "\\.")}[.\`]`));
    });
});
