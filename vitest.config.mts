import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // Pulumi's runtime is process-global (mocks, config): one process per test file.
        pool: "forks",
        // Integration tests start real servers (Caddy, Distribution, containerd, sshd) on loopback.
        testTimeout: 120_000,
        hookTimeout: 120_000,
    },
});
