/**
 * The integration files `npm test` runs (the `core` project of vitest.config.mts), on Debian's packages
 * alone: no Go, no engine build. Together they prove the heart of the product with real clients:
 * anonymous pull and authenticated push through each placement's rendered front, the external host's
 * scripts over SSH, and node trust as containerd reads it. `npm run test:all` runs them again, with the
 * rest, on the pinned builds. docs/testing.md says what each tier proves.
 */
export const CORE_INTEGRATION_FILES = [
    // The external host's front (Debian's Caddy, as the host installs it): skopeo, containerd and curl pull
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
] as const;
