/**
 * Distribution's `registry` command at the versions the program knows: 2.8.3 (the last of Distribution
 * 2, what stacks made before registry:3 run) and 3.x (the `registry:3` images), built from Go modules
 * by tools/distribution/build.sh into the engine tier's cache on first use (a warm cache builds
 * nothing, a cold one takes a few minutes). `deployedRegistry()` is the one whose version is
 * `registry.image`'s default tag: what every test that stands for the program's registry runs.
 *
 *     const { v2, v3 } = distributionBinaries();
 *     spawn(v3.path, ["serve", configFile]);      // v3.version: "3.1.2", the image tag it stands for
 *     spawn(deployedRegistry().path, ["serve", configFile], { env: { ...process.env, ...DISTRIBUTION.environment } });
 *
 * Needs Go (1.26 or later) and the Go module proxy the first time.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { registry } from "../../components/config/schema/registry";
import { debianStandIns } from "./testBinaries";

/** One build of the `registry` command. */
export interface DistributionBinary {
    /** The binary's absolute path. */
    readonly path: string;
    /** Its version as the image tag names it, e.g. "2.8.3". */
    readonly version: string;
}

let built: { readonly v2: DistributionBinary; readonly v3: DistributionBinary } | undefined;

/** The 2.8.3 and 3.x builds, built on the first call. */
export function distributionBinaries(): { readonly v2: DistributionBinary; readonly v3: DistributionBinary } {
    if (debianStandIns()) {
        throw new Error(
            "this test runs Distribution at a pinned version, which `npm test` does not build: it belongs in `npm run test:all`, not in CORE_INTEGRATION_FILES (vitest.config.mts)",
        );
    }
    if (!built) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/distribution/build.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/distribution/build.sh failed (exit ${build.status ?? build.signal})`);
        const dir = build.stdout.trim().split("\n").at(-1) as string;
        const binary = (major: 2 | 3): DistributionBinary => {
            const name = readdirSync(dir).find((file) => file.startsWith(`registry-${major}.`));
            if (!name) throw new Error(`tools/distribution/build.sh left no registry-${major}.* in ${dir}`);
            return { path: path.join(dir, name), version: name.slice("registry-".length) };
        };
        built = { v2: binary(2), v3: binary(3) };
    }
    return built;
}

/** `registry.image`'s default, e.g. "registry:3.1.2": the image the stacks deploy unless they set one. */
export const DEPLOYED_REGISTRY_IMAGE: string = registry.shape.image.parse(undefined);

/**
 * The build of `DEPLOYED_REGISTRY_IMAGE`'s version; Debian's Distribution under `npm test`
 * (test/support/testBinaries.ts). Throws when neither wrapper module builds that
 * version (test/unit/pinnedVersions.test.ts holds them to one fact).
 */
export function deployedRegistry(): DistributionBinary {
    if (debianStandIns()) return { path: UPSTREAM_REGISTRY, version: "2.8.2" };
    const tag = DEPLOYED_REGISTRY_IMAGE.replace(/^registry:/, "");
    const binary = Object.values(distributionBinaries()).find((b) => b.version === tag);
    if (!binary) throw new Error(`no build of Distribution ${tag} (${DEPLOYED_REGISTRY_IMAGE}): tools/distribution builds another version`);
    return binary;
}

/**
 * Debian's Distribution (2.8.2): the stand-in for registries the program does not run, such as Docker
 * Hub behind a cache or an organisation's own registry.
 */
export const UPSTREAM_REGISTRY = "/usr/bin/docker-registry";

/**
 * `DEPLOYED_REGISTRY_IMAGE` with its last number one higher ("registry:3.1.3"): the image bump the
 * lifecycle tests make, played by the same build under the new tag (no other image can be pulled here).
 */
export const BUMPED_REGISTRY_IMAGE = DEPLOYED_REGISTRY_IMAGE.replace(/(\d+)$/, (n) => String(Number(n) + 1));
