/**
 * Which builds of the pinned servers a test run uses. `npm test` (the `core` project) sets
 * DSO_TEST_BINARIES=debian: it needs no Go and builds nothing, so Debian's Caddy (2.6.2) stands in for the
 * pinned Caddy of every placement's front, and Debian's Distribution (2.8.2) for the registry
 * image's version; test/setup/debianStandIns.ts says so when the run starts. Every other run uses the
 * pinned builds (tools/engine/build.sh --caddy, tools/distribution/build.sh).
 */

/** True in a run whose pinned servers are Debian's stand-ins (`npm test`). */
export function debianStandIns(): boolean {
    return process.env.DSO_TEST_BINARIES === "debian";
}

/** The line a run with stand-ins prints first, naming what stands for what and the run that uses the pinned builds. */
export function standInNotice(pinned: { readonly caddy: string; readonly distribution: string }): string {
    return (
        `stand-ins: Debian's Caddy 2.6.2 runs where the fronts pin Caddy ${pinned.caddy}, and Debian's Distribution 2.8.2 ` +
        `where the stacks deploy ${pinned.distribution}; \`npm run test:all\` runs the pinned builds`
    );
}
