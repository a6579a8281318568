/**
 * The post-deploy check on the external host: asks the registry through Caddy whether the access
 * policy holds and fails the update when it does not. Places the generated CA it verifies with.
 */
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "../shared/formerType";
import { type HostConnection, HostFile, hostCommand, privileged } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import type { HostTls } from "./caddySite";
import { type HostLayout, hostPaths, postDeployCheckScript } from "./scripts";

export interface PostDeployCheckArgs {
    /** The host to ask from (the registry's name is resolved to 127.0.0.1 there). */
    readonly connection: HostConnection;
    /** Where the CA file goes. */
    readonly layout: HostLayout;
    /** Host name clients use, and the HTTPS port Caddy listens on. */
    readonly registryHost: string;
    readonly port: number;
    /** The site's TLS: decides how the check verifies the certificate and how long it waits. */
    readonly tls: HostTls;
    readonly requiresAuthForPull: boolean;
    /** Client networks allowed to reach the registry; everyone when empty. */
    readonly allowedNetworks: readonly string[];
    /** Values whose change makes the check run again (fingerprints of what it checks). */
    readonly triggers: pulumi.Input<string>[];
}

/** Whether 127.0.0.1 falls inside one of the IPv4 networks (IPv6 entries never contain it). */
export function loopbackAllowed(networks: readonly string[]): boolean {
    if (networks.length === 0) return true;
    return networks.some((cidr) => {
        const [address, bitsText] = cidr.split("/");
        if (!address || address.includes(":")) return false;
        const bits = Number(bitsText);
        const toInt = (a: string) => a.split(".").reduce((acc, octet) => (acc << 8) + Number(octet), 0) >>> 0;
        const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        return (toInt(address) & mask) >>> 0 === (toInt("127.0.0.1") & mask) >>> 0;
    });
}

const POST_DEPLOY_CHECK_TYPE = typeToken("externalHost", "PostDeployCheck");

/** The check; it re-runs whenever a trigger changes and has nothing to undo on destroy. */
export class PostDeployCheck extends pulumi.ComponentResource {
    constructor(name: string, args: PostDeployCheckArgs, opts?: pulumi.ComponentResourceOptions) {
        super(POST_DEPLOY_CHECK_TYPE, name, {}, withFormerType(opts, "dso:externalHost:PostDeployCheck"));
        const { connection, tls } = args;
        const paths = hostPaths(args.layout);
        const caFiles: HostFile[] = [];
        if (tls.kind === "files" && tls.caCertPem) {
            caFiles.push(
                new HostFile(`${name}-ca-cert`, { connection, path: paths.caCert, mode: "0644", content: tls.caCertPem }, { parent: this }),
            );
        }
        // A provided certificate's issuer may not be in the host's trust store: the check then
        // skips verification and still checks the policy.
        const caFile = tls.kind === "acme" ? undefined : tls.caCertPem ? paths.caCert : "insecure";
        hostCommand(
            `${name}-run`,
            {
                connection,
                // Unprivileged: it only reads the CA file and talks HTTPS.
                create: privileged(
                    postDeployCheckScript({
                        host: args.registryHost,
                        port: args.port,
                        caFile,
                        requiresAuthForPull: args.requiresAuthForPull,
                        loopbackRefused: !loopbackAllowed(args.allowedNetworks),
                        // An ACME certificate may take minutes on the first run.
                        waitSeconds: tls.kind === "acme" ? 180 : 60,
                    }),
                    false,
                ),
                delete: 'echo "nothing to undo for the check"',
                triggers: args.triggers,
            },
            { parent: this, dependsOn: caFiles },
        );
        this.registerOutputs({});
    }
}
