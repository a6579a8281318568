/**
 * components/shared/facts.ts, its functions: which Distribution an image is, durations, which runtimes
 * restart for a registries.yaml change, how the registry and its images are named, when a step needs sudo.
 */
import { describe, expect, it } from "vitest";
import {
    durationSeconds,
    imagePrefix,
    isDistribution3Image,
    needsSudo,
    RUNTIME_FLAVOURS,
    registryAuthority,
    restartsOnRegistriesChange,
} from "../../components/shared/facts";

describe("isDistribution3Image", () => {
    it.each(["registry:3", "registry:3.0.0", "ghcr.io/distribution/distribution:3.0.0", `registry:3.0.0@sha256:${"a".repeat(64)}`])(
        "%s is Distribution 3",
        (image) => {
            expect(isDistribution3Image(image)).toBe(true);
        },
    );

    it.each(["registry:2", "registry:2.8.3", "registry:30", "registry", "host:3/registry:2.8.3"])("%s is not", (image) => {
        expect(isDistribution3Image(image)).toBe(false);
    });
});

describe("durationSeconds", () => {
    it.each([
        ["30s", 30],
        ["90m", 5400],
        ["168h", 604800],
    ])("%s is %i seconds", (duration, seconds) => {
        expect(durationSeconds(duration)).toBe(seconds);
    });

    it.each(["", "1d", "1h30m", "h", "-1h"])("%j is not a duration", (duration) => {
        expect(durationSeconds(duration)).toBeUndefined();
    });
});

it("only k3s and RKE2 restart for a registries.yaml change", () => {
    expect(RUNTIME_FLAVOURS.filter(restartsOnRegistriesChange)).toEqual(["k3s", "rke2"]);
});

describe("the registry's names", () => {
    it("names the port only when it is not 443", () => {
        expect(registryAuthority("registry.example.test", 443)).toBe("registry.example.test");
        expect(registryAuthority("registry.example.test", 5000)).toBe("registry.example.test:5000");
    });

    it("puts the path prefix after the authority, when there is one", () => {
        expect(imagePrefix("registry.example.test:5000", "team")).toBe("registry.example.test:5000/team");
        expect(imagePrefix("registry.example.test", "")).toBe("registry.example.test");
    });
});

describe("needsSudo", () => {
    it("follows the setting when there is one", () => {
        expect(needsSudo("root", true)).toBe(true);
        expect(needsSudo("deploy", false)).toBe(false);
    });

    it("otherwise is needed by every user but root", () => {
        expect(needsSudo("root", undefined)).toBe(false);
        expect(needsSudo("deploy", undefined)).toBe(true);
    });
});
