/**
 * The login limit on the external host (docs/access-policy.md, Failed logins are limited): fail2ban
 * with the filter and jail of components/accessPolicy/loginLimit.ts on the front's access log, banning
 * with nftables on the registry's port. One command: its create installs what is missing, writes the
 * two files and reloads fail2ban when they changed; with the limit off it removes them instead, so
 * turning it off is an update of the same command. The files' paths never change with config, so the
 * command has no triggers: a changed limit runs the new script in place.
 */
import * as pulumi from "@pulumi/pulumi";
import { LOGIN_JAIL, type LoginLimit, renderFail2banFilter, renderFail2banJail } from "../accessPolicy/loginLimit";
import { type HostConnection, hostCommand, privileged } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import { hostScript } from "./scripts";

/** fail2ban's configuration directory on the host (Debian's and Fedora's packages). */
export const FAIL2BAN_CONF_DIR = "/etc/fail2ban";

/** What the host's jail watches and protects; with a test's paths, the same scripts run in a scratch root. */
export interface HostLoginJail {
    readonly limit: LoginLimit;
    /** The front's JSON access log (`CADDY_ACCESS_LOG`). */
    readonly accessLog: string;
    /** The registry's HTTPS port: a banned address reaches nothing on it. */
    readonly port: number;
    /** Networks never banned (`registry.loginLimit.ignoreNetworks`). */
    readonly ignoreNetworks: readonly string[];
    /** fail2ban's configuration directory; `FAIL2BAN_CONF_DIR` on a host. */
    readonly confDir?: string;
}

/** The files' text as the script compares and writes it (it adds the last newline itself). */
const body = (text: string) => text.replace(/\n+$/, "");

/** The script that installs fail2ban when asked to, writes the filter and jail and reloads (sh/login-limit.sh). */
export function loginLimitScript(jail: HostLoginJail, installPackages: boolean): string {
    return hostScript("login-limit.sh", {
        INSTALL: installPackages,
        CONF_DIR: jail.confDir ?? FAIL2BAN_CONF_DIR,
        JAIL_NAME: LOGIN_JAIL,
        FILTER: body(renderFail2banFilter()),
        JAIL: body(
            renderFail2banJail({ limit: jail.limit, logPath: jail.accessLog, ports: [jail.port], ignoreNetworks: jail.ignoreNetworks }),
        ),
        ACCESS_LOG: jail.accessLog,
    });
}

/** The script that removes the filter and jail and reloads (sh/login-limit-remove.sh). */
export function loginLimitRemoveScript(confDir = FAIL2BAN_CONF_DIR): string {
    return hostScript("login-limit-remove.sh", { CONF_DIR: confDir, JAIL_NAME: LOGIN_JAIL });
}

export interface HostLoginLimitArgs {
    readonly connection: HostConnection;
    /** The jail, or undefined when `registry.loginLimit.enabled` is false (its files are then removed). */
    readonly jail?: HostLoginJail;
    /** Install fail2ban and nftables when missing (`externalHost.installPackages`). */
    readonly installPackages: boolean;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const HOST_LOGIN_LIMIT_TYPE = typeToken("externalHost", "HostLoginLimit");

/** fail2ban's filter and jail for the front; removed on destroy (fail2ban stays installed). */
export class HostLoginLimit extends pulumi.ComponentResource {
    constructor(name: string, args: HostLoginLimitArgs, opts?: pulumi.ComponentResourceOptions) {
        super(HOST_LOGIN_LIMIT_TYPE, name, {}, opts);
        const sudo = args.connection.sudo;
        hostCommand(
            `${name}-fail2ban`,
            {
                connection: args.connection,
                create: privileged(args.jail ? loginLimitScript(args.jail, args.installPackages) : loginLimitRemoveScript(), sudo),
                delete: privileged(loginLimitRemoveScript(), sudo),
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
