/**
 * Value rules shared by several keys: why a host name, repository path or mirrored registry name is
 * refused (plain functions, tested table-driven), and the primitive schemas built on them and on
 * the facts in `shared/facts.ts` (ports, networks, image references, Kubernetes names, SSH access).
 */
import { createPublicKey } from "node:crypto";
import { z } from "zod";
import { ACCOUNT_NAME, IPV4 } from "../../shared/facts";
import { imageReferenceProblem, PATH_COMPONENT } from "../../shared/imageReference";
import { cidrProblem, ipv4OfMappedNetwork } from "../../shared/networks";
import { warmImageProblem, warmPlatformProblem } from "../../shared/warmList";

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const REPO_COMPONENT = new RegExp(`^${PATH_COMPONENT}$`);

/** Why a host name is not acceptable, or undefined when it is. Exported for table-driven tests. */
export function hostNameProblem(value: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        return `"${value}" has a scheme: give the bare host name (for example "registry.example.com"), without "https://"`;
    }
    if (value.includes("/")) {
        return `"${value}" has a path: give only the host name; put repository paths in "pathPrefix"`;
    }
    if (value.includes(":")) {
        return `"${value}" has a port: set the port in the separate "port" key`;
    }
    if (value !== value.toLowerCase()) {
        return `"${value}" has upper-case letters: host names are written in lower case`;
    }
    if (IPV4.test(value)) {
        return undefined;
    }
    if (value.length > 253 || !value.split(".").every((label) => DNS_LABEL.test(label))) {
        return `"${value}" is not a valid DNS name (labels of a-z, 0-9 and "-", not starting or ending with "-")`;
    }
    return undefined;
}

/** Why a container repository path prefix would be rejected by Distribution, or undefined. */
export function repositoryPrefixProblem(value: string): string | undefined {
    if (value === "") {
        return undefined;
    }
    if (value.startsWith("/") || value.endsWith("/")) {
        return `"${value}" starts or ends with "/": write it as "team/project", without surrounding slashes`;
    }
    const segments = value.split("/");
    if (segments.some((segment) => segment === "")) {
        return `"${value}" has an empty segment ("//"): every segment between slashes needs a name`;
    }
    const bad = segments.find((segment) => !REPO_COMPONENT.test(segment));
    if (bad !== undefined) {
        return (
            `segment "${bad}" of "${value}" is not a valid repository name component: use lower-case ` +
            `letters and digits, separated by single ".", "_", "__" or runs of "-"`
        );
    }
    if (value.length > 200) {
        return `"${value}" is longer than 200 characters, which leaves no room for image names`;
    }
    return undefined;
}

/** Why a Maven repository path is not acceptable, or undefined. */
export function mavenPathProblem(value: string): string | undefined {
    if (value.startsWith("/") || value.endsWith("/")) {
        return `"${value}" starts or ends with "/": write it as "maven-releases", without surrounding slashes`;
    }
    if (value.split("/").some((segment) => segment === "")) {
        return `"${value}" has an empty segment ("//")`;
    }
    if (!/^[A-Za-z0-9._~/-]+$/.test(value)) {
        return `"${value}" has characters that need escaping in a URL: use letters, digits, ".", "_", "~" and "-"`;
    }
    return undefined;
}

