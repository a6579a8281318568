/**
 * Distribution's `registry` command at the versions the program deploys: 2.8.3 (the `registry:2.8.3`
 * image the stacks pin) and 3.x (the `registry:3` images), built from Go modules by
 * tools/distribution/build.sh into the engine tier's cache on first use (a warm cache builds nothing,
 * a cold one takes a few minutes). Debian's docker-registry (2.8.2) stays what the other tests run.
 *
 *     const { v2, v3 } = distributionBinaries();
 *     spawn(v3.path, ["serve", configFile]);      // v3.version: "3.0.0", the image tag it stands for
 *
 * Needs Go (1.26 or later) and the Go module proxy the first time.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";

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
