import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { declaredParameters, renderShellScript } from "../../components/shared/shellScript";

const dir = mkdtempSync(path.join(tmpdir(), "dso-shell-script-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(relative: string, text: string): string {
    const file = path.join(dir, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
}

write("lib/lib.sh", "# shellcheck shell=sh\n# A comment of the library.\nsay() { printf '%s\\n' \"$*\"; }\n");
const script = write(
    "job/job.sh",
    [
        "#!/bin/sh",
        "# Says hello.",
        ': "${GREETING:?}" "${NAMES?}"',
        "set -eu",
        "# shellcheck source=../lib/lib.sh",
        '. "$(dirname "$0")/../lib/lib.sh"',
        'for n in $NAMES; do say "$GREETING $n"; done',
        "",
    ].join("\n"),
);

describe("renderShellScript", () => {
    it("finds the declared parameters in order", () => {
        expect(declaredParameters(': "${A:?}" "${B?}"\necho "${C:-}"\n')).toEqual(["A", "B"]);
    });

    it("assigns the parameters under the header and inlines the library", () => {
        expect(renderShellScript(script, { GREETING: "it's", NAMES: ["a", "b"] })).toBe(
            [
                "#!/bin/sh",
                "# Says hello.",
                "GREETING='it'\\''s'",
                "NAMES='a\nb'",
                ': "${GREETING:?}" "${NAMES?}"',
                "set -eu",
                "# A comment of the library.",
                "say() { printf '%s\\n' \"$*\"; }",
                'for n in $NAMES; do say "$GREETING $n"; done',
                "",
            ].join("\n"),
        );
    });

    it("refuses a missing parameter, naming it", () => {
        expect(() => renderShellScript(script, { NAMES: "" })).toThrow(/no value for its parameter\(s\) GREETING/);
    });

    it("refuses a parameter the script does not declare", () => {
        expect(() => renderShellScript(script, { GREETING: "hi", NAMES: "", EXTRA: "x" })).toThrow(/declares no parameter EXTRA/);
    });
});
