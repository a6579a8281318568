/**
 * The plan of every `pulumi up` after the first: for each transition of a committed stack (config A →
 * config B, or A → destroy) the program runs under the mock for A and for B, and test/support/plan.ts
 * computes what the engine would do from the providers' own rules. Every plan must keep the registry's
 * data unless it is a destroy with purge, must not start a container on a port or socket directory an
 * old one still holds,
 * and must not lose an old delete script to an update (what it removes would stay on the machine).
 * Each check failed on the program before the fix it stands for: the data kept, the ports, the deletes.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ACCOUNTS, DYNAMIC_DIFFS, plan, prod, TRANSITIONS } from "../support/lifecycleTransitions";
import { describePlan, planOf } from "../support/plan";
import { portsEra } from "../support/portsEra";
import { dataLosses, lostDeletes, portCollisions, run } from "../support/transitions";

describe.each(TRANSITIONS.map((t) => [t.name, t] as const))("%s", (_, t) => {
    it("deletes no registry data unless it is a destroy with purge", async () => {
        const { plan: p, before } = await plan(t);
        if (t.purges) expect(dataLosses(before.resources, p), describePlan(p)).not.toEqual([]);
        else expect(dataLosses(before.resources, p), describePlan(p)).toEqual([]);
    });

    it("starts no container on a port or socket directory an old one still holds", async () => {
        const { plan: p, before } = await plan(t);
        expect(portCollisions(before.resources, p), describePlan(p)).toEqual([]);
    });

    it("loses no old delete script to an update", async () => {
        const { plan: p } = await plan(t);
        expect(lostDeletes(p), describePlan(p)).toEqual([]);
    });
});

describe("upgrade from ports to sockets (the external host's caches, prod)", () => {
    it("updates each cache's commands in place, replaces none, and nothing collides or loses a delete", async () => {
        const now = await run("prod", prod);
        const p = planOf(portsEra(now.resources), now.resources, { dynamicDiff: DYNAMIC_DIFFS });
        const caches = p.steps.filter((s) => s.name.startsWith("registry-host-mirrors-"));
        expect(caches.map((s) => `${s.op} ${s.name}`).sort(), describePlan(p)).toEqual(
            ["docker-io", "ghcr-io", "registry-k8s-io"].flatMap((n) => [
                `update registry-host-mirrors-${n}-config-write`,
                `update registry-host-mirrors-${n}-run`,
            ]),
        );
        expect(portCollisions(portsEra(now.resources), p), describePlan(p)).toEqual([]);
        expect(lostDeletes(p), describePlan(p)).toEqual([]);
    });
});

describe("plans with a known shape", () => {
    const byName = (name: string) => TRANSITIONS.find((t) => t.name === name)!;

    it.each(["nothing changed (local)", "nothing changed (prod)"])("%s: no step at all", async (name) => {
        const { plan: p } = await plan(byName(name));
        expect(p.steps, describePlan(p)).toEqual([]);
    });

    it.each([
        ["login limit changed (external host)", "registry-host-login-limit-fail2ban"],
        ["login limit turned off (external host)", "registry-host-login-limit-fail2ban"],
        ["login limit changed (in-cluster)", "registry-ingress-registry-login"],
    ])("%s: one update, of %s, and nothing else", async (name, resource) => {
        const { plan: p } = await plan(byName(name));
        expect(
            p.steps.map((s) => `${s.op} ${s.urn.split("::").pop()}`),
            describePlan(p),
        ).toEqual([`update ${resource}`]);
    });

    it.each(["UI turned on (local)", "UI image bumped (local)"])(
        "%s: only the UI's own objects change; the registry's Deployment, pod and volume are untouched",
        async (name) => {
            const { plan: p } = await plan(byName(name));
            expect(p.steps.length, describePlan(p)).toBeGreaterThan(0);
            const touched = p.steps.map((s) => s.urn.split("::").pop()!);
            expect(
                touched.filter((n) => !n.includes("registry-ui")),
                describePlan(p),
            ).toEqual([]);
        },
    );

    it("a destroy deletes every resource and creates none", async () => {
        const { plan: p, before } = await plan(byName("destroy (prod, purge off)"));
        expect(p.counts).toMatchObject({ create: 0, update: 0, replace: 0, delete: before.resources.filter((r) => r.custom).length });
    });

    it("rotation replaces every generated password and nothing else of its kind", async () => {
        const { plan: p } = await plan(byName("rotation bumped"));
        const passwords = p.steps.filter((s) => s.type === "random:index/randomPassword:RandomPassword" && s.op !== "delete");
        expect(passwords.length).toBeGreaterThan(0);
        expect(passwords.every((s) => s.op === "replace")).toBe(true);
    });

    it.each([
        [ACCOUNTS.pushRevoked, "team-a-ci", ["delete"]],
        [ACCOUNTS.pushRotated, "team-b-ci", ["replace", "update"]],
        [ACCOUNTS.readRevoked, "flux-reader", ["delete"]],
        [ACCOUNTS.hostPushRevoked, "team-a-ci", ["delete"]],
    ])("%s: only %s's own password, credential and pull Secret change, and the users files", async (name, account, ops) => {
        const { plan: p } = await plan(byName(name));
        // The account's password, its overlap (the previous password kept), credential and pull Secrets.
        const own = (n: string) =>
            n.endsWith(`-${account}`) || n.endsWith(`-${account}-overlap`) || n.startsWith(`read-pull-secrets-${account}-`);
        const usersFiles = [
            "registry-secret-registry-htpasswd",
            "registry-configmap-registry-config",
            "registry-deployment-registry",
            // The external host: its push users file and Caddyfile, Caddy's reload, the read-back of Caddy's
            // files (their digests), the post-deploy check.
            "registry-host-caddy-users-push-write",
            "registry-host-caddy-caddyfile-write",
            "registry-host-caddy-reload",
            "registry-host-caddy-files-check",
            "registry-host-check-run",
        ];
        const touched = p.steps.map((s) => s.urn.split("::").pop()!);
        expect(
            touched.filter((n) => !own(n) && !usersFiles.includes(n)),
            describePlan(p),
        ).toEqual([]);
        expect(new Set(p.steps.filter((s) => own(s.urn.split("::").pop()!)).map((s) => s.op)), describePlan(p)).toEqual(
            new Set([...ops, ...(ops.includes("replace") ? ["delete"] : [])]),
        );
        expect(touched.filter((n) => usersFiles.includes(n)).length, describePlan(p)).toBeGreaterThan(0);
    });

    it("a rotated Jenkins token updates each credential in place (the stored token is the new one before any destroy)", async () => {
        const { plan: p } = await plan(byName("Jenkins token rotated"));
        const credentials = p.steps.filter((s) => s.type === "pulumi-nodejs:dynamic/jenkins:Credential");
        expect(credentials.map((s) => s.op)).toEqual(["update", "update"]);
    });

    it.each([
        ["the generated CA", "tls:index/selfSignedCert:SelfSignedCert"],
        ["the server certificate", "tls:index/locallySignedCert:LocallySignedCert"],
    ])("%s is replaced inside its renewal window and past expiry, and not before", async (_, type) => {
        const t = byName("nothing changed (local)");
        const before = await run(t.stack, t.from);
        const cert = before.resources.find((r) => r.type === type)!;
        const earlyHours = Number((cert.rawInputs as { earlyRenewalHours?: number }).earlyRenewalHours ?? 0);
        expect(earlyHours, "a renewal window").toBeGreaterThan(0);
        const now = Date.UTC(2030, 0, 1);
        const opOf = (hoursLeft: number) => {
            const p = planOf(before.resources, before.resources, {
                now,
                certificates: { [cert.urn]: { end: now + hoursLeft * 3_600_000 } },
            });
            return p.steps.find((s) => s.urn === cert.urn && s.op !== "delete")?.op ?? "same";
        };
        expect(opOf(earlyHours + 24), "a day before the window").toBe("same");
        expect(opOf(earlyHours / 2), "inside the window").toBe("replace");
        expect(opOf(-1), "past expiry").toBe("replace");
    });
});

/** docs/lifecycle.md's table of plans: one row per transition, by its name, with its counts. */
describe("the table of plans in docs/lifecycle.md", () => {
    it("has each transition's counts as the model plans them, and no other row", async () => {
        const doc = readFileSync(path.join(__dirname, "..", "..", "docs", "lifecycle.md"), "utf8");
        const start = doc.indexOf("| Transition (as `test/support/lifecycleTransitions.ts` names it)");
        expect(start).toBeGreaterThan(0);
        const rows = doc
            .slice(start)
            .split("\n\n")[0]!
            .split("\n")
            .slice(2)
            .map((line) => line.split("|").map((cell) => cell.trim()));
        const documented = Object.fromEntries(rows.map((cells) => [cells[1], cells.slice(2, 7).join(" ")]));
        const planned: Record<string, string> = {};
        for (const t of TRANSITIONS) {
            const { create, update, replace, delete: del } = (await plan(t)).plan.counts;
            planned[t.name] = [t.stack, create, update, replace, del].join(" ");
        }
        expect(documented).toEqual(planned);
    });
});