/** A bare host name or IPv4 address (see hostNameProblem). */
export const hostName = z.string().superRefine((value, ctx) => {
    const problem = hostNameProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A TCP port. */
export const port = z
    .number({ error: "must be a whole number from 1 to 65535" })
    .int({ error: "must be a whole number from 1 to 65535" })
    .min(1, { error: "must be a whole number from 1 to 65535" })
    .max(65535, { error: "must be a whole number from 1 to 65535" });

/**
 * An IPv4 or IPv6 network in CIDR form (shared/networks.ts). An IPv4-mapped IPv6 network is taken as the
 * IPv4 network it stands for, the only form every front matches an IPv4 client against.
 */
export const cidr = z
    .string()
    .superRefine((value, ctx) => {
        const problem = cidrProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .transform((value) => ipv4OfMappedNetwork(value) ?? value);

/**
 * A rotation counter: any new value rotates. `pulumi config set --path …rotation 2` stores the number 2 (the
 * CLI types a path value that looks like a number), so whole numbers are taken as well, as their decimal text:
 * `2` and `"2"` are the same counter.
 */
export const rotationCounter = z
    .union([z.string(), z.number().int({ error: "must be text or a whole number" })], { error: "must be text or a whole number" })
    .transform((value) => String(value));

/** An image reference, `name[:tag][@sha256:digest]`, by Distribution's reference grammar (shared/imageReference.ts). */
export const imageRef = z.string().superRefine((value, ctx) => {
    const problem = imageReferenceProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** An image a cache's warm list names (components/mirrors/warm.ts `warmImageProblem`). */
export const warmImage = z.string().superRefine((value, ctx) => {
    const problem = warmImageProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A platform a cache's warm list fetches from an index (components/mirrors/warm.ts `warmPlatformProblem`). */
export const warmPlatform = z.string().superRefine((value, ctx) => {
    const problem = warmPlatformProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A five-field cron schedule. */
export const cronSchedule = z.string().regex(/^(\S+\s+){4}\S+$/, { error: 'must be a five-field cron schedule such as "0 3 * * 0"' });

/** A Kubernetes quantity, such as a volume size. */
export const quantity = z
    .string()
    .regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/, { error: 'must be a Kubernetes quantity such as "20Gi"' });

/** A Kubernetes object name (a DNS label). */
export const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, {
    error: "must be a Kubernetes name: lower-case letters, digits and '-', at most 63 characters",
});

/** A Node's name: a DNS subdomain (lower-case labels joined by dots), as kubelet registers it. */
export const k8sNodeName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: "must be a Kubernetes node name: lower-case letters, digits, '-' and '.', as `kubectl get nodes` shows it",
});

/** A Jenkins credential ID. */
export const credentialId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    error: "must be a Jenkins credential ID: letters, digits, '.', '_' and '-'",
});

/** A registry account's user name, as htpasswd can hold it. */
export const username = z.string().regex(ACCOUNT_NAME, {
    error: "must be 1-64 letters, digits, '.', '_' or '-' (no ':' or spaces: htpasswd cannot hold them)",
});

/**
 * Why a pinned host key's type cannot be used. Pulumi's command provider offers the server only the
 * pinned key's own algorithm name (`HostKeyAlgorithms`): for an RSA key that is "ssh-rsa", the SHA-1
 * signature OpenSSH 8.8 and later no longer makes, so the connection fails at `pulumi up`; DSA keys are
 * gone from OpenSSH altogether.
 */
function sshKeyTypeProblem(issue: { input: unknown }): string {
    const type = String(issue.input).split(" ")[0];
    return (
        `is an ${type === "ssh-rsa" ? "RSA" : "DSA"} key ("${type}"), which Pulumi's SSH connection can only ask for with SHA-1 signatures that ` +
        `OpenSSH 8.8 and later refuse: pin the host's ed25519 or ECDSA key instead, the line printed by ` +
        `ssh-keyscan -t ed25519 <host> (or -t ecdsa); a host with only an RSA key gets the others with ssh-keygen -A`
    );
}

/** The fields of an SSH connection: the external host's, and each node's reached over SSH. */
export const sshConnection = {
    host: z.string().min(1).describe("Address or name Pulumi connects to."),
    port: port.default(22).describe("SSH port."),
    user: z
        .string()
        .min(1)
        .default("root")
        .describe("SSH user; other than root, privileged steps run with `sudo -n` unless sudo is false."),
    hostKey: z
        .string()
        .regex(/^(ssh-|ecdsa-)\S+ \S+/, { error: 'must be a public key line such as "ssh-ed25519 AAAA..."' })
        .refine((key) => !/^ssh-(rsa|dss) /.test(key), { error: sshKeyTypeProblem })
        .optional()
        .describe(
            'The host\'s public key as in known_hosts, e.g. "ssh-ed25519 AAAA\u2026". Required unless `allowUnpinnedHostKey` is true.',
        ),
    allowUnpinnedHostKey: z
        .boolean()
        .default(false)
        .describe("Accept any host key. Only for throwaway labs: a man in the middle gets the private key's session."),
    sudo: z.boolean().optional().describe("Run privileged steps with `sudo -n` (needed when user is not root)."),
};

/** Why a mirrored registry's name is not acceptable, or undefined. Exported for table-driven tests. */
export function mirrorUpstreamProblem(value: string): string | undefined {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
        return `"${value}" has a scheme: give the registry name as images use it (for example "docker.io"), and its API in remoteUrl`;
    }
    const [host = "", port, ...rest] = value.split(":");
    if (rest.length > 0 || (port !== undefined && !/^\d{1,5}$/.test(port)))
        return `"${value}" must be a host name with an optional ":port"`;
    return hostNameProblem(host);
}

/**
 * Why a retention `protect` pattern would not work as a POSIX extended regular expression matched by
 * `grep -Ex` (busybox's and GNU's), or undefined. JavaScript-only syntax is refused rather than
 * silently meaning something else in the shell: `\d`, `\w`, `\s`, `\b` and their negations, lookarounds
 * and other `(?` groups, lazy quantifiers and back-references.
 */
export function tagPatternProblem(value: string): string | undefined {
    if (value === "") return "is empty: it would protect every tag; remove it, or write the pattern of the tags to keep";
    if (/[\r\n]/.test(value)) return "holds a line break: write one pattern per list item";
    const jsOnly = /\\[dDwWsSbB0-9]|\(\?|[*+?}]\?/.exec(value);
    if (jsOnly) {
        return `"${value}" uses "${jsOnly[0]}", which POSIX extended regular expressions do not have: write [0-9] for \\d, [A-Za-z0-9_] for \\w, and no lookarounds, lazy quantifiers or back-references`;
    }
    try {
        new RegExp(value);
    } catch {
        return `"${value}" is not a valid regular expression (check its brackets and parentheses)`;
    }
    return undefined;
}

/** Key types a sigstore public key may have for containers/image (and cosign): ECDSA, RSA, Ed25519. */
const SIGNING_KEY_TYPES: readonly string[] = ["ec", "rsa", "ed25519"];

/**
 * Why a signing key is not a PEM public key that containers/image can verify sigstore signatures with
 * (cosign's `cosign.pub`: one "PUBLIC KEY" block, SubjectPublicKeyInfo), or undefined. A private key,
 * a certificate or several blocks are refused with what to give instead. Exported for table-driven tests.
 */
export function signingKeyProblem(value: string): string | undefined {
    const labels = [...value.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1] as string);
    if (labels.length === 0) {
        return 'is not PEM: give the public key as cosign writes it (cosign.pub, "-----BEGIN PUBLIC KEY-----" …)';
    }
    if (labels.some((label) => label.includes("PRIVATE"))) {
        return `is a private key ("BEGIN ${labels.find((label) => label.includes("PRIVATE"))}"): give the public key (cosign.pub, or \`cosign public-key --key cosign.key\`); a private key must never be in the stack's config`;
    }
    if (labels.length > 1) return `holds ${labels.length} PEM blocks: give one public key per list item`;
    if (labels[0] === "CERTIFICATE") {
        return "is a certificate, not a public key: give its public key (`openssl x509 -pubkey -noout -in <certificate>`)";
    }
    if (labels[0] !== "PUBLIC KEY") return `is a "${labels[0]}" PEM block: give a "PUBLIC KEY" block (cosign.pub)`;
    try {
        const key = createPublicKey({ key: value.trim(), format: "pem", type: "spki" });
        if (!SIGNING_KEY_TYPES.includes(key.asymmetricKeyType ?? "")) {
            return `is a ${key.asymmetricKeyType ?? "unknown"} key: sigstore signatures are verified with ECDSA, RSA or Ed25519 keys`;
        }
    } catch (error) {
        return `is not a readable public key (${(error as Error).message}): copy cosign.pub whole, from its BEGIN line to its END line`;
    }
    return undefined;
}

/** A PEM public key that verifies sigstore signatures (`signingKeyProblem`). */
export const signingPublicKey = z.string().superRefine((value, ctx) => {
    const problem = signingKeyProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
});
