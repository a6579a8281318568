/**
 * Validation without Pulumi: raw values (already JSON-decoded) and the state of each secret key in,
 * the typed configuration out, or a ConfigError listing every problem at once.
 */
import { adviceWarnings } from "./advice";
import { rewriteLegacyShape } from "./legacyShape";
import { MODE_SHAPES, type ModeConfig, modeOf } from "./modeShapes";
import { mootSettingWarnings } from "./mootSettings";
import { placeholderProblems } from "./placeholders";
import { ConfigError, type ConfigProblem } from "./problems";
import { crossChecks } from "./rules";
import { schema } from "./schema";
import { describeIssue, describeShapeIssue } from "./schemaIssues";
import {
    missingSecretProblem,
    plaintextSecretProblems,
    requiredSecretsFor,
    type SecretName,
    type SecretState,
    secretNames,
} from "./secrets";
import { type ParsedConfig, toSettings } from "./settings";

export interface ParseOptions {
    /** Tolerate required secrets that are not set (synth); `pulumi up` never does. */
    readonly allowMissingSecrets?: boolean;
}

export interface ParseResult {
    readonly config: ParsedConfig;
    /** Secrets this configuration needs. */
    readonly requiredSecrets: readonly SecretName[];
    /** Secrets it needs that are not set (allowed only when missing secrets are tolerated). */
    readonly missingSecrets: readonly SecretName[];
    /** Settings that have no effect with the rest of the configuration, and advice; told, not refused. */
    readonly warnings: readonly ConfigProblem[];
    /** Values still holding a `REPLACE-WITH-…` placeholder: a deployment refuses them, the synth warns. */
    readonly placeholders: readonly ConfigProblem[];
}

/**
 * Validates raw config values (already JSON-decoded) and the state of each secret key.
 * Throws ConfigError listing every problem found.
 */
export function parseConfig(
    raw: Readonly<Record<string, unknown>>,
    secretStates: Readonly<Partial<Record<SecretName, SecretState>>> = {},
    options: ParseOptions = {},
): ParseResult {
    const states = Object.fromEntries(secretNames.map((n) => [n, secretStates[n] ?? "missing"])) as Record<SecretName, SecretState>;
    const mode = modeOf(raw);
    const shaped = mode ? rewriteLegacyShape(raw, mode) : undefined;
    const variant = mode && shaped ? MODE_SHAPES[mode].safeParse(shaped.raw, { reportInput: true }) : undefined;
    if (!mode || !shaped || !variant?.success) {
        // Without a mode the catalogue says what is wrong everywhere (registry.mode first of all).
        const issues = variant?.error
            ? variant.error.issues.flatMap((issue) => describeShapeIssue(issue, shaped!.raw, mode!))
            : (schema.safeParse(raw, { reportInput: true }).error?.issues ?? []).flatMap(describeIssue);
        throw new ConfigError([...issues, ...plaintextSecretProblems(states)]);
    }
    // The catalogue's view (every key, with its defaults) for the rules across keys; the variant's TLS mode is its own default.
    const result = { data: schema.parse(withVariantTls(shaped.raw, variant.data)) };
    const requiredSecrets = requiredSecretsFor(result.data);
    const missingSecrets = requiredSecrets.filter((n) => states[n] === "missing");
    const problems: ConfigProblem[] = [
        ...crossChecks(result.data),
        ...plaintextSecretProblems(states),
        ...(options.allowMissingSecrets ? [] : missingSecrets.map(missingSecretProblem)),
    ];
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        config: toSettings(result.data, variant.data),
        requiredSecrets,
        missingSecrets,
        warnings: [...shaped.warnings, ...mootSettingWarnings(shaped.raw, result.data), ...adviceWarnings(result.data)],
        placeholders: placeholderProblems(raw),
    };
}

/** The stack file with registry.tls.mode as its variant decided it (a mode's own default, "public" for an existing registry). */
function withVariantTls(raw: Readonly<Record<string, unknown>>, variant: ModeConfig): Record<string, unknown> {
    if (!("tls" in variant.registry)) return { ...raw };
    const registry = (raw.registry ?? {}) as Record<string, unknown>;
    const tls = (registry.tls ?? {}) as Record<string, unknown>;
    return { ...raw, registry: { ...registry, tls: { ...tls, mode: variant.registry.tls.mode } } };
}
