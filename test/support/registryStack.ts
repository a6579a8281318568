/**
 * An in-cluster stack of the tests' own, as `pulumi up` would apply it: the real program runs under the
 * mock runtime (tools/synth.ts's runProgram, as the synth runs it) with a stack config the test gives
 * and its secrets set to values the test makes, and the Kubernetes objects come back with secret values
 * in plain text, for the stand-ins to run (test/support/podStandIn.ts). Generated passwords are the mock
 * runtime's; the accounts a test signs in with are the operator's, so their passwords are the test's.
 */
import type { SecretName } from "../../components/config";
import { PROJECT } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import { runProgram } from "../../tools/synth";
import { plainValue } from "./deployedStack";
import { realProviderState } from "./realProviderState";

/** Stack config keys (without the project's prefix) → values, as a stack file holds them. */
export type StackSettings = Readonly<Record<string, unknown>>;

/** Runs the program with `settings` and `secrets`; returns every Kubernetes object it applies in `namespace`. */
export async function synthStackObjects(
    settings: StackSettings,
    secrets: Partial<Record<SecretName, string>>,
    namespace = "dso",
): Promise<K8sObject[]> {
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(settings)) config[`${PROJECT}:${key}`] = JSON.stringify(value);
    for (const [name, value] of Object.entries(secrets)) config[`${PROJECT}:${name}`] = value;
    const secretKeys = Object.keys(secrets).map((name) => `${PROJECT}:${name}`);
    const run = await runProgram("stand-in", { config, secretKeys }, (type, name, inputs) =>
        realProviderState(type, name, plainValue(inputs) as Record<string, unknown>),
    );
    return run.resources
        .filter((r) => r.custom && r.type.startsWith("kubernetes:"))
        .map((r) => {
            const o = plainValue(r.rawInputs) as K8sObject;
            return { ...o, metadata: { ...o.metadata, name: o.metadata?.name ?? r.name } };
        })
        .filter((o) => o.metadata.namespace === namespace);
}

/** The `stringData` of an object, or its `data` (a Secret's base64 decoded). */
export function dataOf(objects: readonly K8sObject[], kind: "ConfigMap" | "Secret", name: string): Record<string, string> {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name) as Record<string, unknown> | undefined;
    if (!o) throw new Error(`no ${kind}/${name} among the objects: ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
    const data = (o.data ?? {}) as Record<string, string>;
    const decoded =
        kind === "Secret" ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")])) : data;
    return { ...decoded, ...((o.stringData ?? {}) as Record<string, string>) };
}
