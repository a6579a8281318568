/**
 * What both node-trust deliveries share: the registry facts they take (`NodeTrustCommonArgs`), the
 * content of each file step, and how a root script reaches a node over SSH or locally.
 */
import * as pulumi from "@pulumi/pulumi";
import { mirrorCaFile, type NodeMirror, renderMirrorHostsToml } from "../mirrors/mirrors";
import { DEFAULT_REGISTRY_PORT } from "../shared/defaults";
import { registryAuthority } from "../shared/facts";
import { type HostConnection, privileged } from "../shared/hostAccess";
import { shQuote } from "../shared/shQuote";
import {
    type FileStep,
    MANAGED_HEADER,
    markMirrorHostsToml,
    normalizePem,
    type RuntimeFlavour,
    renderHostsToml,
    renderRegistriesConf,
    renderSignaturePolicyInput,
    signatureScope,
    signatureScopes,
    type TrustPlan,
    type TrustTarget,
} from "./files";
import { renderRegistriesEntries } from "./registriesYaml";
import { DEFAULT_RESTART_TIMEOUT_SECONDS, type RestartSpec } from "./restarts";

/** What every delivery needs to know about the registry. */
export interface NodeTrustCommonArgs {
    /** Registry host name as in image references (no scheme, no port). */
    readonly host: string;
    /**
     * Registry port; 443 means none in image references.
     * @default 443
     */
    readonly port?: number;
    /** Container runtime flavour of the node(s). */
    readonly flavour: RuntimeFlavour;
    /** CA certificate (PEM) nodes must trust; omit for publicly trusted certificates (ACME). */
    readonly caCertPem?: pulumi.Input<string>;
    /**
     * Address the registry host resolves to on nodes, written as a managed /etc/hosts block; omit
     * when DNS resolves the name. May come from the deployed registry (an Output).
     */
    readonly registryAddress?: pulumi.Input<string>;
    /**
     * Pull account the node's runtime pulls with, when pulls need credentials: k3s / RKE2
     * registries.yaml `auth`, containerd (microk8s, kind) hosts.toml's `Authorization` header. The
     * generated pull-only account, or an existing registry's (whose user name is a secret too).
     */
    readonly pullAccount?: { readonly username: pulumi.Input<string>; readonly password: pulumi.Input<string> };
    /**
     * Plain HTTP instead of TLS. Images can be swapped in transit: existing lab registries only.
     * @default false
     */
    readonly plainHttp?: boolean;
    /**
     * Let the program set containerd's config_path and restart containerd (containerd flavour).
     * @default false
     */
    readonly allowContainerdRestart?: boolean;
    /**
     * Let the program restart k3s / RKE2 after registries.yaml changed.
     * @default true
     */
    readonly allowServiceRestart?: boolean;
    /**
     * Seconds a restarted k3s / RKE2 node has to be active and Ready again before the run fails.
     * @default 300
     */
    readonly restartTimeoutSeconds?: number;
    /** Upstreams the node pulls through the registry's pull-through caches, falling back to each upstream. */
    readonly mirrors?: readonly NodeMirror[];
    /**
     * Pulls of the registry's images need a sigstore signature by one of these keys: on CRI-O and podman
     * nodes (flavour "crio") an entry in the node's policy.json and a registries.d drop-in; the other
     * runtimes check no signatures when they pull, and get nothing of it.
     */
    readonly requiredSignatures?: {
        /** PEM public keys, as cosign writes cosign.pub. */
        readonly publicKeys: readonly string[];
        /** The repository path under the registry that the requirement covers; "" for every repository. */
        readonly pathPrefix: string;
    };
}

/** The plain facts that decide which steps exist, from the args with their defaults. */
function trustTarget(args: NodeTrustCommonArgs & { readonly port: number; readonly plainHttp: boolean }): TrustTarget {
    return {
        host: args.host,
        port: args.port,
        hasCa: args.caCertPem !== undefined,
        hasPullAuth: args.pullAccount !== undefined,
        hasAddress: args.registryAddress !== undefined,
        plainHttp: args.plainHttp,
        mirrors: args.mirrors ?? [],
        ...(args.requiredSignatures && args.requiredSignatures.publicKeys.length > 0
            ? {
                  signatures: {
                      scope: signatureScope(registryAuthority(args.host, args.port), args.requiredSignatures.pathPrefix),
                      keyCount: args.requiredSignatures.publicKeys.length,
                  },
              }
            : {}),
    };
}

/**
 * Node trust's one resolve step, which both deliveries take their args through: the defaults each one's
 * `@default` documents (a setting given is kept as given, the delivery's own args with it), and what the
 * deliveries derive from them: the facts that decide the steps (`target`) and the restarts' settings
 * (`restart`; a node's name and turn are the SSH delivery's to add). Pure: it registers nothing.
 */
