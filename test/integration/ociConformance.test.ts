/**
 * The OCI conformance comparison (docs/conformance.md): the distribution-spec conformance suite
 * (tools/conformance) against Distribution 3.1.2 directly (the rendered config, deletes on), against
 * 2.8.3 directly, and through each front the program renders, on the pinned Caddy every placement
 * runs, with the push account. Every step 3.1.2 passes directly passes through every front, but the
 * refusals named below, each with its reason; a new difference fails. What 3.1.2 passes that 2.8.3
 * does not is listed, and passes through the fronts too.
 *
 * Covers: components/externalHost/caddySite.ts (caddySitePolicy), components/inCluster/sidecarFront.ts
 * (sidecarPolicy, renderSidecarCaddyfile), components/kind/front.ts (kindFrontPolicy), components/accessPolicy/frontPolicy.ts
 * (the policy all three place), components/accessPolicy/caddyfile/index.ts.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import type { AccessPolicy, ReadOnlySignal } from "../../components/accessPolicy/policy";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { renderSidecarCaddyfile, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { kindFrontPolicy } from "../../components/kind/front";
import { pinnedCaddy } from "../support/caddyBinaries";
import { DEPLOYED_REGISTRY_IMAGE, distributionBinaries } from "../support/distributionBinaries";
import {
    type ConformanceRun,
    conformanceSuite,
    conformanceTable,
    passedOnlyBy,
    type Refusal,
    runConformance,
    stepDifferences,
} from "../support/ociConformance";
import { startRealRegistry } from "../support/realRegistry";

/** The test's own directory for a front's files: where startRealRegistry put the users files. */
const scratchOf = (policy: AccessPolicy) => path.dirname(policy.pushUsersFile);

/** A file signal's marker moved into the scratch directory (it never exists: the window stays closed). */
const markerInScratch =
    (policy: AccessPolicy) =>
    (signal: ReadOnlySignal): ReadOnlySignal =>
        signal.kind === "file" ? { kind: "file", path: path.join(scratchOf(policy), `read-only-${path.basename(signal.path)}`) } : signal;

/**
 * The external host's site (caddySitePolicy: TLS, the blob shortcut, the marker file's window, the
 * access log), its host paths replaced by the test's.
 */
function externalHostCaddyfile(policy: AccessPolicy): string {
    const host = caddySitePolicy({
        layout: defaultHostLayout(policy.blobFiles as string),
        registryHost: policy.siteAddress,
        port: policy.port,
        tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
        requiresAuthForPull: policy.requiresAuthForPull,
        allowedNetworks: policy.allowedNetworks,
        deletesEnabled: policy.deletesEnabled,
        blobFiles: true,
        upstream: policy.upstream,
    });
    return renderCaddyfile({
        ...host,
        tls: policy.tls,
        pushUsersFile: policy.pushUsersFile,
        pullUsersFile: policy.pullUsersFile,
        decoy: policy.decoy,
        blobFiles: policy.blobFiles,
        admin: "off",
        accessLog: { kind: "file", path: path.join(scratchOf(policy), "access.log") },
        readOnlySignals: (host.readOnlySignals ?? []).map(markerInScratch(policy)),
    });
}

/**
 * The in-cluster sidecar (sidecarPolicy with filesystem storage, backups and the GC marker; its plain
 * HTTP site, which the Ingress and the in-cluster Service reach), the pod's paths replaced by the test's.
 */
function sidecarCaddyfile(policy: AccessPolicy): string {
    const pod = sidecarPolicy({
        host: policy.siteAddress,
        requiresAuthForPull: policy.requiresAuthForPull,
        deletesEnabled: policy.deletesEnabled,
        storage: "filesystem",
        backup: true,
        gcWindow: "marker",
    });
    return renderSidecarCaddyfile({
        ...pod,
        port: policy.port,
        bindAddress: policy.bindAddress,
        // The realm as the pod's clients see it: the public name, here the test's address.
        publicAuthority: `${policy.siteAddress}:${policy.port}`,
        upstream: policy.upstream,
        pushUsersFile: policy.pushUsersFile,
        pullUsersFile: policy.pullUsersFile,
        decoy: policy.decoy,
        blobFiles: policy.blobFiles,
        readOnlySignals: (pod.readOnlySignals ?? []).map(markerInScratch(policy)),
    });
}

/** kind's front (kindFrontPolicy: plain HTTP, no blob shortcut, the GC marker's window), its container paths replaced by the test's. */
function kindCaddyfile(policy: AccessPolicy): string {
    const front = kindFrontPolicy({
        registryName: "dso-registry",
        port: policy.port,
        distributionName: "dso-registry-distribution",
        requiresAuthForPull: policy.requiresAuthForPull,
        deletesEnabled: policy.deletesEnabled,
        ...(policy.decoy ? { decoy: policy.decoy } : {}),
        readOnlyMarker: path.join(scratchOf(policy), "read-only-gc"),
    });
    return renderCaddyfile({
        ...front,
        bindAddress: policy.bindAddress,
        upstream: policy.upstream,
        pushUsersFile: policy.pushUsersFile,
        pullUsersFile: policy.pullUsersFile,
    });
}

