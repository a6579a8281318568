/**
 * The Gateway API exposure's objects (components/inCluster/gateway.ts): the HTTPRoute's rules and parent, the
 * Gateway the stack creates, the ReferenceGrant for an operator's Gateway elsewhere, and the Certificate for
 * the operator's cert-manager issuer. What a controller does with them: test/engine/traefikPods.test.ts.
 */
import { describe, expect, test } from "vitest";
import {
    type GatewayExposureSpec,
    renderGateway,
    renderGatewayCertificate,
    renderGatewayObjects,
    renderGatewayReferenceGrant,
    renderHttpRoute,
} from "../../components/inCluster/gateway";
import { IN_CLUSTER } from "../../components/inCluster/spec";

const HOST = "registry.example.test";

function spec(overrides: Partial<GatewayExposureSpec> = {}, gateway: Partial<GatewayExposureSpec["gateway"]> = {}): GatewayExposureSpec {
    return {
        namespace: "dso",
        host: HOST,
        tls: { kind: "secret", certPem: "CERT", keyPem: "KEY" },
        ...overrides,
        gateway: { name: "registry", port: 443, proxyNetworks: [], ...gateway },
    };
}

type Rule = { matches: { path: { type: string; value: string } }[]; filters?: unknown[]; backendRefs: { name: string; port: number }[] };
const rules = (s: GatewayExposureSpec) => (renderHttpRoute(s).spec as { rules: Rule[] }).rules;

describe("the HTTPRoute", () => {
    test("every path of the registry's name goes to the front's plain-HTTP Service, on the named Gateway in the registry's namespace", () => {
        const route = renderHttpRoute(spec());
        expect(route.metadata).toMatchObject({ name: IN_CLUSTER.name, namespace: "dso" });
        expect(route.spec).toMatchObject({
            parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "registry" }],
            hostnames: [HOST],
        });
        expect(rules(spec())).toEqual([
            {
                matches: [{ path: { type: "PathPrefix", value: "/" } }],
                backendRefs: [{ name: IN_CLUSTER.name, port: IN_CLUSTER.servicePort }],
            },
        ]);
    });

    test("an operator's Gateway in another namespace, on one listener: both named in the parent reference", () => {
        const route = renderHttpRoute(spec({}, { name: "shared", namespace: "gateways", sectionName: "websecure" }));
        expect((route.spec as { parentRefs: unknown[] }).parentRefs).toEqual([
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: "shared", namespace: "gateways", sectionName: "websecure" },
        ]);
    });

    test("with Traefik and a login limit: the token path through its rate limit, every other request with credentials but the anonymous token through the credentials' (ExtensionRef), in that order", () => {
        const limited = spec({
            ingressController: "traefik",
            loginLimit: { tokenRequestsPerMinute: 20, credentialRequestsPerMinute: 40, ignoreNetworks: [] },
        });
        const backendRefs = [{ name: IN_CLUSTER.name, port: IN_CLUSTER.servicePort }];
        const filter = (name: string) => [{ type: "ExtensionRef", extensionRef: { group: "traefik.io", kind: "Middleware", name } }];
        const authorization = (type: string, value: string) => [
            { path: { type: "PathPrefix", value: "/" }, headers: [{ type, name: "Authorization", value }] },
        ];
        expect(rules(limited)).toEqual([
            { matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs },
            { matches: [{ path: { type: "Exact", value: "/v2/token" } }], filters: filter(IN_CLUSTER.loginLimitMiddleware), backendRefs },
            // Traefik ranks the two header rules alike, then by their order: the anonymous token's first, unlimited.
            { matches: authorization("Exact", "Bearer anonymous-read-only"), backendRefs },
            { matches: authorization("RegularExpression", "."), filters: filter(IN_CLUSTER.credentialsLimitMiddleware), backendRefs },
        ]);
    });

    test.each([
        [
            "another controller",
            {
                ingressController: undefined,
                loginLimit: { tokenRequestsPerMinute: 20, credentialRequestsPerMinute: 40, ignoreNetworks: [] },
            },
        ],
        ["Traefik without a limit", { ingressController: "traefik" as const }],
    ])("%s: no filter names a Middleware (an unknown ExtensionRef would break the rule)", (_label, overrides) => {
        expect(JSON.stringify(rules(spec(overrides)))).not.toContain("ExtensionRef");
    });
});

describe("the Gateway and what lets it use the certificate", () => {
    test("a class makes the stack create the Gateway: one HTTPS listener for the name, TLS from registry-tls, routes of its namespace", () => {
        const gateway = renderGateway(spec({}, { className: "traefik", port: 8443 }));
        expect(gateway?.metadata).toMatchObject({ name: "registry", namespace: "dso" });
        expect(gateway?.spec).toEqual({
            gatewayClassName: "traefik",
            listeners: [
                {
                    name: "https",
                    protocol: "HTTPS",
                    port: 8443,
                    hostname: HOST,
                    tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: IN_CLUSTER.tlsSecret }] },
                    allowedRoutes: { namespaces: { from: "Same" } },
                },
            ],
        });
        expect(renderGatewayReferenceGrant(spec({}, { className: "traefik" }))).toBeUndefined();
    });

    test("without a class the Gateway is the operator's: none is written; one elsewhere gets a grant for registry-tls alone", () => {
        expect(renderGateway(spec())).toBeUndefined();
        expect(renderGatewayReferenceGrant(spec())).toBeUndefined();
        const grant = renderGatewayReferenceGrant(spec({}, { namespace: "gateways" }));
        expect(grant).toMatchObject({
            apiVersion: "gateway.networking.k8s.io/v1beta1",
            kind: "ReferenceGrant",
            metadata: { namespace: "dso" },
        });
        expect(grant?.spec).toEqual({
            from: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gateways" }],
            to: [{ group: "", kind: "Secret", name: IN_CLUSTER.tlsSecret }],
        });
    });

    test("the operator's cert-manager issuer: the program's own Certificate into registry-tls, waited for until issued", () => {
        const certificate = renderGatewayCertificate(
            spec({ tls: { kind: "cert-manager", issuerKind: "ClusterIssuer", issuerName: "letsencrypt" } }),
        );
        expect(certificate?.spec).toEqual({
            secretName: IN_CLUSTER.tlsSecret,
            dnsNames: [HOST],
            issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: "letsencrypt" },
            // A key left in registry-tls by a move from the program's own certificate must not block issuing.
            privateKey: { rotationPolicy: "Always" },
        });
        expect(certificate?.metadata.annotations?.["pulumi.com/waitFor"]).toContain("status.revision");
        // The program's chain and a certificate the program holds need none.
        const chain = {
            kind: "cert-manager" as const,
            issuerKind: "Issuer" as const,
            issuerName: "dso-registry-ca",
            chain: { caValidityDays: 3650, serverCertValidityDays: 90 },
        };
        expect(renderGatewayCertificate(spec({ tls: chain }))).toBeUndefined();
        expect(renderGatewayCertificate(spec())).toBeUndefined();
    });

    test("the routing objects in creation order: grant, Gateway, route", () => {
        expect(renderGatewayObjects(spec({}, { namespace: "gateways" })).map((o) => o.kind)).toEqual(["ReferenceGrant", "HTTPRoute"]);
        expect(renderGatewayObjects(spec({}, { className: "traefik" })).map((o) => o.kind)).toEqual(["Gateway", "HTTPRoute"]);
    });
});
