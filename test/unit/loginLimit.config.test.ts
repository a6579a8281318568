/**
 * The in-cluster login limit where a controller cannot limit every password guess: the config refuses it
 * on, naming the key that accepts what runs instead, rather than warning. Behind a Gateway on a controller
 * other than Traefik nothing limits guesses (only `enabled: false` is accepted); behind ingress-nginx only
 * the token endpoint and the ping are limited (`allowUnlimitedCredentialRequests: true` is accepted, and
 * keeps those two limits). Traefik, either exposure, is accepted as it was.
 * Covers: components/config/rules.ts (`loginLimitProblems`), the login limit's row of
 * components/config/mootSettings.ts, the key in components/config/schema/registry.ts and components/config/modeShapes.ts.
 */
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../components/config";
import { editCommand } from "../../components/config/problems";
import { configProblems } from "../support/configProblems";

type Raw = Record<string, unknown>;

/** An in-cluster stack with the given inCluster block and registry.loginLimit (the defaults when unset). */
function stack(inCluster: Raw, loginLimit?: Raw): Raw {
    return {
        containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c" },
        registry: { mode: "in-cluster", ...(loginLimit ? { loginLimit } : {}) },
        inCluster,
    };
}

const GATEWAY = { exposure: "gateway", gateway: { name: "shared", namespace: "gateways" } };

/** The problems about registry.loginLimit, as `key: message`. */
const limitProblems = (raw: Raw) =>
    configProblems(raw, {}, { allowMissingSecrets: true }).filter((p) => p.startsWith("dso-registry:registry.loginLimit"));

/** The keys of the stack's warnings about registry.loginLimit. */
const limitWarnings = (raw: Raw) =>
    parseConfig(raw, {}, { allowMissingSecrets: true })
        .warnings.map((w) => w.key)
        .filter((k) => k.startsWith("dso-registry:registry.loginLimit"));

describe("behind a Gateway whose controller is not Traefik, the login limit on is refused", () => {
    it.each([
        ["the controller unset", {}],
        ['a class this program does not know ("haproxy")', { ingressClass: "haproxy" }],
        ['inCluster.ingressController "nginx"', { ingressController: "nginx" }],
    ])("%s: refused on registry.loginLimit.enabled, with the command that turns it off and the way to a limit", (_name, controller) => {
        const problems = limitProblems(stack({ ...GATEWAY, ...controller }));
        expect(problems).toHaveLength(1);
        const [problem] = problems;
        expect(problem).toMatch(/^dso-registry:registry\.loginLimit\.enabled: is true, but with inCluster\.exposure "gateway"/);
        expect(problem).toContain("Gateway API has no rate limit");
        expect(problem).toContain('set inCluster.ingressController "traefik"');
        expect(problem).toContain(`(${editCommand({ set: ["registry", "loginLimit", "enabled"], value: false })})`);
    });

    it("turned off, it is accepted without a warning that the setting has no effect, and no limit is written", () => {
        const raw = stack(GATEWAY, { enabled: false });
        expect(limitProblems(raw)).toEqual([]);
        expect(limitWarnings(raw)).toEqual([]);
        const registry = parseConfig(raw, {}, { allowMissingSecrets: true }).config.registry;
        expect(registry.mode === "in-cluster" && registry.loginLimit.enabled).toBe(false);
    });

    it.each([
        ['inCluster.ingressController "traefik"', { ingressController: "traefik" }],
        ['inCluster.ingressClass "traefik"', { ingressClass: "traefik" }],
    ])("on Traefik (%s) the limit on is accepted as before", (_name, controller) => {
        const raw = stack({ ...GATEWAY, ...controller });
        expect(limitProblems(raw)).toEqual([]);
        expect(limitWarnings(raw)).toEqual([]);
    });
});

