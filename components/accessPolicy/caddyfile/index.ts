/**
 * The Caddyfile that fronts Docker Distribution, rendered from an `AccessPolicy` (policy.ts). Every
 * placement (the external host, the in-cluster sidecar) renders through here, so the policy that was
 * proven against real clients is the one that ships.
 *
 * The rules, in the order the site's `route` block holds them: the allowlist, the request's shape, a browser's
 * write for another site's page, the Maven route, the
 * delete refusal, tokens unwrapped, the token endpoint, the read-only window's 503 to a blob check,
 * the write rule, the window's 503 to writes, the ping, the read rule, the mirrors, the blob shortcut,
 * then Distribution (or the UI). Every 401 carries the Bearer challenge. Why each is as it is: docs/decisions/access-policy.md.
 *
 * Everything here is pure: no Pulumi, no I/O.
 */

import { ANONYMOUS_TOKEN_HEADER, ANONYMOUS_TOKEN_HEADER_VALUE } from "../loginLimit";
import { type AccessPolicy, accessPolicyProblem } from "../policy";
import { base64PrefixPattern } from "../usersFile";
import {
    credentialMatchers,
    publicAuthority,
    scopedAccountMatchers,
    scopedRefusal,
    tokenEndpoint,
    unauthorizedAnswer,
} from "./authentication";
import {
    CLIENT_IDLE_SECONDS,
    CROSS_SITE_MESSAGE,
    crossSiteAnswers,
    crossSiteMatchers,
    globalOptions,
    MAX_AUTHORIZATION_LENGTH,
    READ_HEADER_SECONDS,
    requestShapeAnswers,
    requestShapeMatchers,
} from "./limits";
import { accessLog, metricsSites, PROMETHEUS_TEXT_CONTENT_TYPE } from "./observability";
import { PasswordChecks } from "./passwordChecks";
import {
    BLOB_PATH,
    blobMatcher,
    blobShortcut,
    mavenMatchers,
    mavenRoute,
    mirrorRoutes,
    registryProxy,
    sweepHoldGate,
    uiRoute,
} from "./routes";
import {
    blobCheckAnswer,
    DISK_FULL_MESSAGE,
    diskFullAnswer,
    diskFullMatcher,
    MAVEN_DISK_FULL_MESSAGE,
    readOnlyAnswer,
    readOnlyMatchers,
    sweepHoldCheckAnswer,
    sweepHoldMatchers,
} from "./signals";
import { closingRefusal } from "./syntax";

export {
    BLOB_PATH,
    base64PrefixPattern,
    CLIENT_IDLE_SECONDS,
    CROSS_SITE_MESSAGE,
    DISK_FULL_MESSAGE,
    MAVEN_DISK_FULL_MESSAGE,
    MAX_AUTHORIZATION_LENGTH,
    PROMETHEUS_TEXT_CONTENT_TYPE,
    publicAuthority,
    READ_HEADER_SECONDS,
};

/** The site's address: each name it answers to, on its port (with the scheme only for plain HTTP). */
function siteLabel(policy: AccessPolicy): string {
    const scheme = policy.tls.kind === "plain-http" ? "http://" : "";
    return [policy.siteAddress, ...(policy.siteAliases ?? [])].map((name) => `${scheme}${name}:${policy.port}`).join(", ");
}

/**
 * The site's `route` block, whose order is the policy (see the file's header): the password checks it
 * makes register the decoy matchers `siteMatchers` then defines.
 */
function siteRoutes(policy: AccessPolicy, checks: PasswordChecks): string[] {
    const everyone = [policy.pushUsersFile, policy.pullUsersFile];
    return [
        // `route` keeps the order below exactly as written.
        "\troute {",
        ...(policy.allowedNetworks.length > 0 ? ['\t\trespond @outside "Forbidden: your network may not use this registry" 403'] : []),
        // Marks the answers to the anonymous token for the login limit's filter (loginLimit.ts).
        `\t\theader @anonymousToken ${ANONYMOUS_TOKEN_HEADER} ${ANONYMOUS_TOKEN_HEADER_VALUE}`,
        ...requestShapeAnswers(policy),
        // A browser's write for another site's page, before the UI, Maven and every credential rule.
        ...crossSiteAnswers(),
        ...(policy.uiUpstream ? uiRoute(policy.uiUpstream) : []),
        ...(policy.maven ? mavenRoute(policy, checks, policy.maven) : []),
        ...(policy.deletesEnabled ? [] : closingRefusal('\t\trespond @delete "Deleting is disabled on this registry" 405')),
        // Tokens: the anonymous one counts as no credentials; any other is the Basic credentials it carries.
        "\t\trequest_header @anonymousToken -Authorization",
        '\t\trequest_header @bearerCredentials Authorization "Basic {re.bearer.1}"',
        ...tokenEndpoint(policy, checks, everyone),
        ...blobCheckAnswer(policy.readOnlySignals ?? []),
        ...checks.check("@write", [policy.pushUsersFile]),
        ...readOnlyAnswer(policy.readOnlySignals ?? []),
        ...(policy.diskFullSignal ? diskFullAnswer() : []),
        ...(policy.scopedPushAccounts ?? []).flatMap((account, i) => scopedRefusal(`@scopedWrite${i}`, account, "\t\t")),
        ...checks.check("@ping", everyone),
        ...(policy.requiresAuthForPull ? checks.check("@read", everyone) : []),
        ...mirrorRoutes(policy, checks, policy.mirrors ?? []),
        ...(policy.sweepHold ? sweepHoldCheckAnswer() : []),
        ...(policy.sweepHold ? sweepHoldGate(policy.sweepHold) : []),
        ...(policy.blobFiles ? blobShortcut(policy.blobFiles) : []),
        ...registryProxy(policy.upstream),
        "\t}",
    ];
}

