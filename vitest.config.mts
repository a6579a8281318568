import { availableParallelism } from "node:os";
import { relative } from "node:path";
import { configDefaults, defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Settings every project shares. */
const shared = {
    pool: "forks",
    // Integration tests start real servers (Caddy, Distribution, containerd, sshd) on loopback.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // A test that asserts nothing fails: a case that returns early, or checks only that nothing threw, must say so with an expect.
    expect: { requireAssertions: true },
} as const;

/** Settings of the projects that need only Node and sh (test/unit/). */
const nodeAndSh = {
    ...shared,
    // The files of a worker share its process, so Pulumi and the program are loaded once per worker, not
    // once per file. Pulumi's runtime is process-global, but every file that uses it installs its own
    // mocks and config first (tools/mockRuntime.ts startMockRuntime, through runProgram or directly, or
    // setMocks), so none sees another's.
    isolate: false,
    // Every core: vitest leaves one to itself by default, which the unit files do not need.
    maxWorkers: availableParallelism(),
    // Projects with different worker counts run one after the other: the fast ones first, together.
    sequence: { groupOrder: 0 },
} as const;

/**
 * Integration and engine files at once. Much of their time is spent waiting on the servers they start (Caddy,
 * Distribution, dockerd, sshd, containerd, a control plane, the Pulumi CLI), not computing, and none shares a
 * port, a namespace, a /30 or a scratch directory with another (free ports, claims under /run/lock, private
 * directories): one more than the cores, so that a file's wait is another file's turn on a core.
 */
const INTEGRATION_WORKERS = availableParallelism() + 1;

/**
 * The integration files `npm test` runs (the `core` project), on Debian's packages alone: no Go, no engine
 * build. Together they prove the heart of the product with real clients: anonymous pull and authenticated
 * push through each placement's rendered front, the scripts the external host and the nodes run over SSH,
 * and node trust as containerd reads it. `npm run test:all` runs them again, with the rest, on the pinned
 * builds (docs/testing.md).
 */
const CORE_INTEGRATION_FILES = [
    // The external host's front (the pinned Caddy; Debian's stands in here): skopeo, containerd and curl pull
    // anonymously, push with the push account, and are refused everything else.
    "test/integration/accessPolicy.realClients.test.ts",
    // The in-cluster placement: the ingress's nginx, the sidecar's Caddyfile and the registry's config.yml.
    "test/integration/inClusterRegistry.realClients.test.ts",
    // kind's front, reached as a pod reaches it, by its name on the kind network.
    "test/integration/kindFront.pods.test.ts",
    // Scripts run over SSH as the external host and the nodes run them.
    "test/integration/externalRegistryHost.ssh.test.ts",
    "test/integration/nodeTrustSsh.test.ts",
    // Node trust as the runtimes read it: containerd's hosts.toml, and the node scripts on every runtime.
    "test/integration/nodeTrustContainerd.test.ts",
    "test/integration/nodeTrustScripts.test.ts",
    // Every Caddyfile the program renders passes `caddy validate`.
    "test/integration/accessPolicy.test.ts",
];

/** Unit files too slow for the loop before a commit: the `slow` project runs them. */
const SLOW_UNIT_FILES = ["test/unit/everySetting*.test.ts"];

/**
 * The files that take longest, longest first, as `bash .ci/run` measured them (its cost report; docs/testing.md).
 * The files of one group start in this order, before the group's other files, so that no long file starts
 * last and runs alone at the end (longest-processing-time-first: the integration and engine files share one
 * group, so their long files interleave by cost, whatever their project). vitest's own order, without the
 * timings of an earlier run on this machine (a fresh clone has none), is by file size, which put the engine's
 * two longest files last. Files not named keep vitest's order, after these.
 */
const LONGEST_FIRST = [
    "test/engine/prodPlans.test.ts",
    "test/engine/plans.test.ts",
    "test/engine/localPods.test.ts",
    "test/engine/replicaPods.test.ts",
    "test/engine/kindCluster.test.ts",
    "test/engine/traefikPods.test.ts",
    "test/integration/onlineCollection.s3.test.ts",
    "test/integration/onlineCollection.filesystem.test.ts",
    "test/engine/local.test.ts",
    "test/integration/inClusterMonitoring.realPrometheus.test.ts",
    "test/engine/kind.test.ts",
    "test/integration/monitoring.realPrometheus.test.ts",
    "test/engine/nodes.test.ts",
    "test/engine/upgrade.test.ts",
    "test/engine/prodUp.test.ts",
    "test/integration/clientMatrix.test.ts",
    "test/engine/existing.test.ts",
    "test/engine/freshHost.test.ts",
    "test/integration/externalRegistryHost.backup.test.ts",
    "test/integration/kindMirror.test.ts",
    "test/integration/replicas.s3.test.ts",
    "test/integration/lifecycle.replay.nodes.test.ts",
    "test/integration/kindPlacement.test.ts",
    "test/integration/maven.realClients.test.ts",
    "test/integration/externalRegistryHost.scripts.test.ts",
    "test/integration/externalRegistryHost.maven.test.ts",
    "test/engine/certManagerChain.test.ts",
    "test/engine/clusterRecreated.test.ts",
    "test/integration/inClusterBackup.restore.test.ts",
    "test/integration/mirrors.test.ts",
    "test/integration/ociConformance.test.ts",
    "test/engine/library.test.ts",
    "test/unit/everySetting.registry.test.ts",
    "test/unit/everySetting.test.ts",
];

/** vitest's order of the groups; within a group, the files of LONGEST_FIRST first, in its order, whatever their project. */
class LongestFirst extends BaseSequencer {
    override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
        const sorted = await super.sort(files);
        const rank = (spec: TestSpecification): number => {
            const index = LONGEST_FIRST.indexOf(relative(spec.project.config.root, spec.moduleId));
            return index === -1 ? LONGEST_FIRST.length : index;
        };
        const group = (spec: TestSpecification): number => spec.project.config.sequence.groupOrder;
        // Array.prototype.sort is stable: files of equal rank keep vitest's order.
        return [...sorted].sort((a, b) => group(a) - group(b) || rank(a) - rank(b));
    }
}

