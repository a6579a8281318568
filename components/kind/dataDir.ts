/**
 * Where the kind placement keeps its images and files when `kind.dataDir` is unset. Locally the steps
 * run as Pulumi's user, without sudo: a directory of that user's home, which Docker can bind-mount
 * (rootless Docker and Docker Desktop share the home, /var/lib they do not). Over SSH they run as root:
 * the system's place. A registry made when the local default was /var/lib/dso-registry-kind keeps its
 * directory while that holds images: its images never move without the user's say (docs/kind.md#where-the-images-live).
 *
 * Pure: the caller looks at the machine.
 */
import * as path from "node:path";

/** The default before the home directory: still the default over SSH. */
export const SYSTEM_KIND_DATA_DIR = "/var/lib/dso-registry-kind";

/** Under the home of Pulumi's user, as the XDG base directories place an application's data. */
export const HOME_KIND_DATA_DIR = ".local/share/dso-registry-kind";

/** What the default is chosen from. */
export interface KindDataDirFacts {
    /** The Docker host is reached over SSH (`kind.ssh`). */
    readonly remote: boolean;
    /** The home directory of Pulumi's user (locally). */
    readonly home: string;
    /** A registry made with the former local default: SYSTEM_KIND_DATA_DIR/images exists on this machine. */
    readonly systemDirHoldsImages: boolean;
}

/** `kind.dataDir` when the stack leaves it unset. */
export function defaultKindDataDir(facts: KindDataDirFacts): string {
    if (facts.remote || facts.systemDirHoldsImages) return SYSTEM_KIND_DATA_DIR;
    if (!path.isAbsolute(facts.home)) {
        throw new Error(
            `kind.dataDir: the home directory of Pulumi's user ("${facts.home}") is not an absolute path, so the default ~/${HOME_KIND_DATA_DIR} cannot be placed; set kind.dataDir: pulumi config set --path 'dso-registry:kind.dataDir' /path/you/own`,
        );
    }
    return path.posix.join(facts.home, HOME_KIND_DATA_DIR);
}