export function resolveNodeTrust<T extends NodeTrustCommonArgs>(args: T): ResolvedNodeTrust<T> {
    const port = args.port ?? DEFAULT_REGISTRY_PORT;
    const plainHttp = args.plainHttp ?? false;
    const allowServiceRestart = args.allowServiceRestart ?? true;
    const restartTimeoutSeconds = args.restartTimeoutSeconds ?? DEFAULT_RESTART_TIMEOUT_SECONDS;
    return {
        ...args,
        port,
        plainHttp,
        allowContainerdRestart: args.allowContainerdRestart ?? false,
        allowServiceRestart,
        restartTimeoutSeconds,
        target: trustTarget({ ...args, port, plainHttp }),
        restart: { allow: allowServiceRestart, timeoutSeconds: restartTimeoutSeconds },
    };
}

/** What `resolveNodeTrust` returns: the args with every default applied, and what both deliveries derive from them. */
export type ResolvedNodeTrust<T extends NodeTrustCommonArgs = NodeTrustCommonArgs> = Omit<T, NodeTrustDefaulted> & {
    readonly [P in NodeTrustDefaulted]-?: Exclude<NodeTrustCommonArgs[P], undefined>;
} & {
    /** The plain facts that decide which steps exist (`trustPlan`). */
    readonly target: TrustTarget;
    /** Whether and how long the restarts run, for a node's turn (SSH) or the DaemonSet's pods. */
    readonly restart: Pick<RestartSpec, "allow" | "timeoutSeconds">;
};

/** The settings node trust defaults. */
type NodeTrustDefaulted = "port" | "plainHttp" | "allowContainerdRestart" | "allowServiceRestart" | "restartTimeoutSeconds";

/** The content of a file step, secret where it carries the pull password. */
export function fileContent(step: FileStep, plan: TrustPlan, args: ResolvedNodeTrust): pulumi.Output<string> {
    const { target } = args;
    switch (step.role) {
        case "ca":
            return pulumi.output(args.caCertPem!).apply(normalizePem);
        case "hosts-toml": {
            if (!args.pullAccount) return pulumi.output(renderHostsToml(target));
            return pulumi.secret(
                pulumi
                    .all([args.pullAccount.username, args.pullAccount.password])
                    .apply(([username, password]) => renderHostsToml({ ...target, auth: { username, password } })),
            );
        }
        case "mirror-hosts-toml": {
            const authority = registryAuthority(args.host, args.port);
            const mirrorFile = (authorization?: string) =>
                markMirrorHostsToml(
                    renderMirrorHostsToml({
                        mirror: step.mirror!,
                        registryHost: args.host,
                        registryPort: args.port,
                        caFile: target.hasCa ? mirrorCaFile(authority) : undefined,
                        authorization,
                        header: MANAGED_HEADER,
                    }),
                    authority,
                );
            if (!args.pullAccount) return pulumi.output(mirrorFile());
            // The caches sit behind the same front: pulls that need credentials there need them here too.
            return pulumi.secret(
                pulumi
                    .all([args.pullAccount.username, args.pullAccount.password])
                    .apply(([username, password]) =>
                        mirrorFile(`Basic ${Buffer.from(`${username}:${password}`, "utf8").toString("base64")}`),
                    ),
            );
        }
        case "registries-conf":
            return pulumi.output(renderRegistriesConf(target));
        case "signature-policy": {
            // Under every spelling of the registry's authority, its address's too (which may come from the deployed registry).
            const { publicKeys, pathPrefix } = args.requiredSignatures!;
            return pulumi
                .output(args.registryAddress)
                .apply((address) => renderSignaturePolicyInput(signatureScopes(args.host, args.port, pathPrefix, address), publicKeys));
        }
        case "registries-yaml": {
            const caFile = plan.steps.find((s): s is FileStep => s.kind === "file" && s.role === "ca")?.path;
            const base = { host: args.host, port: args.port, plainHttp: target.plainHttp, caFile, mirrors: target.mirrors };
            if (!args.pullAccount) return pulumi.output(renderRegistriesEntries(base));
            return pulumi.secret(
                pulumi
                    .all([args.pullAccount.username, args.pullAccount.password])
                    .apply(([username, password]) => renderRegistriesEntries({ ...base, auth: { username, password } })),
            );
        }
    }
}

/**
 * Runs a root script on the node: with sudo where needed; for kind inside the node container, which
 * has the connection's name (kind names its node containers after the nodes).
 */
export function nodeRunner(flavour: RuntimeFlavour, connection: HostConnection): (body: string) => string {
    if (flavour !== "kind") return (body) => privileged(body, connection.sudo);
    const sudo = connection.sudo ? "sudo -n " : "";
    return (body) => `${sudo}docker exec -i ${shQuote(connection.name)} sh -c ${shQuote(body)}`;
}