/** With deletes off (the stacks' default), the front answers every DELETE 405, as Distribution would. */
const DELETES_OFF: Refusal = {
    steps: /\/(blob|manifest|tag)-delete$/,
    reason: "deletes are off (neither `registry.ui.deleteEnabled` nor garbage collection is on): the front answers DELETE with 405 before any account check, and Distribution's config has deletes off too",
};

interface Front {
    readonly name: string;
    readonly tls: "enabled" | "disabled";
    readonly caddyfileFor: (policy: AccessPolicy) => string;
    readonly deletesEnabled: boolean;
    /** The steps this front refuses on purpose; the test fails when one of them passes (the list is stale). */
    readonly refusals: readonly Refusal[];
}

const FRONTS: readonly Front[] = [
    {
        name: "external host",
        tls: "enabled",
        caddyfileFor: externalHostCaddyfile,
        deletesEnabled: true,
        refusals: [],
    },
    {
        name: "in-cluster sidecar",
        tls: "disabled",
        caddyfileFor: sidecarCaddyfile,
        deletesEnabled: true,
        refusals: [],
    },
    {
        name: "kind front",
        tls: "disabled",
        caddyfileFor: kindCaddyfile,
        deletesEnabled: true,
        refusals: [],
    },
    {
        name: "external host, deletes off",
        tls: "enabled",
        caddyfileFor: externalHostCaddyfile,
        deletesEnabled: false,
        refusals: [DELETES_OFF],
    },
];

/** Runs the suite against a registry started with `options`, and stops it. */
async function runAgainst(
    options: Parameters<typeof startRealRegistry>[0],
    target: (reg: Awaited<ReturnType<typeof startRealRegistry>>) => Parameters<typeof runConformance>[0],
): Promise<ConformanceRun> {
    const reg = await startRealRegistry(options);
    try {
        return await runConformance(target(reg));
    } finally {
        await reg.stop();
    }
}

const runs = new Map<string, ConformanceRun>();
const v3Name = `Distribution ${DEPLOYED_REGISTRY_IMAGE.replace(/^registry:/, "")} directly`;
const v2Name = () => `Distribution ${distributionBinaries().v2.version} directly`;
const reference = () => runs.get(v3Name)!;

beforeAll(async () => {
    conformanceSuite();
    const { v2 } = distributionBinaries();
    runs.set(v3Name, await runAgainst({ caddy: false }, (reg) => ({ registry: reg.authority, tls: "disabled" })));
    runs.set(
        v2Name(),
        await runAgainst({ caddy: false, registryBinary: v2.path }, (reg) => ({ registry: reg.authority, tls: "disabled" })),
    );
}, 600_000);

afterAll(() => {
    if (runs.size === 0) return;
    // The comparison as docs/conformance.md shows it: passed steps of each workflow, per run.
    console.log(
        `OCI conformance, steps passed per workflow:\n${conformanceTable([...runs].map(([name, run]) => ({ name, steps: run.steps })))}`,
    );
});

describe("Distribution directly", () => {
    test("3.1.2 passes the spec's core: ping, push and pull of images and indexes, tag listing, deletes", () => {
        const steps = reference().steps;
        for (const step of [
            "OCI Conformance Test/ping",
            "OCI Conformance Test/image/push/manifest-by-tag",
            "OCI Conformance Test/image/pull/manifest-by-digest",
            "OCI Conformance Test/index/pull/manifest-by-tag",
            "OCI Conformance Test/image/tag-list",
            "OCI Conformance Test/image/delete/manifest-delete",
        ])
            expect.soft(steps.get(step), step).toBe("passed");
    });

    test("what 3.1.2 passes that 2.8.3 does not", () => {
        const only = passedOnlyBy(reference().steps, runs.get(v2Name())!.steps);
        console.log(`Passed by ${v3Name}, not by ${v2Name()}:\n  ${only.join("\n  ")}`);
        expect(only.length).toBeGreaterThan(0);
    });
});

describe.each(FRONTS)("$name", (front) => {
    let run: ConformanceRun;

    beforeAll(async () => {
        run = await runAgainst(
            {
                caddyBinary: pinnedCaddy(),
                caddyfileFor: front.caddyfileFor,
                policy: { requiresAuthForPull: false, deletesEnabled: front.deletesEnabled },
            },
            (reg) => ({ registry: reg.authority, tls: front.tls, caCertFile: reg.ca.caCertFile, account: reg.push }),
        );
        runs.set(front.name, run);
    }, 300_000);

    test("passes every step Distribution 3.1.2 passes directly, but its named refusals", () => {
        expect(stepDifferences(reference().steps, run.steps, front.refusals), run.summary).toEqual([]);
    });

    test("passes what 3.1.2 passes and 2.8.3 does not", () => {
        const only = passedOnlyBy(reference().steps, runs.get(v2Name())!.steps).filter(
            (step) => !front.refusals.some((r) => r.steps.test(step)),
        );
        expect(only.filter((step) => run.steps.get(step) !== "passed")).toEqual([]);
    });

    test.runIf(front.refusals.length > 0)("each named refusal happens: the list holds no stale entry", () => {
        for (const refusal of front.refusals) {
            const refused = [...reference().steps].filter(([step, status]) => status === "passed" && refusal.steps.test(step));
            expect(refused.length, refusal.reason).toBeGreaterThan(0);
            expect(
                refused.filter(([step]) => run.steps.get(step) === "passed").map(([step]) => step),
                refusal.reason,
            ).toEqual([]);
        }
    });
});
