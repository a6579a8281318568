/**
 * A container's probes made from one check: readiness, liveness, and a startup probe that gets a new pod
 * ready as soon as it answers.
 *
 * The kubelet runs a container's readiness probe once as the container starts, usually before its server
 * listens, and then every `periodSeconds`: with 10 s, a new pod is counted ready up to 10 s after it could
 * have been, and `pulumi up`, which waits for it, waits that long too. A startup probe of the same check,
 * every second until it passes, ends that wait: once it passes the kubelet runs the readiness probe at
 * once, and from then on the readiness and liveness probes run at their own periods, as before. Its budget
 * is the liveness probe's: a container that never answers is restarted after as long as it was without it
 * (the liveness probe's initial delay plus its period times its failure threshold); until then it is not
 * ready, as before.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */
import type * as k8s from "@pulumi/kubernetes";

type Probe = k8s.types.input.core.v1.Probe;
/** What a probe checks: its handler and the time one check may take. */
type Check = Pick<Probe, "exec" | "tcpSocket" | "httpGet" | "timeoutSeconds">;

/** How often the startup probe checks, in seconds. */
export const STARTUP_PERIOD_SECONDS = 1;

/** The kubelet's failure threshold when a probe gives none. */
const DEFAULT_FAILURE_THRESHOLD = 3;

/** The startup probe of `check`, whose budget is `liveness`'s time to restart a container that never answers. */
export function startupProbe(
    check: Check,
    liveness: { readonly initialDelaySeconds?: number; readonly periodSeconds: number; readonly failureThreshold?: number },
): Probe {
    const budget = (liveness.initialDelaySeconds ?? 0) + liveness.periodSeconds * (liveness.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD);
    return { ...check, periodSeconds: STARTUP_PERIOD_SECONDS, failureThreshold: Math.ceil(budget / STARTUP_PERIOD_SECONDS) };
}

/**
 * The annotation of a Service whose pods a Deployment of the same stack selects: `up` does not wait for the
 * Service itself. pulumi-kubernetes waits for a Service with a selector until its endpoints hold a ready
 * address and then 10 s more after their last change, whatever the pods; the Deployment's own wait already
 * holds `up` until its pods are ready, so the Service's only added those 10 s. That its selector matches
 * the Deployment's pods is checked where both are rendered (test/unit/manifests.test.ts).
 */
export const SERVICE_AWAIT_ANNOTATIONS: Readonly<Record<string, string>> = { "pulumi.com/skipAwait": "true" };
