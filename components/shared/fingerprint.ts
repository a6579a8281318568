/**
 * A short, stable hash of some texts: what a container or a step is made from, so that a change in
 * any of them shows as a new value (a container's spec label, the Caddy reload's trigger).
 */
import { createHash } from "node:crypto";

/** The first 16 hex digits of the SHA-256 of the parts, each kept apart from the next. */
export function fingerprint(...parts: readonly string[]): string {
    return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);
}
