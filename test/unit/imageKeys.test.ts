/**
 * Every image a stack deploys has a key, and every image key takes the references an air-gapped site
 * writes: a mirror's name, a tag, a digest with or without its tag. The keys are found by walking the
 * config schema, so a key added tomorrow is checked the day it is added.
 * Covers: components/config/schema/values.ts (`imageRef`), every schema entry that names an image.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { schema } from "../../components/config/schema";
import { imageRef } from "../../components/config/schema/values";

const unwrap = (node: z.ZodType): z.ZodType => {
    let current = node;
    while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
        current = current.def.innerType as z.ZodType;
    }
    return current;
};

/** Every leaf of the schema with its dotted key: objects walked, a list of objects through its item. */
function leaves(node: z.ZodType, at: string[] = []): { key: string; entry: z.ZodType }[] {
    const inner = unwrap(node);
    if (inner instanceof z.ZodObject) {
        return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) => leaves(child, [...at, key]));
    }
    if (inner instanceof z.ZodArray && unwrap(inner.element as z.ZodType) instanceof z.ZodObject) {
        return leaves(inner.element as z.ZodType, [...at, "[]"]);
    }
    return [{ key: at.join(".").replaceAll(".[]", "[]"), entry: node }];
}

/** The keys that name an image: by their name (`…Image`, `image`) or their block (`jenkins.agentImages`). */
const IMAGE_KEYS = leaves(schema).filter(({ key }) => /(^|\.)image$|Image$|\.agentImages\./.test(key));

const HEX = "0123456789abcdef".repeat(4);

const ACCEPTED = [
    ["a name and tag", "registry:3.1.2"],
    ["a mirror's name with a port and a path", "mirror.corp.example:5000/library/caddy:2.11.9"],
    ["a tag and its digest", `caddy:2.11.9@sha256:${HEX}`],
    ["a digest alone", `caddy@sha256:${HEX}`],
    ["a mirror's name with a digest alone", `mirror.corp.example/prom/blackbox-exporter@sha256:${HEX}`],
    ["a tag with underscores and dashes", "quay.io/buildah/stable:v1.44.0_build-2"],
    ["a tag with upper-case letters", "app:Release-1"],
    ["a mirror on localhost with a port", "localhost:5000/caddy:2.11.9"],
    ["a mirror at an IPv6 address", "[fd00::5]:5000/library/caddy:2.11.9"],
    ["a mirror's name in upper case", "Mirror.Corp.Example/library/caddy:2.11.9"],
    ["separators of a name component", "team/my_app__x.y---z:1"],
] as const;

const REFUSED = [
    ["empty", ""],
    ["a scheme", "https://registry.example.com/caddy:2.11.9"],
    ["upper case in the name", "Caddy:2.11.9"],
    ["a short digest", `caddy@sha256:${HEX.slice(1)}`],
    ["upper-case hex in the digest", `caddy@sha256:${HEX.toUpperCase()}`],
    ["a digest of another algorithm", `caddy@sha512:${HEX}${HEX}`],
    ["white space", "caddy: 2.11.9"],
    ["an empty path segment", "mirror.corp.example/library//caddy:2.11.9"],
    ["a path ending in a slash", "library/:2.11.9"],
    ["two tags", "caddy:2.11.9:latest"],
    ["an empty tag", "caddy:"],
    ["a tag starting with a dot", "caddy:.2"],
    ["a tag of 129 characters", `caddy:${"v".repeat(129)}`],
    ["doubled dots in the name", "my..app:1"],
    ["a name component ending in a separator", "team_/app:1"],
    ["a port with letters", "mirror.corp.example:http/caddy:2.11.9"],
    ["a domain alone", "mirror.corp.example:5000/"],
    ["an IPv6 mirror that is not an address", "[1:2:3]:5000/caddy:2.11.9"],
    ["a name longer than 255 characters", `mirror.corp.example/${"a".repeat(240)}:1`],
    ["an empty digest", "caddy@"],
    ["two digests", `caddy@sha256:${HEX}@sha256:${HEX}`],
] as const;

describe("image keys", () => {
    it("are found by the walk: every image the stacks deploy", () => {
        expect(IMAGE_KEYS.map((k) => k.key).sort()).toEqual(
            [
                "inCluster.kubectlImage",
                "jenkins.agentImages.buildah",
                "jenkins.agentImages.dockerCli",
                "jenkins.agentImages.dockerDaemon",
                "jenkins.agentImages.kaniko",
                "kind.watcherImage",
                "mavenRegistry.nginxImage",
                "nodes.daemonsetImage",
                "registry.caddyImage",
                "registry.image",
                "registry.maintenance.backup.image",
                "registry.monitoring.probeImage",
                "registry.ui.image",
            ].sort(),
        );
    });

    it.each(IMAGE_KEYS.map(({ key, entry }) => [key, entry] as const))(
        "%s is checked by the shared image-reference rule",
        (_key, entry) => {
            expect(unwrap(entry)).toBe(imageRef);
        },
    );

    it.each(IMAGE_KEYS.filter(({ entry }) => entry.safeParse(undefined).data !== undefined).map(({ key, entry }) => [key, entry] as const))(
        "%s has a default the rule accepts, pinned to a release",
        (_key, entry) => {
            const pinned = entry.parse(undefined) as string;
            expect(imageRef.safeParse(pinned).success).toBe(true);
            expect(pinned).toMatch(/:[^:/@]*\d[^:/@]*$/);
        },
    );

    describe.each(IMAGE_KEYS.map(({ key, entry }) => [key, entry] as const))("%s", (_key, entry) => {
        it.each(ACCEPTED)("takes %s", (_what, reference) => {
            expect(entry.safeParse(reference)).toMatchObject({ success: true, data: reference });
        });

        it.each(REFUSED)("refuses %s", (_what, reference) => {
            expect(entry.safeParse(reference).success).toBe(false);
        });
    });
});