describe("behind ingress-nginx, the login limit on is refused until the open routes are accepted", () => {
    it.each([
        ['inCluster.ingressClass "nginx"', { ingressClass: "nginx" }, 'ingress-nginx (inCluster.ingressClass "nginx")'],
        [
            'inCluster.ingressClass "public" (microk8s before 1.35)',
            { ingressClass: "public" },
            'ingress-nginx (inCluster.ingressClass "public")',
        ],
        [
            'inCluster.ingressController "nginx" on the default class',
            { ingressController: "nginx" },
            'ingress-nginx (inCluster.ingressController "nginx")',
        ],
    ])("%s: refused on allowUnlimitedCredentialRequests, naming what stays open and the fix", (_name, controller, names) => {
        const problems = limitProblems(stack(controller));
        expect(problems).toHaveLength(1);
        const [problem] = problems;
        expect(problem).toMatch(/^dso-registry:registry\.loginLimit\.allowUnlimitedCredentialRequests: is false, but /);
        expect(problem).toContain(names);
        expect(problem).toContain("limits only the token endpoint and the ping");
        expect(problem).toContain("manifest PUT");
        expect(problem).toContain('inCluster.ingressController "traefik"');
        expect(problem).toContain(`(${editCommand({ set: ["registry", "loginLimit", "allowUnlimitedCredentialRequests"], value: true })})`);
    });

    it("accepted, the limit stays on with its settings (the token endpoint's and the ping's); turned off, it is accepted too", () => {
        const accepted = stack({ ingressClass: "nginx" }, { allowUnlimitedCredentialRequests: true, tokenRequestsPerMinute: 30 });
        expect(limitProblems(accepted)).toEqual([]);
        expect(limitWarnings(accepted)).toEqual([]);
        const registry = parseConfig(accepted, {}, { allowMissingSecrets: true }).config.registry;
        if (registry.mode !== "in-cluster" || !registry.loginLimit.enabled) throw new Error("the limit is on");
        expect(registry.loginLimit).toMatchObject({ tokenRequestsPerMinute: 30, allowUnlimitedCredentialRequests: true });
        expect(limitProblems(stack({ ingressClass: "nginx" }, { enabled: false }))).toEqual([]);
    });
});

describe("elsewhere the key changes nothing", () => {
    it.each([
        ["Traefik's Ingresses", { ingressClass: "traefik" }, 'inCluster.ingressClass "traefik"'],
        ["a Gateway on Traefik", { ...GATEWAY, ingressController: "traefik" }, 'inCluster.exposure "gateway"'],
        ["a class this program does not know", { ingressClass: "haproxy" }, 'inCluster.ingressClass "haproxy"'],
    ])("behind %s, allowUnlimitedCredentialRequests warns that it has no effect", (_name, inCluster, reason) => {
        const raw = stack(inCluster, { allowUnlimitedCredentialRequests: true });
        expect(limitProblems(raw)).toEqual([]);
        const warning = parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.find(
            (w) => w.key === "dso-registry:registry.loginLimit.allowUnlimitedCredentialRequests",
        );
        expect(warning?.message).toMatch(/^has no effect with /);
        expect(warning?.message).toContain(reason);
        expect(warning?.message).toContain("only ingress-nginx leaves requests with credentials unlimited");
    });

    it("an unknown class (the cluster's default) keeps the limit on without a refusal: only the cluster knows its controller", () => {
        expect(limitProblems(stack({}))).toEqual([]);
    });

    it("the external host does not take it: fail2ban counts every failed login", () => {
        const raw = {
            containerRegistry: { host: "registry.example.com", pathPrefix: "team/app", pushCredentials: "operator" },
            registry: {
                mode: "external-host",
                tls: { mode: "acme", acmeEmail: "ops@example.com" },
                loginLimit: { allowUnlimitedCredentialRequests: true },
            },
            externalHost: { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" } },
        };
        expect(limitProblems(raw)).toEqual([
            expect.stringMatching(/^dso-registry:registry\.loginLimit\.allowUnlimitedCredentialRequests: /),
        ]);
    });
});
