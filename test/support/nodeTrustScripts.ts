/**
 * What the tests share that run node trust's scripts for a CRI-O node on this machine, with the node's
 * files under a private root (DSO_ROOT):
 *
 * - `nodeScriptTools`: busybox's applets (the DaemonSet image's tools) and a `systemctl` stand-in, which
 *   answers `is-active UNIT` from $DSO_ROOT/active-units (there is no systemd here);
 * - `freshCrioNode`: a node before node trust, with its own registries.conf and policy.json;
 * - `daemonSetConfigDir`: the DaemonSet's ConfigMap, as NodeTrustDaemonSet renders it under Pulumi's mocks,
 *   written to a directory that stands for the pod's /dso/config/;
 * - `runDaemonSetScript` and `runSshCommands`: the scripts as the pod runs them, and the SSH delivery's
 *   commands as the node's root runs them;
 * - `podmanPullArgs`: podman's arguments for a pull into a store of its own.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { MockRuntime, RecordedResource } from "../../tools/mockRuntime";
import { runOk } from "./serverProcess";

export interface NodeScriptTools {
    /** busybox's applets, one link each. */
    readonly busybox: string;
    /** The `systemctl` stand-in's directory, first on the scripts' PATH. */
    readonly stubs: string;
}

/**
 * Installs busybox's applets in `<scratch>/busybox` and the `systemctl` stand-in in `<scratch>/stubs`;
 * with `recordCalls`, the stand-in appends each call's arguments to $DSO_ROOT/systemctl.log.
 */
export function nodeScriptTools(scratch: string, recordCalls: boolean): NodeScriptTools {
    const busybox = path.join(scratch, "busybox");
    mkdirSync(busybox);
    runOk("busybox", ["--install", "-s", busybox]);
    const stubs = path.join(scratch, "stubs");
    mkdirSync(stubs);
    writeFileSync(
        path.join(stubs, "systemctl"),
        [
            "#!/bin/sh",
            ...(recordCalls ? ['echo "$*" >> "$DSO_ROOT/systemctl.log"'] : []),
            'if [ "$1" = is-active ]; then grep -qx "$3" "$DSO_ROOT/active-units"; exit $?; fi',
            "exit 0",
            "",
        ].join("\n"),
    );
    chmodSync(path.join(stubs, "systemctl"), 0o755);
    return { busybox, stubs };
}

/** A node's root (a new directory in `scratch`) before node trust: its registries.conf and policy.json, crio running or not. */
export function freshCrioNode(
    scratch: string,
    files: { readonly registriesConf: string; readonly policy: string },
    crioRunning = true,
): string {
    const dir = mkdtempSync(path.join(scratch, "node-"));
    mkdirSync(path.join(dir, "etc/containers"), { recursive: true });
    writeFileSync(path.join(dir, "etc/containers/registries.conf"), files.registriesConf);
    writeFileSync(path.join(dir, "etc/containers/policy.json"), files.policy);
    writeFileSync(path.join(dir, "active-units"), crioRunning ? "crio\n" : "");
    return dir;
}

/** The ConfigMap of the DaemonSet `name` the mock runtime recorded, written to `<scratch>/<name>` with its /dso/config/ paths there; returns that directory. */
export function daemonSetConfigDir(rt: MockRuntime, scratch: string, name: string): string {
    const dir = path.join(scratch, name);
    mkdirSync(dir);
    for (const [key, value] of Object.entries(rt.byName(`${name}-config`).inputs.data as Record<string, string>)) {
        writeFileSync(path.join(dir, key), value.replaceAll("/dso/config/", `${dir}/`));
    }
    return dir;
}

/** A script of the DaemonSet's ConfigMap in `files`, as the pod `podUid` runs it on the node at `root`: busybox's applets (`extraPath` before them) and the stand-in. */
export function runDaemonSetScript(
    tools: NodeScriptTools,
    files: string,
    script: string,
    root: string,
    options: { readonly podUid?: string; readonly extraPath?: readonly string[] } = {},
): SpawnSyncReturns<string> {
    return spawnSync(path.join(tools.busybox, "sh"), [path.join(files, script)], {
        env: {
            PATH: [tools.stubs, ...(options.extraPath ?? []), tools.busybox].join(":"),
            DSO_ROOT: root,
            POD_UID: options.podUid ?? "pod-a",
        },
        encoding: "utf8",
    });
}

/**
 * The SSH delivery's commands of `commands` as the node's root runs them, on the node at `root` with this
 * machine's tools and the stand-in: every `create` in order, with its stdin, or every `delete` in reverse
 * order. Each command's result goes to `check`.
 */
export function runSshCommands(
    tools: NodeScriptTools,
    root: string,
    commands: readonly RecordedResource[],
    which: "create" | "delete",
    check: (result: SpawnSyncReturns<string>) => void,
): void {
    const run = (script: string, stdin: string) =>
        check(
            spawnSync("/bin/sh", ["-c", script], {
                env: { ...process.env, PATH: `${tools.stubs}:${process.env.PATH}`, DSO_ROOT: root },
                input: stdin,
                encoding: "utf8",
            }),
        );
    if (which === "create") {
        for (const c of commands) run(String(c.rawInputs.create), typeof c.rawInputs.stdin === "string" ? c.rawInputs.stdin : "");
    } else {
        for (const c of [...commands].reverse()) {
            if (typeof c.rawInputs.delete === "string") run(c.rawInputs.delete, "");
        }
    }
}

/** podman's arguments for `pull ref` into the private store `store` (vfs, no events), its temporary files there too with `withTmpdir`. */
export function podmanPullArgs(store: string, ref: string, withTmpdir: boolean): string[] {
    return [
        "--root",
        path.join(store, "root"),
        "--runroot",
        path.join(store, "run"),
        ...(withTmpdir ? ["--tmpdir", path.join(store, "tmp")] : []),
        "--storage-driver",
        "vfs",
        "--events-backend",
        "none",
        "pull",
        ref,
    ];
}
