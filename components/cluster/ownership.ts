/**
 * Whose are the Kubernetes objects this stack is about to make? An object of the same kind, namespace and
 * name that someone else made (by hand, microk8s, kind's own local-registry recipe, another tool) would
 * otherwise be taken over by the create, changed, and deleted by `destroy`. The gate (gate.ts) stops the
 * run before any change when one exists, naming it and saying how to hand it over or keep it.
 *
 * An object is this project's when it carries the label every object of the program carries
 * (`app.kubernetes.io/part-of: dso-registry`, or the kind placement's older `app.kubernetes.io/managed-by:
 * dso-registry`). That is what lets the program take back what it keeps on delete (the namespace and the
 * data claims, docs/decisions/retain-cluster-data.md) and nothing else. Why: docs/decisions/existing-objects.md
 */
import { PART_OF_LABELS, PROJECT } from "../shared/facts";
import { type MessageContext, type RegisteredObject, record, str, typeParts } from "./prerequisites";

/** An object the stack declares outright (not a patch of someone else's), by kind, namespace and name. */
export interface DeclaredObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly namespace?: string;
    readonly name: string;
}

/** A declared object the cluster already holds and this project did not make. */
export interface ForeignObject extends DeclaredObject {
    /** Who wrote it, from its managed fields (`kubectl`, `microk8s`…), when the API server says. */
    readonly managers: readonly string[];
    readonly created?: string;
    /** The kubeconfig context it was found in, when not the stack's own (a provider of the program's that names one). */
    readonly context?: string;
}

/** The label that hands an object to the program (PART_OF_LABELS). */
const [OWNER_LABEL, OWNER_VALUE] = Object.entries(PART_OF_LABELS)[0] as [string, string];

/** The objects of `objects` a create would meet: named, of a Kubernetes kind, not patches. */
export function declaredObjectsOf(objects: readonly RegisteredObject[]): DeclaredObject[] {
    const seen = new Set<string>();
    const declared: DeclaredObject[] = [];
    for (const object of objects) {
        const parts = typeParts(object.type);
        if (!parts || parts.patch) continue;
        const metadata = record(object.props.metadata);
        const name = str(metadata.name);
        if (!name) continue;
        const apiVersion = str(object.props.apiVersion) ?? parts.apiVersion;
        const kind = str(object.props.kind) ?? parts.kind;
        const namespace = str(metadata.namespace);
        const key = `${apiVersion} ${kind} ${namespace ?? ""} ${name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        declared.push({ apiVersion, kind, ...(namespace ? { namespace } : {}), name });
    }
    return declared;
}

/** Whether labels say the object is this project's. */
export function madeByProject(labels: Readonly<Record<string, unknown>>): boolean {
    return labels[OWNER_LABEL] === OWNER_VALUE || labels["app.kubernetes.io/managed-by"] === PROJECT;
}

/** kubectl's name for a kind's resource: `configmap`, `deployment.v1.apps`. */
export function kubectlResource(apiVersion: string, kind: string): string {
    const slash = apiVersion.lastIndexOf("/");
    const lower = kind.toLowerCase();
    return slash < 0 ? lower : `${lower}.${apiVersion.slice(slash + 1)}.${apiVersion.slice(0, slash)}`;
}

/** The objects of a `kubectl get … --output=json` answer: one object, or a List of them. */
export function itemsOf(json: string): Record<string, unknown>[] {
    if (json.trim() === "") return [];
    const parsed = record(JSON.parse(json));
    return Array.isArray(parsed.items) ? (parsed.items as unknown[]).map(record) : [parsed];
}

/** Which of `declared` (all of one resource and namespace) the answer holds without the project's label. */
export function foreignAmong(declared: readonly DeclaredObject[], items: readonly Record<string, unknown>[]): ForeignObject[] {
    const foreign: ForeignObject[] = [];
    for (const item of items) {
        const metadata = record(item.metadata);
        const object = declared.find((d) => d.name === str(metadata.name));
        if (!object || madeByProject(record(metadata.labels))) continue;
        const fields = Array.isArray(metadata.managedFields) ? (metadata.managedFields as unknown[]).map(record) : [];
        const managers = [...new Set(fields.map((f) => str(f.manager)).filter((m): m is string => m !== undefined))];
        const created = str(metadata.creationTimestamp);
        foreign.push({ ...object, managers, ...(created ? { created } : {}) });
    }
    return foreign;
}

const where = (o: ForeignObject) => `${o.namespace ? ` --namespace ${o.namespace}` : ""}${o.context ? ` --context ${o.context}` : ""}`;

/** One line per object: what it is, and the two ways on. */
function describeForeign(o: ForeignObject): string {
    const resource = kubectlResource(o.apiVersion, o.kind);
    const by = o.managers.length > 0 ? `written by ${o.managers.join(", ")}` : "made outside this project";
    const since = o.created ? `, since ${o.created}` : "";
    return [
        `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}${o.context ? ` in context ${o.context}` : ""} (${by}${since}) has no label ${OWNER_LABEL}=${OWNER_VALUE}.`,
        `    Keep it yours: rename or delete it yourself, or change the setting that names it (docs/decisions/existing-objects.md).`,
        `    Hand it to this stack, which will then change it and delete it on destroy: kubectl label ${resource} ${o.name}${where(o)} ${OWNER_LABEL}=${OWNER_VALUE}`,
    ].join("\n");
}

/** The refusal: every foreign object, and that nothing was changed. */
export function foreignObjectsMessage(foreign: readonly ForeignObject[], context: MessageContext = {}): string {
    const stack = context.stack ?? "<stack>";
    return [
        `The cluster already holds ${foreign.length === 1 ? "an object" : `${foreign.length} objects`} this stack would make, and this project did not make ${foreign.length === 1 ? "it" : "them"}; nothing was changed. For each:`,
        ...foreign.map((o) => `  - ${describeForeign(o)}`),
        `Then run the command again (pulumi up -s ${stack}).`,
    ].join("\n");
}
