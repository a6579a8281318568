/**
 * Validation without Pulumi: raw values (already JSON-decoded) and the state of each secret key in,
 * the typed configuration out, or a ConfigError listing every problem at once.
 */
import { adviceWarnings } from "./advice";
import { MODE_SHAPES, modeOf } from "./modeShapes";
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
    const variant = mode ? MODE_SHAPES[mode].safeParse(raw, { reportInput: true }) : undefined;
    if (!mode || !variant?.success) {
        // Without a mode the catalogue says what is wrong everywhere (registry.mode first of all).
        const issues = variant?.error
            ? variant.error.issues.flatMap((issue) => describeShapeIssue(issue, raw, mode!))
            : (schema.safeParse(raw, { reportInput: true }).error?.issues ?? []).flatMap(describeIssue);
        throw new ConfigError([...issues, ...plaintextSecretProblems(states)]);
    }
    const c = variant.data;
    const requiredSecrets = requiredSecretsFor(c);
    const missingSecrets = requiredSecrets.filter((n) => states[n] === "missing");
    const problems: ConfigProblem[] = [
        ...crossChecks(c),
        ...plaintextSecretProblems(states),
        ...(options.allowMissingSecrets ? [] : missingSecrets.map(missingSecretProblem)),
    ];
    if (problems.length > 0) {
        throw new ConfigError(problems);
    }
    return {
        config: toSettings(c),
        requiredSecrets,
        missingSecrets,
        warnings: [...mootSettingWarnings(raw, c), ...adviceWarnings(c)],
        placeholders: placeholderProblems(raw),
    };
}
