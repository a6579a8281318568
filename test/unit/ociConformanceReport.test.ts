/**
 * Reading the conformance suite's JUnit report and comparing two runs, the pieces the OCI conformance
 * comparison (test/integration/ociConformance.test.ts) stands on.
 *
 * Covers: test/support/ociConformance.ts (parseJunitSteps, stepDifferences, passedOnlyBy, conformanceTable).
 */
import { describe, expect, test } from "vitest";
import { conformanceTable, parseJunitSteps, passedOnlyBy, type StepStatus, stepDifferences } from "../support/ociConformance";

const junit = (cases: readonly [string, string][]) =>
    [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<testsuites>",
        '  <testsuite name="OCI Conformance Test" tests="1">',
        ...cases.map(([name, status]) => `    <testcase name="${name}" classname="" time="0.001" status="${status}"></testcase>`),
        "  </testsuite>",
        "</testsuites>",
    ].join("\n");

const steps = (entries: Record<string, StepStatus>) => new Map(Object.entries(entries));

describe("parseJunitSteps", () => {
    test.each([
        { runs: ["passed", "passed"], step: "passed" },
        { runs: ["passed", "failure"], step: "failure" },
        { runs: ["failure", "passed"], step: "failure" },
        { runs: ["skipped", "passed"], step: "passed" },
        { runs: ["passed", "skipped"], step: "passed" },
        { runs: ["skipped", "skipped"], step: "skipped" },
        { runs: ["error"], step: "failure" },
    ])("a step run as $runs is $step", ({ runs, step }) => {
        const parsed = parseJunitSteps(junit(runs.map((status) => ["OCI Conformance Test/mount/blob-delete", status])));
        expect(parsed.get("OCI Conformance Test/mount/blob-delete")).toBe(step);
    });

    test("names come back as text: XML references are decoded", () => {
        const parsed = parseJunitSteps(junit([["OCI Conformance Test/a &amp; b/&#34;x&#34;", "passed"]]));
        expect([...parsed.keys()]).toEqual(['OCI Conformance Test/a & b/"x"']);
    });

    test("a report without test cases is an error, not an empty run", () => {
        expect(() => parseJunitSteps(junit([]))).toThrow(/no testcase/);
    });
});

describe("stepDifferences", () => {
    const reference = steps({ "T/ping": "passed", "T/image/push": "passed", "T/image/blob-delete": "passed", "T/referrers": "failure" });

    test("a step the reference passes and the candidate fails, skips or never runs is a difference", () => {
        const candidate = steps({ "T/ping": "skipped", "T/image/blob-delete": "failure", "T/referrers": "failure" });
        expect(stepDifferences(reference, candidate)).toEqual(["T/ping: skipped", "T/image/push: not run", "T/image/blob-delete: failure"]);
    });

    test("a refusal takes the steps it names out, and only those", () => {
        const candidate = steps({ "T/ping": "passed", "T/image/push": "failure", "T/image/blob-delete": "failure" });
        expect(stepDifferences(reference, candidate, [{ steps: /-delete$/, reason: "deletes off" }])).toEqual(["T/image/push: failure"]);
    });

    test("what only one side passes", () => {
        expect(passedOnlyBy(reference, steps({ "T/ping": "passed", "T/image/push": "failure" }))).toEqual([
            "T/image/push",
            "T/image/blob-delete",
        ]);
    });
});

test("conformanceTable counts passed steps per workflow and run", () => {
    const table = conformanceTable([
        { name: "a", steps: steps({ "T/image/push": "passed", "T/image/pull": "failure", "T/ping": "passed" }) },
        { name: "b", steps: steps({ "T/image/push": "passed" }) },
    ]);
    expect(table.split("\n").map((line) => line.split(/\s+/).filter(Boolean))).toEqual([
        ["workflow", "a", "b"],
        ["image", "1/2", "1/2"],
        ["ping", "1/1", "0/1"],
        ["all", "steps", "2/3", "1/3"],
    ]);
});
