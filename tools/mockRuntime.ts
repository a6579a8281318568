/**
 * Pulumi's mock runtime, set up the way the offline synth and the tests need it: stack config given
 * as in a stack file (secure values as placeholders, never decrypted), provider outputs replaced by
 * realistic values or readable placeholders, and every registration recorded with its parent, the
 * URN the engine would give it, its options and its inputs with secrets redacted. The program under it is the real one: nothing in components/ knows
 * it runs under mocks.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { Alias } from "@pulumi/pulumi/proto/alias_pb";
import type { RegisterResourceRequest, RegisterResourceResponse } from "@pulumi/pulumi/proto/resource_pb";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { MockMonitor, type Mocks } from "@pulumi/pulumi/runtime/mocks";
import { deterministicBcrypt } from "../components/accounts/registryAccounts";
import { type AliasSpec, aliasUrn, urnOf } from "./identity";

export const SECRET = "[secret]";
export const UNKNOWN = "[unknown]";
/** How every mock password starts (`mockPassword`), so that rendered text can be searched for one. */
export const MOCK_PASSWORD_PREFIX = "mock-password-of-";

/** Wire markers of Pulumi's property serialization, as the SDK declares them. */
const { specialSecretSig: SECRET_SIG, specialSigKey: SIG_KEY, unknownValue: UNKNOWN_VALUE } = pulumi.runtime;

/** The options of a registration that change what the engine does, as the engine receives them. */
export interface RecordedOptions {
    readonly protect: boolean;
    readonly retainOnDelete: boolean;
    readonly deleteBeforeReplace: boolean;
    readonly replaceOnChanges: readonly string[];
    readonly ignoreChanges: readonly string[];
    /**
     * URNs the resource waits for although none of its inputs refers to them: its `dependsOn`, where one
     * on a component stands for every custom resource inside it (the SDK sends it so).
     */
    readonly dependsOn: readonly string[];
    /** The URNs its own aliases name (aliases inherited from a parent are the engine's to derive). */
    readonly aliases: readonly string[];
}

export interface RecordedResource {
    /** The URN the engine gives the resource (tools/identity.ts). */
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    /** URN of the parent resource, undefined for the stack itself. */
    readonly parentUrn?: string;
    readonly custom: boolean;
    /** Inputs as registered; secret values replaced by "[secret]", unknown ones by "[unknown]". */
    readonly inputs: Record<string, unknown>;
    /**
     * Inputs as the engine receives them: every secret wrapped exactly where the program marked it (a
     * nested value, not the whole property), unknown values as the wire's marker. `redactWireValue` reads it.
     */
    readonly wireInputs: Record<string, unknown>;
    /**
     * Inputs as the mock saw them: values in plain text (placeholders in synth, test values in tests),
     * a property holding a secret wrapped as `{ <sig>: …, value }`.
     */
    readonly rawInputs: Record<string, unknown>;
    /** What the mock returned as the resource's state. */
    readonly state: Record<string, unknown>;
    /** Output names the resource asks the engine to keep secret in state. */
    readonly additionalSecretOutputs: readonly string[];
    readonly options: RecordedOptions;
    /** The provider reference (`<provider URN>::<id>`) the resource was registered with; undefined for the default provider. */
    readonly provider?: string;
    /**
     * Every URN the resource waits for, as the engine orders its steps: those its inputs refer to and its
     * `dependsOn` (the parent is not one).
     */
    readonly dependencies: readonly string[];
    /** Per input property, the URNs its value came from (an Output of those resources). */
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
}

/** Canonical JSON of a value: object keys sorted, so the same inputs give the same text in any order. */
function canonical(value: unknown): string {
    if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
    if (value && typeof value === "object")
        return `{${Object.keys(value as Record<string, unknown>)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
            .join(",")}}`;
    return JSON.stringify(value) ?? "null";
}

/**
 * The value the mock gives a generated password (or any random result). The random provider makes a new
 * value whenever any input changes (every input forces a replacement, keepers included) and keeps it
 * otherwise; so does the mock: the value is derived from the resource's name and its inputs. It starts
 * with `mock-password-of-<name>` so a test can look for it in rendered text by name alone.
 */
export function mockPassword(name: string, inputs: Record<string, unknown> = {}): string {
    const digest = createHash("sha256")
        .update(`${name}\0${canonical(inputs)}`)
        .digest("hex");
    return `${MOCK_PASSWORD_PREFIX}${name}-${digest.slice(0, 12)}`;
}

/**
 * A real bcrypt hash of the mock password, made as the program hashes supplied passwords
 * (`deterministicBcrypt`: the salt derived from the name and the password, which is derived from the
 * inputs), so the same program gives the same bytes on every run. Cost 4: the renderers check the
 * format, not the cost, and a higher one only slows every synth and test.
 */
export function mockBcryptHash(name: string, inputs: Record<string, unknown> = {}): string {
    return deterministicBcrypt(name, mockPassword(name, inputs), 4);
}

