/**
 * `registry.tls.mode: cert-manager` without an issuer of the operator's, under the real engine: the
 * program creates the issuer chain (self-signed Issuer, CA Certificate, CA Issuer, the registry's
 * Certificate) in a cluster whose API server serves cert-manager's own CRDs, cert-manager's own
 * controllers issue the certificates, and the program reads the CA back from cert-manager's Secret for
 * node trust and the stack output: nothing pasted by hand. Then a second `up` that changes nothing, and
 * `destroy`. The local (microk8s) stack with only the TLS mode changed and Jenkins off.
 */
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertManager, installCertManager } from "../support/certManager";
import type { ControlPlane } from "../support/kubeControlPlane";
import { startLocalCluster } from "../support/localCluster";
import { openWorkspace, type Workspace } from "../support/pulumiEngine";

const STACK = "local";

let kube: ControlPlane;
let certManager: CertManager;
let ws: Workspace;

beforeAll(async () => {
    kube = await startLocalCluster();
    certManager = await installCertManager(kube);
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kube.kubeconfig } });
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    await certManager?.stop();
    kube?.stop();
});

type Certificate = { status?: { conditions?: { type: string; status: string }[] } };
type TlsSecret = { data: Record<string, string> };
const certificate = (name: string) => kube.get<Certificate>(`/apis/cert-manager.io/v1/namespaces/dso/certificates/${name}`);
const pem = async (secret: string, key = "tls.crt") => {
    const s = await kube.get<TlsSecret>(`/api/v1/namespaces/dso/secrets/${secret}`);
    return s ? Buffer.from(s.data[key] ?? "", "base64").toString("utf8") : undefined;
};
const ready = (c: Certificate | undefined) => c?.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True") ?? false;

describe("cert-manager's issuer chain, real engine and real cert-manager", () => {
    it("previews and applies the chain with nothing pasted by hand", async () => {
        await ws.pulumiOk(["stack", "init", STACK]);
        await ws.pulumiOk(["config", "set", "--path", "dso-registry:registry.tls.mode", "cert-manager", "-s", STACK]);
        // No Jenkins here: the block goes (a switch turned off takes none of its settings).
        await ws.pulumiOk(["config", "rm", "dso-registry:jenkins", "-s", STACK]);

        // The CA's Secret does not exist yet: the preview must not try to read it.
        const preview = await ws.pulumi(["preview", "--diff", "-s", STACK]);
        expect(preview.code, preview.stdout + preview.stderr).toBe(0);
        expect(preview.stdout).toContain("dso-registry-selfsigned");

        const up = await ws.pulumi(["up", "--yes", "-s", STACK]);
        expect(up.code, `${up.stdout}${up.stderr}\n--- cert-manager:\n${certManager.output()}`).toBe(0);
    });

    it("cert-manager issued the CA and the registry's certificate, signed by that CA, for the registry's host", async () => {
        expect(ready(await certificate("dso-registry-ca"))).toBe(true);
        expect(ready(await certificate("registry-tls"))).toBe(true);
        const ca = new X509Certificate((await pem("dso-registry-ca"))!);
        const served = new X509Certificate((await pem("registry-tls"))!);
        expect(ca.ca).toBe(true);
        expect(served.checkIssued(ca)).toBe(true);
        expect(served.verify(ca.publicKey)).toBe(true);
        expect(served.checkHost("registry-dso.jmann.local")).toBe("registry-dso.jmann.local");
    });

    it("the stack's CA output and node trust carry the CA read from cert-manager's Secret", async () => {
        const ca = (await pem("dso-registry-ca"))!;
        expect(await ws.output(STACK, "caCertPem")).toBe(ca);
        const trust = await kube.get<{ data: Record<string, string> }>("/api/v1/namespaces/dso-node-trust/configmaps/dso-node-trust");
        expect(Object.values(trust?.data ?? {}).some((v) => v.includes(ca.trim()))).toBe(true);
    });

    it("a second `up` with no change plans nothing", async () => {
        const up = await ws.pulumi(["up", "--yes", "--skip-preview", "--expect-no-changes", "-s", STACK]);
        expect(up.code, up.stdout + up.stderr).toBe(0);
    });

    it("`destroy` removes the chain", async () => {
        const r = await ws.pulumi(["destroy", "--yes", "-s", STACK]);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(await certificate("dso-registry-ca")).toBeUndefined();
        expect(await kube.get("/apis/cert-manager.io/v1/namespaces/dso/issuers/dso-registry-ca")).toBeUndefined();
    });
});
