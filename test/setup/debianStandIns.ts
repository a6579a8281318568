/**
 * Global setup of `npm test`'s integration files (the `core` project): says, before any test runs, which
 * of Debian's servers stand in for the pinned ones (test/support/testBinaries.ts), so that nobody reads a
 * pass of this run as a pass on the pinned versions.
 */
import { registry } from "../../components/config/schema/registry";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { standInNotice } from "../support/testBinaries";

export default function setup(): void {
    const caddy = String(registry.shape.caddyImage.parse(undefined)).replace(/^caddy:/, "");
    console.log(standInNotice({ caddy, distribution: DEPLOYED_REGISTRY_IMAGE.replace(/^registry:/, "") }));
}