/**
 * Provider outputs that only exist after deployment. Generated passwords get a fixed password and a
 * real bcrypt hash of it, so the program validates them as strictly as real ones. Outputs nothing in
 * the program parses stay readable placeholders: "[secret]" for keys and secret bytes, "[unknown]"
 * for the rest. Everything else echoes the inputs.
 */
export function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: mockPassword(name, inputs), bcryptHash: mockBcryptHash(name, inputs) };
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
        case "kubernetes:core/v1:Service": {
            // The API server assigns a ClusterIP: a fixed address per resource in microk8s's service range.
            const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
            const spec = (inputs.spec ?? {}) as Record<string, unknown>;
            const octet = (createHash("sha256").update(name).digest()[0]! % 254) + 1;
            return {
                ...inputs,
                metadata: { ...metadata, name: metadata.name ?? name },
                spec: { ...spec, clusterIP: spec.clusterIP ?? `10.152.183.${octet}` },
            };
        }
        default:
            // Other random resources (RandomString, RandomId, …): a result that changes with the inputs too.
            if (type.startsWith("random:")) return { ...inputs, result: mockPassword(name, inputs) };
            if (type.startsWith("kubernetes:")) {
                const metadata = (inputs.metadata ?? {}) as Record<string, unknown>;
                return { ...inputs, metadata: { ...metadata, name: metadata.name ?? name } };
            }
            return { ...inputs };
    }
}

/**
 * Replaces Pulumi's wire markers for secrets and unknowns with readable values: an unknown with
 * "[unknown]", a secret with what `showSecret` makes of its value (once its own markers are replaced);
 * by default the whole secret is "[secret]".
 */
export function redactWireValue(value: unknown, showSecret: (value: unknown) => unknown = () => SECRET): unknown {
    if (value === UNKNOWN_VALUE) return UNKNOWN;
    if (Array.isArray(value)) return value.map((item) => redactWireValue(item, showSecret));
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (record[SIG_KEY] === SECRET_SIG) return showSecret(redactWireValue(record.value, showSecret));
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, redactWireValue(v, showSecret)]));
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
    /**
     * Provider outputs of a resource in place of `mockState`'s, where it returns some: a test that
     * deploys the stack onto real software gives generated material real values (undefined: mockState).
     */
    readonly providerState?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;
}

export interface MockRuntime {
    /** Every registration so far, in order. */
    readonly resources: RecordedResource[];
    /**
     * Registrations the engine would refuse (a duplicate URN), in its words. Pulumi's mock monitor keeps
     * the last of two silently; the engine fails the whole preview, so a run with any is a failed run.
     */
    readonly errors: string[];
    /** Resources of one type token. */
    ofType(type: string): RecordedResource[];
    /** The one resource with this name; throws when there is none or several. */
    byName(name: string): RecordedResource;
}

/** Features Pulumi's own `setMocks` turns off: mocks see plain values, and run no transform callbacks. */
const UNSUPPORTED_FEATURES = new Set(["outputValues", "transforms", "invokeTransforms"]);

type Callback<T> = (error: unknown, response: T | undefined) => void;

/** An alias as the SDK sends it: a URN, or a spec whose empty fields mean "as the resource's own". */
function aliasSpecOf(alias: Alias): AliasSpec {
    const spec = alias.getSpec();
    if (!spec) return { urn: alias.getUrn() };
    return {
        name: spec.getName() || undefined,
        type: spec.getType() || undefined,
        stack: spec.getStack() || undefined,
        project: spec.getProject() || undefined,
        parentUrn: spec.getParenturn() || undefined,
        noParent: spec.getNoparent(),
    };
}

/** Per input property, the URNs its value came from. */
function propertyDependenciesOf(req: RegisterResourceRequest): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((deps, key) => {
        out[key] = deps.getUrnsList();
    });
    return out;
}

/** The options of a registration that change what the engine does (see RecordedOptions). */
function optionsOf(req: RegisterResourceRequest, urn: string): RecordedOptions {
    const fromInputs = new Set<string>();
    req.getPropertydependenciesMap().forEach((deps) => {
        for (const dependency of deps.getUrnsList()) fromInputs.add(dependency);
    });
    const owner = { urn, parentUrn: req.getParent() || undefined };
    return {
        protect: req.getProtect() === true,
        retainOnDelete: req.getRetainondelete() === true,
        deleteBeforeReplace: req.getDeletebeforereplace(),
        replaceOnChanges: req.getReplaceonchangesList(),
        ignoreChanges: req.getIgnorechangesList(),
        dependsOn: req.getDependenciesList().filter((dependency) => !fromInputs.has(dependency)),
        aliases: req.getAliasesList().map((alias) => aliasUrn(owner, aliasSpecOf(alias))),
    };
}

/** The engine's error for a URN registered twice in one program run. */
export function duplicateUrnMessage(urn: string): string {
    return `Duplicate resource URN '${urn}'; try giving it a unique name`;
}

