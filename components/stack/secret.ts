/** The secrets the wiring hands to components, as the loader resolved them, and the SSH connections they open. */
import type * as pulumi from "@pulumi/pulumi";
import type { SecretName, StackConfig } from "../config";
import { needsSudo, PROJECT } from "../shared/facts";
import type { HostConnection } from "../shared/hostAccess";

/** A secret the validated config requires; the loader has resolved every one of them. */
export function secret(cfg: StackConfig, name: SecretName): pulumi.Output<string> {
    const value = cfg.secrets[name];
    if (value === undefined) {
        throw new Error(`${PROJECT}:${name} is needed but was not loaded; set it with: pulumi config set --secret ${PROJECT}:${name}`);
    }
    return value;
}

/** An SSH connection block of the stack file (the external host's, kind's Docker host's, a listed node's). */
interface SshSettings {
    readonly host: string;
    readonly port: number;
    readonly user: string;
    readonly hostKey?: string;
    readonly sudo?: boolean;
}

/** The connection to a machine over SSH with the stack's key, named `name` in resource names and the synth (its host by default). */
export function sshConnection(cfg: StackConfig, ssh: SshSettings, name: string = ssh.host): HostConnection {
    return {
        kind: "ssh",
        name,
        host: ssh.host,
        port: ssh.port,
        user: ssh.user,
        privateKey: secret(cfg, "sshPrivateKey"),
        hostKey: ssh.hostKey,
        sudo: needsSudo(ssh.user, ssh.sudo),
    };
}
