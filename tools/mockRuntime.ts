/**
 * Pulumi's mock runtime, set up the way the offline synth and the tests need it: stack config given
 * as in a stack file (secure values as placeholders, never decrypted), provider outputs replaced by
 * readable placeholders, and every registration recorded with its parent and with secret inputs
 * redacted.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";

export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";

/** Wire markers of Pulumi's property serialization. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface RecordedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** URN of the parent resource, undefined for the stack itself. */
    readonly parentUrn?: string;
    readonly custom: boolean;
    /** Inputs as registered; secret values replaced by "[secret]", unknown ones by "[unknown]". */
    readonly inputs: Record<string, unknown>;
    /** Inputs as the mock saw them (secrets unwrapped: placeholders in synth, test values in tests). */
    readonly rawInputs: Record<string, unknown>;
    /** What the mock returned as the resource's state. */
    readonly state: Record<string, unknown>;
}

/**
 * Provider outputs that only exist after deployment, as placeholders. Secret outputs (keys, passwords,
 * hashes) are "[secret]"; the rest "[unknown]". Everything else echoes the inputs.
 */
export function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: SECRET, bcryptHash: SECRET };
        case "random:index/randomBytes:RandomBytes":
            return { ...inputs, base64: SECRET, hex: SECRET };
        case "random:index/randomId:RandomId":
            return { ...inputs, hex: UNKNOWN, b64Url: UNKNOWN, b64Std: UNKNOWN, dec: UNKNOWN };
        case "tls:index/privateKey:PrivateKey":
            return {
                ...inputs,
                privateKeyPem: SECRET,
                privateKeyOpenssh: SECRET,
                privateKeyPemPkcs8: SECRET,
                publicKeyPem: UNKNOWN,
                publicKeyOpenssh: UNKNOWN,
                publicKeyFingerprintSha256: UNKNOWN,
            };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { ...inputs, certPem: UNKNOWN, validityStartTime: UNKNOWN, validityEndTime: UNKNOWN };
        case "tls:index/certRequest:CertRequest":
            return { ...inputs, certRequestPem: UNKNOWN };
        case "command:remote:Command":
        case "command:local:Command":
            return { ...inputs, stdout: UNKNOWN, stderr: UNKNOWN };
        default:
            if (type.startsWith("kubernetes:")) {
                const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
                return { ...inputs, metadata: { ...metadata, name: metadata.name ?? name } };
            }
            return { ...inputs };
    }
}

/** Replaces Pulumi's wire markers for secrets and unknowns with readable placeholders. */
export function redactWireValue(value: unknown): unknown {
    if (value === UNKNOWN_VALUE) return UNKNOWN;
    if (Array.isArray(value)) return value.map(redactWireValue);
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[SIG_KEY] === SECRET_SIG) return SECRET;
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redactWireValue(v)]));
    }
    return value;
}

export interface MockRuntimeOptions {
    readonly project?: string;
    readonly stack: string;
    /** Full config keys ("dso-registry:registry") to raw string values as Pulumi passes them. */
    readonly config?: Readonly<Record<string, string>>;
    /** Config keys that are secret. */
    readonly secretKeys?: readonly string[];
}

export interface MockRuntime {
    /** Every registration so far, in order. */
    readonly resources: RecordedResource[];
    /** Resources of one type token. */
    ofType(type: string): RecordedResource[];
    /** The one resource with this name; throws when there is none or several. */
    byName(name: string): RecordedResource;
}

/**
 * Installs the mock runtime. Call before any resource is created (in tests: before importing the
 * code under test's module-level resources, if any).
 */
export async function startMockRuntime(options: MockRuntimeOptions): Promise<MockRuntime> {
    const resources: RecordedResource[] = [];
    const project = options.project ?? "dso-registry";
    const secretKeys = options.secretKeys ?? [];
    runtimeConfig.setAllConfig({ ...(options.config ?? {}) }, [...secretKeys]);

    const pending = new Map<string, { parentUrn?: string; inputs: Record<string, unknown> }>();
    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
                const state = mockState(args.type, args.name, args.inputs);
                const key = `${args.type}::${args.name}`;
                const seen = pending.get(key);
                const urn = seen?.parentUrn
                    ? `${seen.parentUrn.split("::")[0]}::${seen.parentUrn.split("::")[1]}::${seen.parentUrn.split("::")[2]!.split("$").pop()}$${args.type}::${args.name}`
                    : `urn:pulumi:${options.stack}::${project}::${args.type}::${args.name}`;
                resources.push({
                    urn,
                    type: args.type,
                    name: args.name,
                    parentUrn: seen?.parentUrn,
                    custom: args.custom ?? true,
                    inputs: (seen?.inputs ?? args.inputs) as Record<string, unknown>,
                    rawInputs: args.inputs,
                    state,
                });
                return { id: args.custom === false ? "" : `${args.name}-id`, state };
            },
            call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
                return args.inputs;
            },
        },
        project,
        options.stack,
        false,
    );

    // Record the parent and the secret-marked inputs, which the mock callback does not see.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource(req: RegisterRequest, callback: unknown): unknown;
    };
    const registerResource = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: RegisterRequest, callback: unknown) => {
        const raw = req.getObject()?.toJavaScript() ?? {};
        pending.set(`${req.getType()}::${req.getName()}`, {
            parentUrn: req.getParent() || undefined,
            inputs: redactWireValue(raw) as Record<string, unknown>,
        });
        return registerResource(req, callback);
    };

    return {
        resources,
        ofType: (type) => resources.filter((r) => r.type === type),
        byName(name) {
            const found = resources.filter((r) => r.name === name);
            if (found.length !== 1) {
                throw new Error(`expected one resource named "${name}", found ${found.length}: ${resources.map((r) => r.name).join(", ")}`);
            }
            return found[0]!;
        },
    };
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** The value of an Output, for tests and the synth (never inside `apply`). */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((value) => resolve(value)));
}

/** Whether an Output is marked secret. */
export function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
    return (output as unknown as { isSecret: Promise<boolean> }).isSecret;
}

/** Waits until every registration the program started has been answered. */
export async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setImmediate(resolve));
    }
    await (pulumi.runtime as unknown as { disconnect?: () => Promise<void> }).disconnect?.();
}