/**
 * Pulumi's mock monitor that also records each registration as the engine would receive it. The mock
 * builds a URN from the parent's last type token only and keeps the stack's type in it; this monitor
 * answers with the URN the engine gives (every parent's type, the stack's left out), so that parents,
 * aliases and recorded identities are the ones a deployment has.
 */
class RecordingMonitor extends MockMonitor {
    /** URNs registered so far: the engine refuses a second registration of one (step_generator.go). */
    private readonly registered = new Set<string>();

    constructor(
        mocks: Mocks,
        private readonly record: (resource: RecordedResource) => void,
        private readonly fail: (message: string) => void,
    ) {
        super(mocks);
    }

    override async registerResource(req: RegisterResourceRequest, callback: Callback<RegisterResourceResponse>): Promise<void> {
        const object = req.getObject();
        // The wire form keeps secrets marked where they are; the mock only sees them unwrapped.
        const wire = object?.toJavaScript() ?? {};
        const urn = urnOf(pulumi.getStack(), pulumi.getProject(), req.getParent() || undefined, req.getType(), req.getName());
        // The engine refuses a second registration of a URN (pkg/diag/errors.go, GetDuplicateResourceURNError)
        // and `pulumi preview` fails. Answering it with an error here would leave the SDK's promises of the
        // resource rejected with no one to catch them; the run goes on and the caller fails it on `errors`.
        if (this.registered.has(urn)) this.fail(duplicateUrnMessage(urn));
        this.registered.add(urn);
        await super.registerResource(req, (error, response) => {
            if (!error && response) {
                const registered = this.resources.get(response.getUrn());
                if (registered) {
                    this.resources.delete(response.getUrn());
                    this.resources.set(urn, { ...registered, urn });
                }
                response.setUrn(urn);
                const state = response.getObject();
                this.record({
                    urn,
                    type: req.getType(),
                    name: req.getName(),
                    parentUrn: req.getParent() || undefined,
                    custom: req.getCustom(),
                    inputs: redactWireValue(wire) as Record<string, unknown>,
                    wireInputs: wire,
                    rawInputs: object ? pulumi.runtime.deserializeProperties(object) : {},
                    state: state ? pulumi.runtime.deserializeProperties(state) : {},
                    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
                    options: optionsOf(req, urn),
                    provider: req.getProvider() || undefined,
                    dependencies: req.getDependenciesList(),
                    propertyDependencies: propertyDependenciesOf(req),
                });
            }
            callback(error, response);
        });
    }

    override supportsFeature(req: { getId(): string }, callback: Callback<{ getHassupport(): boolean }>): void {
        const supported = !UNSUPPORTED_FEATURES.has(req.getId());
        callback(null, { getHassupport: () => supported });
    }
}

/**
 * What a read of an existing object finds: a Secret read by `namespace/name` (the CA of the program's
 * cert-manager chain) holds its certificate as a placeholder, in each key cert-manager writes.
 */
export function mockReadState(type: string, id: string): Record<string, unknown> {
    if (type !== "kubernetes:core/v1:Secret") return {};
    const [namespace, name] = id.includes("/") ? id.split("/", 2) : ["default", id];
    const placeholder = Buffer.from(UNKNOWN).toString("base64");
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace, name },
        type: "kubernetes.io/tls",
        data: { "tls.crt": placeholder, "ca.crt": placeholder, "tls.key": Buffer.from(SECRET).toString("base64") },
    };
}

/**
 * Installs the mock runtime. Call before any resource is created (in tests: before importing the
 * code under test's module-level resources, if any).
 */
export async function startMockRuntime(options: MockRuntimeOptions): Promise<MockRuntime> {
    const resources: RecordedResource[] = [];
    const errors: string[] = [];
    const project = options.project ?? "dso-registry";
    runtimeConfig.setAllConfig({ ...(options.config ?? {}) }, [...(options.secretKeys ?? [])]);
    const mocks: Mocks = {
        newResource: (args) =>
            // A read (`Resource.get`) names the object it reads by its ID.
            args.id
                ? { id: args.id, state: mockReadState(args.type, args.id) }
                : {
                      id: args.custom === false ? "" : `${args.name}-id`,
                      state: options.providerState?.(args.type, args.name, args.inputs) ?? mockState(args.type, args.name, args.inputs),
                  },
        call: (args) => args.inputs,
    };
    pulumi.runtime.setMockOptions(
        new RecordingMonitor(
            mocks,
            (r) => resources.push(r),
            (message) => errors.push(message),
        ),
        project,
        options.stack,
        false,
    );
    // The runtime asks its monitor what it supports (secrets above all) when a root resource is set;
    // under mocks that is all it does, as there is no engine to tell. Components created outside a
    // stack, as in most tests, need the answer too.
    await pulumi.runtime.setRootResource(undefined as unknown as pulumi.ComponentResource);

    return {
        resources,
        errors,
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
