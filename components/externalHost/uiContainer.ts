/** The optional web UI on the external host: a container on loopback that Caddy serves same-origin. */
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "../shared/formerType";
import { containerRunStepName, type HostConnection, hostCommand, privileged } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import { type ContainerSpec, containerDeleteScript, uiContainerScript } from "./scripts";

export interface UiContainerArgs {
    /** The host to run it on. */
    readonly connection: HostConnection;
    /** The container: image and loopback port. */
    readonly spec: ContainerSpec;
    /** Offer a delete button (only when the registry accepts DELETE). */
    readonly deleteEnabled: boolean;
    /** The registry's host name as clients write it: the UI's title. */
    readonly registryHost: string;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const UI_CONTAINER_TYPE = typeToken("externalHost", "UiContainer");

/** The UI container, removed on destroy. */
export class UiContainer extends pulumi.ComponentResource {
    constructor(name: string, args: UiContainerArgs, opts?: pulumi.ComponentResourceOptions) {
        super(UI_CONTAINER_TYPE, name, {}, withFormerType(opts, "dso:externalHost:UiContainer"));
        const { connection, spec } = args;
        hostCommand(
            containerRunStepName(name),
            {
                connection,
                create: privileged(uiContainerScript(spec, args.deleteEnabled, args.registryHost), connection.sudo),
                delete: privileged(containerDeleteScript(spec), connection.sudo),
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
