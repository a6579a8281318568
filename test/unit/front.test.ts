/**
 * The front contract (components/shared/front.ts): the users files and scopes every placement's front
 * derives from the same accounts, and the placements' args taking the contract itself.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import type { ExternalRegistryHostArgs, InClusterRegistryArgs, KindRegistryArgs, RegistryAccounts } from "../../components";
import { type FrontAccounts, frontUsers, type RegistryFront } from "../../components/shared/front";

const account = (username: string) => ({ username, bcryptHash: `$2b$10$hash-of-${username}` });

describe("frontUsers", () => {
    it("puts the push account and the scoped ones in the push file, the pull-only and read accounts in the pull file", () => {
        const users = frontUsers({
            push: account("ci-push"),
            scopedPush: [{ ...account("team-a-ci"), prefixes: ["p2c/team-a/"] }],
            pull: account("cluster-pull"),
            read: [account("dev-alice"), account("flux")],
        });
        expect(users.push.map((a) => a.username)).toEqual(["ci-push", "team-a-ci"]);
        expect(users.pull.map((a) => a.username)).toEqual(["cluster-pull", "dev-alice", "flux"]);
        expect(users.scoped).toEqual([{ username: "team-a-ci", prefixes: ["p2c/team-a/"] }]);
    });

    it("with the push account alone: one pusher, nobody in the pull file, no scopes", () => {
        expect(frontUsers({ push: account("ci-push") })).toEqual({ push: [account("ci-push")], pull: [], scoped: [] });
    });

    it("keeps read accounts when there is no pull-only account", () => {
        expect(frontUsers({ push: account("ci-push"), read: [account("dev-bob")] }).pull).toEqual([account("dev-bob")]);
    });
});

describe("the placements take one contract", () => {
    it("RegistryAccounts gives the accounts, and every placement's args are a RegistryFront (kind: without allowlist and cache accounts)", () => {
        expectTypeOf<RegistryAccounts>().toExtend<FrontAccounts>();
        expectTypeOf<InClusterRegistryArgs>().toExtend<RegistryFront>();
        expectTypeOf<ExternalRegistryHostArgs>().toExtend<RegistryFront>();
        expectTypeOf<KindRegistryArgs>().toExtend<Omit<RegistryFront, "allowedNetworks" | "mirrorsRequireAuth">>();
        // expectTypeOf checks at type-check time only; the run itself asserts the helper it relies on.
        expect(frontUsers({ push: account("x") }).push).toHaveLength(1);
    });
});
