/**
 * The microk8s Corefile change on real text: the Corefile of microk8s's dns addon (its
 * `microk8s-resources/actions/coredns.yaml`, with `$NAMESERVERS` filled in as `microk8s enable dns`
 * does), through the real awk and /bin/sh of the script the program runs. `kubectl` is a stand-in on
 * PATH (no API server runs here): `get` prints the stored Corefile, `patch` applies the JSON Patch as
 * the API server would, `test` operation included, and refuses the write when the test fails.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
    COREFILE_AWK,
    corefileMarkers,
    corefileScriptBody,
    JSON_STRING_AWK,
    joinedBeginMarker,
    renderRegistryServerBlock,
} from "../../components/inCluster/corefile";
import { MICROK8S_COREFILE } from "../support/microk8sCorefile";
import { privateDir, removeDir } from "../support/serverProcess";

const HOST = "registry-dso.example.test";

/** The same Corefile as an operator might have left it: no final line break, a tab, a quoted value. */
const EDITED_COREFILE = `${MICROK8S_COREFILE}example.internal:53 {\n\tforward . 10.0.0.53\n    # "kept" as \\it is\n}`;

let work: string;

beforeEach(() => {
    work = privateDir("dn-corefile");
});
afterEach(() => removeDir(work));

/** Runs the transform awk on `corefile` with `block` (empty to remove). */
function transform(corefile: string, block: string): { status: number | null; stdout: string; stderr: string } {
    writeFileSync(path.join(work, "current"), corefile);
    writeFileSync(path.join(work, "block"), block);
    const lacks = corefile.length > 0 && !corefile.endsWith("\n") ? "1" : "0";
    const { begin, end } = corefileMarkers(HOST);
    const r = spawnSync(
        "awk",
        [
            "-v",
            `blockFile=${path.join(work, "block")}`,
            "-v",
            `host=${HOST}`,
            "-v",
            `begin=${begin}`,
            "-v",
            `end=${end}`,
            "-v",
            `joined=${joinedBeginMarker(HOST)}`,
            "-v",
            `noFinalBreak=${lacks}`,
            COREFILE_AWK,
            path.join(work, "block"),
            path.join(work, "current"),
        ],
        { encoding: "utf8" },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const BLOCK = renderRegistryServerBlock(HOST, "10.152.183.77");

describe("the Corefile transform", () => {
    it.each([
        ["microk8s's default Corefile", MICROK8S_COREFILE],
        ["an edited Corefile without a final line break", EDITED_COREFILE],
    ])("inserts the block after %s, keeping every byte of it", (_, original) => {
        const out = transform(original, BLOCK);
        expect(out.status).toBe(0);
        const withBreak = original.endsWith("\n") ? original : `${original}\n`;
        expect(out.stdout.startsWith(withBreak)).toBe(true);
        expect(out.stdout.slice(withBreak.length)).toContain(`${HOST}:53 {\n    errors\n    hosts {\n        10.152.183.77 ${HOST}\n`);
        expect(out.stdout.endsWith(`${corefileMarkers(HOST).end}\n`)).toBe(true);
    });

    it.each([
        ["microk8s's default Corefile", MICROK8S_COREFILE],
        ["an edited Corefile without a final line break", EDITED_COREFILE],
    ])("changes nothing when run again on %s", (_, original) => {
        const once = transform(original, BLOCK).stdout;
        const twice = transform(once, BLOCK);
        expect(twice.status).toBe(0);
        expect(twice.stdout).toBe(once);
    });

    it("replaces its block when the address changes, leaving one block", () => {
        const once = transform(MICROK8S_COREFILE, BLOCK).stdout;
        const moved = transform(once, renderRegistryServerBlock(HOST, "10.152.183.99")).stdout;
        expect(moved).toBe(transform(MICROK8S_COREFILE, renderRegistryServerBlock(HOST, "10.152.183.99")).stdout);
        expect(moved.split(corefileMarkers(HOST).end).length).toBe(2);
    });

    it.each([
        ["microk8s's default Corefile", MICROK8S_COREFILE],
        ["an edited Corefile without a final line break", EDITED_COREFILE],
    ])("gives %s back byte for byte on removal", (_, original) => {
        const inserted = transform(original, BLOCK).stdout;
        const removed = transform(inserted, "");
        expect(removed.status).toBe(0);
        expect(removed.stdout).toBe(original);
    });

    it.each([
        [
            "a server block for the host it did not write",
            `${MICROK8S_COREFILE}${HOST}:53 {\n    forward . 10.0.0.1\n}\n`,
            "was not written by dso-registry",
        ],
        ["the same, named with dns:// and a final dot", `${MICROK8S_COREFILE}dns://${HOST}. {\n}\n`, "was not written by dso-registry"],
        ["a BEGIN line without its END", `${MICROK8S_COREFILE}${corefileMarkers(HOST).begin}\n`, "without its END line"],
        ["an END line without its BEGIN", `${MICROK8S_COREFILE}${corefileMarkers(HOST).end}\n`, "without its BEGIN line"],
        ["an empty Corefile", "", "it is empty"],
    ])("refuses %s and prints nothing to write", (_, corefile, reason) => {
        const out = transform(corefile, BLOCK);
        expect(out.status).toBe(1);
        expect(out.stderr).toContain(reason);
        expect(out.stderr).toContain("Nothing was changed.");
    });

    it("does not mistake the host inside another block for a block of its own", () => {
        const other = `${MICROK8S_COREFILE}other.test:53 {\n    hosts {\n        10.0.0.9 ${HOST}\n    }\n}\n`;
        expect(transform(other, BLOCK).status).toBe(0);
    });
});

describe("the JSON string of a file", () => {
    it.each([
        ["microk8s's default Corefile", MICROK8S_COREFILE],
        ["a Corefile with tabs, quotes, backslashes and no final line break", EDITED_COREFILE],
        ["control characters", "a\u0001b\rc\u001fd\n"],
    ])("is %s, every byte", (_, text) => {
        const file = path.join(work, "text");
        writeFileSync(file, text);
        const lacks = text.length > 0 && !text.endsWith("\n") ? "1" : "0";
        const r = spawnSync("awk", ["-v", `noFinalBreak=${lacks}`, JSON_STRING_AWK, file], { encoding: "utf8" });
        expect(r.status).toBe(0);
        expect(JSON.parse(r.stdout)).toBe(text);
    });
});

/** A kubectl stand-in: the Corefile lives in $STATE; `patch` applies test + replace with node. */
const PATCH_JS = `
const fs = require("fs");
const [state, patchFile] = process.argv.slice(2);
const current = fs.readFileSync(state, "utf8");
let next = current;
for (const op of JSON.parse(fs.readFileSync(patchFile, "utf8"))) {
    if (op.path !== "/data/Corefile") { console.error("unexpected path " + op.path); process.exit(2); }
    if (op.op === "test" && op.value !== next) { console.error("The request is invalid: the server rejected our request due to an error in our request"); process.exit(1); }
    if (op.op === "replace") next = op.value;
}
fs.writeFileSync(state, next);
`;

function installKubectl(): string {
    const bin = privateDir("dn-kubectl");
    writeFileSync(path.join(bin, "patch.js"), PATCH_JS);
    writeFileSync(
        path.join(bin, "kubectl"),
        [
            "#!/bin/sh",
            'echo "$*" >> "$STATE.calls"',
            'case "$*" in',
            "  *' get configmap coredns -o jsonpath={.data.Corefile}') cat \"$STATE\" ;;",
            `  *' patch configmap coredns --type json --patch-file '*) eval "file=\\\${$#}"; [ -n "\${RACE:-}" ] && printf '%s' "$RACE" >> "$STATE"; node "${bin}/patch.js" "$STATE" "$file" ;;`,
            '  *) echo "unexpected kubectl $*" >&2; exit 2 ;;',
            "esac",
            "",
        ].join("\n"),
    );
    chmodSync(path.join(bin, "kubectl"), 0o755);
    return bin;
}

describe("the script with kubectl", () => {
    let bin: string;
    beforeEach(() => {
        bin = installKubectl();
    });
    afterEach(() => removeDir(bin));

    function run(action: "apply" | "remove", env: Record<string, string> = {}) {
        const body = corefileScriptBody({ host: HOST, kubectlContext: "lab" }, action);
        return spawnSync("/bin/sh", ["-c", body], {
            input: BLOCK,
            encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, STATE: path.join(work, "state"), ...env },
        });
    }

    it("puts the block in, changes nothing the second time, and takes it out again", () => {
        const state = path.join(work, "state");
        writeFileSync(state, MICROK8S_COREFILE);
        const first = run("apply");
        expect(first.stdout.trim()).toBe("changed Corefile");
        const applied = readFileSync(state, "utf8");
        expect(applied).toBe(transform(MICROK8S_COREFILE, BLOCK).stdout);
        expect(run("apply").stdout.trim()).toBe("unchanged Corefile");
        expect(run("remove").stdout.trim()).toBe("changed Corefile");
        expect(readFileSync(state, "utf8")).toBe(MICROK8S_COREFILE);
        expect(readFileSync(`${state}.calls`, "utf8")).toContain("--context lab -n kube-system get configmap coredns");
    });

    it("fails and writes nothing when the Corefile changed between reading and writing", () => {
        const state = path.join(work, "state");
        writeFileSync(state, MICROK8S_COREFILE);
        const r = run("apply", { RACE: "# written by someone else\n" });
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain("the server rejected our request");
        expect(readFileSync(state, "utf8")).toBe(`${MICROK8S_COREFILE}# written by someone else\n`);
    });
});

describe("the script without CoreDNS", () => {
    it("stops before writing anything and says how to get CoreDNS", () => {
        const bin = privateDir("dn-kubectl");
        try {
            writeFileSync(
                path.join(bin, "kubectl"),
                '#!/bin/sh\necho "$*" >> "$STATE.calls"\necho \'Error from server (NotFound): configmaps "coredns" not found\' >&2\nexit 1\n',
            );
            chmodSync(path.join(bin, "kubectl"), 0o755);
            const body = corefileScriptBody({ host: HOST }, "apply");
            const r = spawnSync("/bin/sh", ["-c", body], {
                input: BLOCK,
                encoding: "utf8",
                env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, STATE: path.join(work, "state") },
            });
            expect(r.status).toBe(1);
            expect(r.stderr).toContain("microk8s enable dns");
            const calls = readFileSync(path.join(work, "state.calls"), "utf8");
            expect(calls).not.toContain("patch");
            // Without a context, kubectl's current one.
            expect(calls).toBe("-n kube-system get configmap coredns -o jsonpath={.data.Corefile}\n");
        } finally {
            removeDir(bin);
        }
    });
});
