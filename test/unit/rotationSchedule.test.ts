/**
 * components/accounts/rotationSchedule.ts, and what the stack makes of it: periods of whole days from
 * 1970-01-01 UTC, the passwords' keepers that carry the period, and the stack output that tells it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { periodKeeper, rotationPeriod } from "../../components/accounts/rotationSchedule";
import { parseConfig } from "../../components/config";
import { settle, startMockRuntime } from "../../tools/mockRuntime";

const DAY = 24 * 3600 * 1000;
const rtPromise = startMockRuntime({ stack: "test" });

import { RegistryAccounts } from "../../components/accounts/registryAccounts";

describe("rotationPeriod", () => {
    it("cuts time into periods of whole days from 1970-01-01 UTC", () => {
        const p = rotationPeriod(90, new Date(Date.UTC(2026, 10, 24, 9, 30)));
        expect(p.period).toBe(Math.floor(Date.UTC(2026, 10, 24, 9, 30) / (90 * DAY)));
        expect(p.since.getTime() % (90 * DAY)).toBe(0);
        expect(p.due.getTime() - p.since.getTime()).toBe(90 * DAY);
        expect(p.since.getTime()).toBeLessThanOrEqual(Date.UTC(2026, 10, 24, 9, 30));
        expect(p.due.getTime()).toBeGreaterThan(Date.UTC(2026, 10, 24, 9, 30));
    });

    it("a period's last millisecond belongs to it; the next begins at its due time", () => {
        const p = rotationPeriod(30, new Date(Date.UTC(2026, 0, 15)));
        expect(rotationPeriod(30, new Date(p.due.getTime() - 1)).period).toBe(p.period);
        expect(rotationPeriod(30, p.due).period).toBe(p.period + 1);
        expect(rotationPeriod(30, p.due).since).toEqual(p.due);
    });

    it("the keeper names the length too, so that a new length rotates as well", () => {
        const now = new Date(Date.UTC(2026, 10, 24));
        expect(periodKeeper(90, rotationPeriod(90, now))).toBe(`90d/${rotationPeriod(90, now).period}`);
        expect(periodKeeper(90, rotationPeriod(90, now))).not.toBe(periodKeeper(91, rotationPeriod(91, now)));
    });

    it("refuses a length that is not a whole number of days", () => {
        expect(() => rotationPeriod(0, new Date())).toThrow(/at least 1/);
        expect(() => rotationPeriod(1.5, new Date())).toThrow(/whole number/);
    });
});

describe("the setting", () => {
    const config = (containerRegistry: Record<string, unknown>) =>
        parseConfig(
            {
                containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c", ...containerRegistry },
                // ingress-nginx ("public") takes the login limit with its open routes accepted.
                registry: { mode: "in-cluster", loginLimit: { allowUnlimitedCredentialRequests: true } },
                inCluster: { ingressClass: "public" },
            },
            {},
            { allowMissingSecrets: true },
        );

    it("is told moot, with the counter, where the program generates no password (the operator's push password, no pull account)", () => {
        const moot = (pushCredentials: string) =>
            config({ pushCredentials, rotateAfterDays: 90, rotation: "2" })
                .warnings.filter((w) => /has no effect/.test(w.message))
                .map((w) => w.key)
                .sort();
        expect(moot("operator")).toEqual(["dso-registry:containerRegistry.rotateAfterDays", "dso-registry:containerRegistry.rotation"]);
        expect(moot("generated")).toEqual([]);
    });

    it("takes whole days from 1 to 3650, and is unset by default", () => {
        expect(config({}).config.containerRegistry.rotateAfterDays).toBeUndefined();
        expect(config({ rotateAfterDays: 90 }).config.containerRegistry.rotateAfterDays).toBe(90);
        for (const bad of [0, 2.5, 3651, "90"]) expect(() => config({ rotateAfterDays: bad })).toThrow(/rotateAfterDays/);
    });
});

describe("RegistryAccounts with a rotation by age", () => {
    beforeAll(async () => {
        await rtPromise;
        const make = (name: string, agePeriod?: string) =>
            new RegistryAccounts(name, { push: { username: "ci-push" }, pull: { username: "cluster-pull" }, rotation: "1", agePeriod });
        for (const [name, period] of [["off"], ["p1", "90d/228"], ["p1again", "90d/228"], ["p2", "90d/229"]] as const) make(name, period);
        await settle();
    });

    it("the period is a keeper of every generated password: the same period keeps them, the next makes new ones", async () => {
        const rt = await rtPromise;
        for (const role of ["push", "pull"]) {
            expect(rt.byName(`p1-${role}`).inputs.keepers).toEqual({
                username: role === "push" ? "ci-push" : "cluster-pull",
                rotation: "1",
                agePeriod: "90d/228",
            });
            expect(rt.byName(`off-${role}`).inputs.keepers).not.toHaveProperty("agePeriod");
        }
        // The random provider keeps a password while its keepers stay and makes a new one when they change.
        const keepers = (name: string) => rt.byName(`${name}-push`).inputs.keepers;
        expect(keepers("p1again")).toEqual(keepers("p1"));
        expect(keepers("p2")).not.toEqual(keepers("p1"));
    });
});
