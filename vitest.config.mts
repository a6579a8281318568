import { defineConfig } from "vitest/config";

/** Settings both projects share. */
const shared = {
    // Pulumi's runtime is process-global (mocks, config): one process per test file.
    pool: "forks",
    // Integration tests start real servers (Caddy, Distribution, containerd, sshd) on loopback.
    testTimeout: 120_000,
    hookTimeout: 120_000,
} as const;

export default defineConfig({
    test: {
        // Runs once per run, whichever projects run: each committed stack is synthesized here, once.
        globalSetup: ["test/setup/committedSynth.ts"],
        projects: [
            {
                // Pure renderers, the program under mocks, the synth: no Debian tools needed.
                test: { ...shared, name: "unit", include: ["test/unit/**/*.test.ts"] },
            },
            {
                // Real Caddy, Distribution, containerd, skopeo, OpenSSH, shellcheck: installed or asked for first.
                test: {
                    ...shared,
                    name: "integration",
                    include: ["test/integration/**/*.test.ts"],
                    globalSetup: ["test/setup/debianTools.ts"],
                },
            },
        ],
    },
});
