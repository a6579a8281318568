/** The values a stack file sets, each with its path, as the notices walk them. */

/** Every value the operator set, with its path: objects are walked, a list of objects item by item. */
export function setLeaves(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; value: unknown }[] {
    if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
        return value.flatMap((item, i) => setLeaves(item, [...path, i]));
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        return Object.entries(value).flatMap(([k, v]) => setLeaves(v, [...path, k]));
    }
    return path.length > 0 ? [{ path, value }] : [];
}

/** "nodes.list[].runtime" for ["nodes", "list", 0, "runtime"]. */
export function pattern(path: readonly PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? "[]" : `${i > 0 ? "." : ""}${String(p)}`)).join("");
}
