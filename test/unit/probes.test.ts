/**
 * A container's startup probe (components/shared/probes.ts): its readiness check every second, for as long as its
 * liveness probe would wait for a container that never answers; and the annotation of the Services `up` does not
 * wait for. Where the rendered containers and Services carry them: manifests.test.ts.
 */
import { describe, expect, it } from "vitest";
import { SERVICE_AWAIT_ANNOTATIONS, STARTUP_PERIOD_SECONDS, startupProbe } from "../../components/shared/probes";

describe("startupProbe", () => {
    const check = { tcpSocket: { port: "http" }, timeoutSeconds: 5 };

    it("checks what the readiness probe checks, every second", () => {
        const probe = startupProbe(check, { periodSeconds: 20 });
        expect(probe).toMatchObject({ ...check, periodSeconds: 1 });
        expect(STARTUP_PERIOD_SECONDS).toBe(1);
    });

    it("gives up no sooner than the liveness probe would: its initial delay plus its period times its failure threshold", () => {
        expect(startupProbe(check, { initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 6 }).failureThreshold).toBe(130);
        // The kubelet's default threshold (3) when the liveness probe gives none.
        expect(startupProbe(check, { initialDelaySeconds: 5, periodSeconds: 20 }).failureThreshold).toBe(65);
        expect(startupProbe(check, { periodSeconds: 30 }).failureThreshold).toBe(90);
    });
});

describe("SERVICE_AWAIT_ANNOTATIONS", () => {
    it("is pulumi-kubernetes's skipAwait", () => {
        expect(SERVICE_AWAIT_ANNOTATIONS).toEqual({ "pulumi.com/skipAwait": "true" });
    });
});