/**
 * The authorities of the registry's own origins: the one its clients use, the names the site answers to on its
 * port, and those its realm is chosen among (kind's pods' name, the web UI's origin behind the cluster's ingress).
 */
function ownAuthorities(policy: AccessPolicy): string[] {
    return [
        publicAuthority(policy),
        ...[policy.siteAddress, ...(policy.siteAliases ?? [])].map((name) => `${name}:${policy.port}`),
        ...Object.entries(policy.realmAuthorities ?? {}).flat(),
    ];
}

/** The site's named matchers, the decoy's among them: call after `siteRoutes` has made its checks. */
function siteMatchers(policy: AccessPolicy, checks: PasswordChecks): string[] {
    return [
        ...credentialMatchers(policy),
        "\t@write not method GET HEAD",
        ...(policy.requiresAuthForPull ? ["\t@read method GET HEAD"] : []),
        ...(policy.deletesEnabled ? [] : ["\t@delete method DELETE"]),
        ...readOnlyMatchers(policy.readOnlySignals ?? []),
        ...(policy.diskFullSignal ? diskFullMatcher(policy.diskFullSignal) : []),
        ...(policy.sweepHold ? sweepHoldMatchers(policy.sweepHold) : []),
        ...(policy.allowedNetworks.length > 0
            ? [`\t@outside not ${policy.trustedProxies?.length ? "client_ip" : "remote_ip"} ${policy.allowedNetworks.join(" ")}`]
            : []),
        ...checks.matchers(),
        ...(policy.overlap ? [`\timport ${policy.overlap.matchersFile}`] : []),
        ...scopedAccountMatchers(policy.scopedPushAccounts ?? []),
        ...requestShapeMatchers(policy),
        ...crossSiteMatchers(ownAuthorities(policy)),
        ...(policy.maven ? mavenMatchers(policy.maven) : []),
        ...(policy.blobFiles ? blobMatcher() : []),
        ...(policy.tls.kind === "plain-http"
            ? ["\tmap {http.request.header.X-Forwarded-Proto} {dso_client_scheme} {", "\t\thttps https", "\t\tdefault http", "\t}"]
            : []),
        // Every output is a configured authority; the Host header only chooses among them.
        ...(policy.realmAuthorities
            ? [
                  "\tmap {http.request.hostport} {dso_realm_authority} {",
                  ...Object.entries(policy.realmAuthorities).map(([host, authority]) => `\t\t${host} ${authority}`),
                  `\t\tdefault ${publicAuthority(policy)}`,
                  "\t}",
              ]
            : []),
    ];
}

/** The Caddyfile for a policy. It holds no secret: accounts come from the imported users files. */
export function renderCaddyfile(policy: AccessPolicy): string {
    const problem = accessPolicyProblem(policy);
    if (problem) throw new Error(`renderCaddyfile: ${problem}`);
    const site: string[] = [`${siteLabel(policy)} {`];
    if (policy.bindAddress) site.push(`\tbind ${policy.bindAddress}`);
    if (policy.tls.kind === "files") site.push(`\ttls ${policy.tls.certFile} ${policy.tls.keyFile}`);
    if (policy.accessLog) site.push(...accessLog(policy.accessLog));
    // While the front is stopping (`AccessPolicy.shutdownDelaySeconds`), each answer closes its connection,
    // so that the client's next request opens one to another front.
    if (policy.shutdownDelaySeconds !== undefined)
        site.push("\t@stopping expression `{http.shutting_down} == true`", "\theader @stopping >Connection close");
    const checks = new PasswordChecks(policy);
    // The routes first: their password checks name the decoy matchers the site then defines.
    const routes = siteRoutes(policy, checks);
    site.push(...siteMatchers(policy, checks), "", ...routes);
    site.push(...unauthorizedAnswer(policy), "}");
    return [
        "# Managed by dso-registry: changes here are overwritten. See docs/access-policy.md.",
        ...globalOptions(policy),
        "",
        ...site,
        ...(policy.metrics ? metricsSites(policy.metrics) : []),
        "",
    ].join("\n");
}
