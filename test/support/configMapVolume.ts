/**
 * A ConfigMap volume laid out as the kubelet lays it out (its "atomic writer"): the files live in a
 * hidden timestamped directory, `..data` is a symlink to it, and each item is a symlink through
 * `..data`. An update writes a new timestamped directory and renames a fresh `..data` link over the
 * old one, so a reader sees the old set or the new set, never a mix. Clients that trust a mounted CA
 * must cope with exactly this (symlinks, dot-entries beside the file).
 */
import { mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";

export interface ConfigMapVolumeItem {
    readonly key: string;
    readonly path: string;
}

let generation = 0;

function stamp(): string {
    const now = new Date().toISOString().replace(/[-:]/g, "_").replace("T", "_").replace("Z", "");
    generation += 1;
    return `..${now}.${process.pid}${generation}`;
}

/**
 * Writes (or updates) the volume at `dir`: each item's `key` from `data` as `path`. Throws when a
 * key is missing, as the kubelet refuses to start the pod then.
 */
export function writeConfigMapVolume(dir: string, data: Readonly<Record<string, string>>, items: readonly ConfigMapVolumeItem[]): void {
    mkdirSync(dir, { recursive: true });
    const previous = readdirSync(dir).filter((e) => e.startsWith("..") && e !== "..data");
    const version = stamp();
    mkdirSync(path.join(dir, version), { mode: 0o755 });
    for (const item of items) {
        const value = data[item.key];
        if (value === undefined) throw new Error(`the ConfigMap has no key ${item.key}`);
        writeFileSync(path.join(dir, version, item.path), value, { mode: 0o644 });
    }
    symlinkSync(version, path.join(dir, "..data_tmp"));
    renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data"));
    for (const item of items) {
        const link = path.join(dir, item.path);
        rmSync(link, { force: true });
        symlinkSync(path.join("..data", item.path), link);
    }
    for (const old of previous) rmSync(path.join(dir, old), { recursive: true, force: true });
}
