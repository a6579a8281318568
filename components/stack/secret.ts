/** The secrets the wiring hands to components, as the loader resolved them. */
import type * as pulumi from "@pulumi/pulumi";
import type { SecretName, StackConfig } from "../config";
import { PROJECT } from "../shared/facts";

/** A secret the validated config requires; the loader has resolved every one of them. */
export function secret(cfg: StackConfig, name: SecretName): pulumi.Output<string> {
    const value = cfg.secrets[name];
    if (value === undefined) {
        throw new Error(`${PROJECT}:${name} is needed but was not loaded; set it with: pulumi config set --secret ${PROJECT}:${name}`);
    }
    return value;
}
