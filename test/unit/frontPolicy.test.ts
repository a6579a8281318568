/**
 * One front policy for every placement (components/accessPolicy/frontPolicy.ts): each setting of the front
 * reaches the policy of the cluster's sidecar (`sidecarPolicy`), the external host's site (`caddySitePolicy`)
 * and kind's front (`kindFrontPolicy`); the allowlist is enforced where the placement says; a Maven route
 * without a backend is refused.
 */
import { describe, expect, test } from "vitest";
import { type FrontPlacement, type FrontSpec, frontPolicy } from "../../components/accessPolicy/frontPolicy";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { kindFrontPolicy } from "../../components/kind/front";

const mirrors = [{ pathName: "docker.io", upstream: "cache.example:5000" }];

/** A value other than the default for every front setting: a setting added to `FrontSpec` must be named here. */
const SET = {
    requiresAuthForPull: true,
    deletesEnabled: true,
    allowedNetworks: ["10.0.0.0/8"],
    mirrorsRequireAuth: true,
    scopedPushAccounts: [{ username: "team-a", prefixes: ["team-a/"] }],
    overlap: true,
    decoy: { accounts: { push: ["jenkins", "team-a"], pull: [] }, bcryptHash: `$2b$10$${"a".repeat(53)}` },
    maven: { pathPrefix: "maven-releases", requiresAuthForPull: true },
} as const satisfies Required<FrontSpec>;

const UNSET = { requiresAuthForPull: false, deletesEnabled: false } as const;

const placements: Record<string, { policy: (front: FrontSpec) => AccessPolicy; lacks: readonly (keyof FrontSpec)[] }> = {
    // Behind a Gateway, where the sidecar enforces the allowlist.
    sidecar: {
        policy: (front) =>
            sidecarPolicy({ ...front, host: "registry.example.com", storage: "filesystem", mirrors, gateway: { proxyNetworks: [] } }),
        lacks: [],
    },
    host: {
        policy: (front) =>
            caddySitePolicy({
                ...front,
                allowedNetworks: front.allowedNetworks ?? [],
                layout: defaultHostLayout("/srv/data/registry"),
                registryHost: "registry.example.com",
                port: 443,
                tls: { kind: "acme", email: "ops@example.com" },
                blobFiles: true,
                upstream: "unix//run/dso-registry/registry.sock",
                mirrors,
            }),
        lacks: [],
    },
    // kind's front takes no allowlist, no account for pulls through the caches and no Maven repository (KindFrontSpec).
    kind: {
        policy: ({ allowedNetworks: _a, mirrorsRequireAuth: _m, maven: _v, ...front }) =>
            kindFrontPolicy({ ...front, registryName: "kind-registry", port: 5001, distributionName: "kind-distribution", mirrors }),
        lacks: ["allowedNetworks", "mirrorsRequireAuth", "maven"],
    },
};

describe.each(Object.entries(placements))("the %s's policy", (_name, { policy, lacks }) => {
    const unset = policy(UNSET);
    test.each(Object.keys(SET) as (keyof FrontSpec)[])("places the front's %s", (key) => {
        const set = policy({ ...UNSET, [key]: SET[key] });
        if (lacks.includes(key)) expect(set).toEqual(unset);
        else expect(set).not.toEqual(unset);
    });

    test("with every setting, says what the front says", () => {
        const set = policy(SET);
        expect(set.requiresAuthForPull).toBe(true);
        expect(set.deletesEnabled).toBe(true);
        expect(set.scopedPushAccounts).toEqual(SET.scopedPushAccounts);
        expect(set.decoy).toEqual(SET.decoy);
        expect(set.overlap?.matchersFile).toMatch(/^\/\S+$/);
        expect(set.mirrors).toEqual(mirrors);
        expect(set.mirrorsRequireAuth).toBe(!lacks.includes("mirrorsRequireAuth"));
        expect(set.allowedNetworks).toEqual(lacks.includes("allowedNetworks") ? [] : SET.allowedNetworks);
        expect(set.maven && { pathPrefix: set.maven.pathPrefix, requiresAuthForPull: set.maven.requiresAuthForPull }).toEqual(
            lacks.includes("maven") ? undefined : SET.maven,
        );
    });
});

const placement: FrontPlacement = {
    siteAddress: "registry.example.com",
    port: 5000,
    tls: { kind: "plain-http" },
    upstream: "127.0.0.1:5001",
    enforcesAllowlist: true,
    usersFiles: { push: "/users/push", pull: "/users/pull", overlapMatchers: "/users/overlap" },
    admin: "off",
    accessLog: { kind: "stdout" },
};

test("the allowlist is the front's only where the placement enforces it", () => {
    const front = { ...UNSET, allowedNetworks: ["10.0.0.0/8"] };
    expect(frontPolicy(front, placement).allowedNetworks).toEqual(["10.0.0.0/8"]);
    expect(frontPolicy(front, { ...placement, enforcesAllowlist: false }).allowedNetworks).toEqual([]);
    // Behind an Ingress, the sidecar leaves the allowlist to the controller.
    const sidecar = { ...front, host: "registry.example.com", storage: "filesystem" } as const;
    expect(sidecarPolicy(sidecar).allowedNetworks).toEqual([]);
    expect(sidecarPolicy({ ...sidecar, gateway: { proxyNetworks: ["10.42.0.0/16"] } })).toMatchObject({
        allowedNetworks: ["10.0.0.0/8"],
        trustedProxies: ["10.42.0.0/16"],
    });
});

test("empty lists are left out: no caches, no scoped accounts, no trusted proxies", () => {
    const policy = frontPolicy(
        { ...UNSET, mirrorsRequireAuth: true, scopedPushAccounts: [] },
        { ...placement, mirrors: [], trustedProxies: [] },
    );
    expect(policy).not.toHaveProperty("mirrors");
    expect(policy).not.toHaveProperty("mirrorsRequireAuth");
    expect(policy).not.toHaveProperty("scopedPushAccounts");
    expect(policy).not.toHaveProperty("trustedProxies");
});

test("a Maven route needs the placement's Maven backend", () => {
    const front = { ...UNSET, maven: SET.maven };
    expect(() => frontPolicy(front, placement)).toThrow(/Maven repository "maven-releases".*no Maven backend/);
    const maven = { upstream: "127.0.0.1:5002", deployUsersFile: "/users/maven-deploy" };
    expect(frontPolicy(front, { ...placement, maven }).maven).toEqual({ ...SET.maven, ...maven });
    // A backend alone is no route.
    expect(frontPolicy(UNSET, { ...placement, maven })).not.toHaveProperty("maven");
});
