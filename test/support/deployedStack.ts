/**
 * A committed stack as `pulumi up` would hand it to the cluster, Jenkins and the machines: the real
 * program runs under the mock runtime with the stack file's config, the stack's secrets set to values
 * the test makes, and TLS material made for real (realProviderState). What comes back is every
 * Kubernetes object and every resource's inputs with secret values in plain text, for the test to run
 * on real software. Generated passwords are the mock runtime's (a fixed password, a real bcrypt hash).
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { SecretName } from "../../components/config";
import { PROJECT } from "../../components/shared/facts";
import type { RecordedResource } from "../../tools/mockRuntime";
import { readStackConfig, runProgram } from "../../tools/synth";
import { realProviderState } from "./realProviderState";

/** The key of Pulumi's wire wrapper of a secret value, as the SDK declares it. */
const SIG_KEY = pulumi.runtime.specialSigKey;

/** The value with every secret wrapper taken off. */
export function plainValue(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(plainValue);
    if (value && typeof value === "object") {
        const record = value as Record<string, unknown>;
        if (SIG_KEY in record) return plainValue(record.value);
        return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, plainValue(v)]));
    }
    return value;
}

/** A Kubernetes object as the stack applies it. */
export interface AppliedObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: { readonly name: string; readonly namespace?: string; readonly [key: string]: unknown };
    readonly [field: string]: unknown;
}

export interface DeployedStack {
    readonly objects: readonly AppliedObject[];
    readonly warnings: readonly string[];
    /** The object of this kind and name (in `namespace` when given); throws when there is none. */
    object(kind: string, name: string, namespace?: string): AppliedObject;
    /** The `data` (ConfigMap) or `stringData`/`data` (Secret, base64 decoded) of an object. */
    dataOf(kind: "ConfigMap" | "Secret", name: string, namespace: string): Record<string, string>;
    /** Plain inputs of the one resource of this type and name. */
    inputsOf(type: string, name: string): Record<string, unknown>;
}

/** Runs the committed stack `stack` (Pulumi.<stack>.yaml) with these secrets, as a deployment would. */
export async function deployCommittedStack(stack: string, secrets: Partial<Record<SecretName, string>>): Promise<DeployedStack> {
    const fromFile = readStackConfig(path.join(__dirname, "..", ".."), stack);
    const config = { ...fromFile.config };
    const secretKeys = new Set(fromFile.secretKeys);
    for (const [name, value] of Object.entries(secrets)) {
        config[`${PROJECT}:${name}`] = value;
        secretKeys.add(`${PROJECT}:${name}`);
    }
    // The mocks see secret inputs (a key's PEM) wrapped; the provider works on the value.
    const run = await runProgram(stack, { config, secretKeys: [...secretKeys] }, (type, name, inputs) =>
        realProviderState(type, name, plainValue(inputs) as Record<string, unknown>),
    );
    const plainInputs = (r: RecordedResource) => plainValue(r.rawInputs) as Record<string, unknown>;
    const objects = run.resources
        .filter((r) => r.custom && r.type.startsWith("kubernetes:"))
        .map((r): AppliedObject => {
            const inputs = plainInputs(r) as unknown as AppliedObject;
            return { ...inputs, metadata: { ...inputs.metadata, name: inputs.metadata?.name ?? r.name } };
        });
    const object = (kind: string, name: string, namespace?: string) => {
        const found = objects.find(
            (o) => o.kind === kind && o.metadata.name === name && (namespace === undefined || o.metadata.namespace === namespace),
        );
        if (!found) throw new Error(`the ${stack} stack applies no ${kind} ${namespace ? `${namespace}/` : ""}${name}`);
        return found;
    };
    return {
        objects,
        warnings: run.warnings,
        object,
        dataOf(kind, name, namespace) {
            const o = object(kind, name, namespace);
            if (o.stringData) return o.stringData as Record<string, string>;
            const data = (o.data ?? {}) as Record<string, string>;
            if (kind === "ConfigMap") return data;
            return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
        },
        inputsOf(type, name) {
            const found = run.resources.filter((r) => r.type === type && r.name === name);
            if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}`);
            return plainInputs(found[0]!);
        },
    };
}
