/**
 * The Kubernetes objects of the in-cluster registry, rendered as plain objects from typed settings.
 * Every object literal is checked with `satisfies` against @pulumi/kubernetes's input types, so a
 * misspelt field fails to compile; the tests validate the rendered values against the API schemas.
 * Nothing here creates resources: `InClusterRegistry` feeds these functions and registers what they
 * return, and the tests validate the same objects against the Kubernetes API schemas.
 */
import type { K8sObject } from "../shared/k8sObject";
import { renderBackupObjects } from "./backup";
import { renderDeployment, renderDisruptionBudget } from "./deployment";
import { renderGatewayCertificate, renderGatewayObjects } from "./gateway";
import { renderIssuerChain } from "./issuerChain";
import { renderMonitoringObjects } from "./monitoring";
import {
    renderAllowlistMiddleware,
    renderCredentialsLimitMiddleware,
    renderCredentialsRoute,
    renderIngress,
    renderLocalRegistryHosting,
    renderLoginIngress,
    renderLoginLimitMiddleware,
    renderService,
    renderTlsService,
    renderUiObjectsOf,
} from "./network";
import { renderNetworkPolicy } from "./networkPolicy";
import { renderPullHistoryObjects } from "./pullHistory";
import { type InClusterSpec, inClusterSpecProblem } from "./spec";
import { renderGcCronJob, renderGcRbac } from "./upkeep";
import { renderConfigMap, renderDataClaim, renderMavenClaim, renderNamespace, renderSecrets, renderServiceAccount } from "./workload";

/** Every object, in the order they are best created (namespace first, workloads after their inputs). */
export function renderInClusterObjects(spec: InClusterSpec): K8sObject[] {
    const problem = inClusterSpecProblem(spec);
    if (problem) throw new Error(`in-cluster registry: ${problem}`);
    return [
        renderNamespace(spec),
        renderServiceAccount(spec),
        ...renderSecrets(spec),
        renderConfigMap(spec),
        renderDataClaim(spec),
        renderMavenClaim(spec),
        // Before the Deployment: its backup container mounts the scripts and the credentials.
        ...renderBackupObjects(spec),
        ...(spec.tls.kind === "cert-manager" && spec.tls.chain
            ? renderIssuerChain({ namespace: spec.namespace, host: spec.host, lifetimes: spec.tls.chain })
            : []),
        // Behind a Gateway, the operator's issuer's Certificate: before the workloads, like the chain's.
        spec.gateway ? renderGatewayCertificate({ ...spec, gateway: spec.gateway }) : undefined,
        renderDeployment(spec),
        renderService(spec),
        renderTlsService(spec),
        renderAllowlistMiddleware(spec),
        renderIngress(spec),
        renderLoginLimitMiddleware(spec),
        renderLoginIngress(spec),
        renderCredentialsLimitMiddleware(spec),
        renderCredentialsRoute(spec),
        ...(spec.gateway ? renderGatewayObjects({ ...spec, gateway: spec.gateway }) : []),
        renderDisruptionBudget(spec),
        renderNetworkPolicy(spec),
        // The web UI: objects of its own, so it is updated and restarted without the registry's pod.
        ...renderUiObjectsOf(spec),
        renderLocalRegistryHosting(spec),
        ...renderGcRbac(spec),
        renderGcCronJob(spec),
        ...renderPullHistoryObjects(spec),
        ...renderMonitoringObjects(spec),
    ].filter((o): o is K8sObject => o !== undefined);
}