export default defineConfig({
    test: {
        // Runs once per run, whichever projects run: the directory where each committed stack is synthesized,
        // once, when a test first asks for it (test/support/committedSynth.ts).
        globalSetup: ["test/setup/committedSynth.ts"],
        sequence: { sequencer: LongestFirst },
        projects: [
            {
                // Pure renderers, the program under mocks, the synth, scripts against stand-ins: Node and sh.
                test: {
                    ...nodeAndSh,
                    name: "unit",
                    // Caddy's adapter and busybox's applets: the core list (test/setup/debianTools.ts).
                    globalSetup: ["test/setup/debianTools.ts"],
                    include: ["test/unit/**/*.test.ts"],
                    exclude: [...configDefaults.exclude, ...SLOW_UNIT_FILES],
                },
            },
            {
                // The unit files that walk every setting (about 960 synths and 1,200 program runs of the
                // no-change walk, minutes of CPU): in `npm run test:all`, beside the unit files, but not in
                // the loop before a commit (`npm run test:unit`) nor in `npm test`; `npm run test:slow` runs them alone.
                test: {
                    ...nodeAndSh,
                    name: "slow",
                    include: SLOW_UNIT_FILES,
                },
            },
            {
                // `npm test`'s integration files (CORE_INTEGRATION_FILES): real clients against the rendered fronts,
                // the host's scripts over SSH and node trust read by containerd, on Debian's packages alone. No
                // Go and no build: where a test stands for a pinned version, Debian's build of it runs instead
                // (test/support/testBinaries.ts), and the run says so first.
                test: {
                    ...shared,
                    name: "core",
                    include: [...CORE_INTEGRATION_FILES],
                    globalSetup: ["test/setup/debianTools.ts", "test/setup/debianStandIns.ts"],
                    env: { DSO_TEST_BINARIES: "debian" },
                    maxWorkers: INTEGRATION_WORKERS,
                    sequence: { groupOrder: 1 },
                },
            },
            {
                // Real Caddy, Distribution, containerd, skopeo, OpenSSH, shellcheck: installed first; the pinned
                // Caddy and Distribution, containerd 2, the S3 server and the conformance suite built from Go
                // modules first (test/setup/goBuilds.ts; cached, nothing is built when warm).
                test: {
                    ...shared,
                    name: "integration",
                    include: ["test/integration/**/*.test.ts"],
                    globalSetup: ["test/setup/debianTools.ts", "test/setup/goBuilds.ts"],
                    maxWorkers: INTEGRATION_WORKERS,
                    sequence: { groupOrder: 1 },
                },
            },
            {
                // The real Pulumi CLI runs the program (tools/engine: the CLI, our language host, our
                // providers from stand-ins/, a Kubernetes control plane, all built from Go modules; built first when the
                // cache is cold). Each file runs the engine, the program and a control plane of its own
                // (ports chosen free, test hosts in namespaces of their own), so its files run beside the
                // integration files, in one group with one worker count: a group that ends waits for its
                // last file alone, and two groups one after the other left a core idle at each end.
                test: {
                    ...shared,
                    name: "engine",
                    include: ["test/engine/**/*.test.ts"],
                    globalSetup: ["test/setup/debianTools.ts", "test/setup/engineBuild.ts", "test/setup/goBuilds.ts"],
                    testTimeout: 20 * 60_000,
                    hookTimeout: 60 * 60_000,
                    maxWorkers: INTEGRATION_WORKERS,
                    sequence: { groupOrder: 1 },
                },
            },
        ],
    },
});
