/**
 * Global setup of the engine tier: builds the engine set (tools/engine/build.sh --kube) once, before any
 * file runs, so a cold build is one step with its own output rather than a hook that seems to hang.
 */
import { engineSet } from "../support/pulumiEngine";

export default function setup(): void {
    const started = Date.now();
    const dir = engineSet();
    console.log(`engine set ready in ${Math.round((Date.now() - started) / 1000)} s: ${dir}`);
}
