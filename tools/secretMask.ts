/**
 * How the offline synth shows a value the program marked secret: rendered in full, with only its secret
 * parts masked as "[secret]", so that a change to a file that holds a password (k3s registries.yaml, the
 * node-trust Secret's hosts.toml files, an htpasswd) shows as a diff of its readable lines.
 *
 * The secret parts are those the synth's values can hold (tools/mockRuntime.ts): a generated password
 * (`mockPassword`), a bcrypt hash (of a generated or a supplied password), a private key, the
 * placeholder of a supplied secret, and any base64 or base64url token whose bytes hold one of these
 * (an `Authorization: Basic` header, a docker config's `auth`, base64 inside base64). A mock password
 * stands for a real one: nothing it is in, or that decodes to it, is ever shown.
 */
import { MOCK_PASSWORD_PREFIX, SECRET } from "./mockRuntime";

/** A mock password: the prefix, the resource's name, a hyphen and twelve hex digits. */
const MOCK_PASSWORD = new RegExp(`${MOCK_PASSWORD_PREFIX}[A-Za-z0-9._-]*-[0-9a-f]{12}`, "g");
/** A bcrypt hash in modular crypt format (htpasswd, Caddy's basic_auth): `$2b$<cost>$` and 53 characters. */
const BCRYPT_HASH = /\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}/g;
const PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g;
/**
 * A run of base64 or base64url characters long enough to hold the shortest secret part ("[secret]",
 * 8 bytes, is 11 characters). A run may start before the token (a path's slashes, a word's letters):
 * decoding tries each of the four alignments.
 */
const BASE64_RUN = /[A-Za-z0-9+/_-]{11,}={0,2}/g;
/** Base64 within base64 within base64 is as deep as the program nests it (a Secret's data of a docker config). */
const MAX_DEPTH = 3;

/** Whether bytes (as latin1 text) hold a secret part, directly or in a base64 token within. */
function holdsSecret(text: string, depth: number): boolean {
    if (text.includes(SECRET) || [MOCK_PASSWORD, BCRYPT_HASH, PRIVATE_KEY].some((part) => text.search(part) >= 0)) return true;
    return depth < MAX_DEPTH && [...text.matchAll(BASE64_RUN)].some(([run]) => decodesToSecret(run, depth + 1));
}

/** Whether a base64 or base64url run decodes, at any alignment, to bytes that hold a secret part. */
function decodesToSecret(run: string, depth: number): boolean {
    // Node's base64 decoder reads both alphabets and stops at padding.
    return [0, 1, 2, 3].some((offset) => holdsSecret(Buffer.from(run.slice(offset), "base64").toString("latin1"), depth));
}

/** Text with every secret part replaced by "[secret]"; everything else stays as it is. */
export function maskSecretText(text: string): string {
    return text
        .replace(PRIVATE_KEY, SECRET)
        .replace(MOCK_PASSWORD, SECRET)
        .replace(BCRYPT_HASH, SECRET)
        .replace(BASE64_RUN, (run) => (decodesToSecret(run, 1) ? SECRET : run));
}

/** A value within a secret one: every string's secret parts masked, structure and other values kept. */
function maskParts(value: unknown): unknown {
    if (typeof value === "string") return maskSecretText(value);
    if (Array.isArray(value)) return value.map(maskParts);
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, maskParts(v)]));
    }
    return value;
}

/**
 * A value the program marked secret, as the synth shows it. A text (a file, a script, a header, compact
 * JSON) and a structure (a Secret's stringData, an SSH connection, an account) show with only their
 * secret parts masked. A single word in which no secret part shows is itself the secret (a password
 * from elsewhere, a digest of secret content such as the node-trust pods' secret-hash), whatever it
 * looks like, and stays "[secret]" whole; so do a secret number or boolean.
 */
export function maskSecretValue(value: unknown): unknown {
    if (typeof value === "string") {
        const masked = maskSecretText(value);
        return masked !== value || /\s/.test(value) ? masked : SECRET;
    }
    if (value && typeof value === "object") return maskParts(value);
    return SECRET;
}
