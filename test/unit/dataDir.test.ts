/**
 * Where the kind placement keeps its images when `kind.dataDir` is unset (components/kind/dataDir.ts): the
 * home of Pulumi's user locally, the former system directory where it already holds images, the system
 * directory over SSH, and what to set when the home is unknown.
 */
import { describe, expect, it } from "vitest";
import { defaultKindDataDir } from "../../components/kind/dataDir";

describe("kind.dataDir when unset", () => {
    it.each([
        [
            "locally: the home of Pulumi's user, no sudo",
            { remote: false, home: "/home/dev", systemDirHoldsImages: false },
            "/home/dev/.local/share/dso-registry-kind",
        ],
        [
            "locally, with images in the former default: kept",
            { remote: false, home: "/home/dev", systemDirHoldsImages: true },
            "/var/lib/dso-registry-kind",
        ],
        [
            "over SSH, where the steps run as root",
            { remote: true, home: "/home/dev", systemDirHoldsImages: false },
            "/var/lib/dso-registry-kind",
        ],
    ])("%s", (_name, facts, dataDir) => {
        expect(defaultKindDataDir(facts)).toBe(dataDir);
    });

    it("says what to set when the home directory is unknown", () => {
        expect(() => defaultKindDataDir({ remote: false, home: "", systemDirHoldsImages: false })).toThrow(
            /pulumi config set --path 'dso-registry:kind.dataDir'/,
        );
    });
});
