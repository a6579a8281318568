/**
 * Image references as container runtimes read them: the reference grammar of Distribution
 * (distribution/reference, which the Docker engine, containerd and so the kubelet parse with), and its
 * reading of a familiar name's first component as a registry's name. Written from the grammar rather
 * than taken from npm, where no parser is both kept and usable: @swimlane/docker-reference ports an older
 * grammar whose name pattern backtracks without end (two minutes to refuse twenty letters and a "!"),
 * parse-docker-image-name is a GopherJS build of an old Go parser that answers an empty object with no
 * reason, docker-parse-image splits and checks nothing. Each part here is matched on its own, in time
 * linear in its length.
 */
import { DEFAULT_IMAGES } from "./defaults";
import { isIpAddress } from "./networks";

/** One component of a repository's path: lower-case runs joined by ".", "_", "__" or runs of "-". */
export const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const PATH_COMPONENT_RE = new RegExp(`^${PATH_COMPONENT}$`);
/** A repository prefix: one or more whole path components, each followed by "/" (e.g. "docker-internal/p2c/team-a/"). */
export const REPOSITORY_PREFIX = new RegExp(`^(?:${PATH_COMPONENT}/)+$`);
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
/** A registry's name: a host name (any case) or a bracketed IPv6 address, with an optional port. */
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[([0-9a-fA-F:]+)\\])(?::[0-9]+)?$`);
const TAG_RE = /^\w[\w.-]{0,127}$/;
/**
 * The grammar takes any algorithm; this program takes sha256 alone, with the 64 lower-case hex digits
 * that go-digest requires of it: the digest registries report for a pushed or pulled image, and the only
 * one what reads a pinned reference here knows (`isDistribution3Image`, the Renovate config).
 */
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
/** Distribution's limit on a name, registry included. */
const NAME_MAX_LENGTH = 255;

/** Why `value` is not an image reference (`name[:tag][@sha256:digest]`), or undefined when it is. */
export function imageReferenceProblem(value: string): string | undefined {
    const why = problemOf(value);
    return why && `${JSON.stringify(value)} is not an image reference: ${why}`;
}

function problemOf(value: string): string | undefined {
    if (value === "") return "it is empty";
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value))
        return `an image reference has no scheme: start with the registry's name, e.g. "mirror.example.com/library/${DEFAULT_IMAGES.caddy}"`;
    if (/\s/.test(value)) return "it holds white space";
    if (/^[a-f0-9]{64}$/.test(value))
        return 'it is an image ID; name the image by its repository, with the ID as a sha256 digest after "@"';
    const at = value.indexOf("@");
    const nameAndTag = at < 0 ? value : value.slice(0, at);
    if (at >= 0) {
        const digest = value.slice(at + 1);
        if (!DIGEST_RE.test(digest)) return `the digest "${digest}" must be "sha256:" and 64 lower-case hex digits`;
    }
    const colon = nameAndTag.lastIndexOf(":");
    const hasTag = colon > nameAndTag.lastIndexOf("/");
    const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag;
    if (hasTag) {
        const tag = nameAndTag.slice(colon + 1);
        if (!TAG_RE.test(tag)) {
            return `the tag "${tag}" must be 1 to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`;
        }
    }
    if (name.length > NAME_MAX_LENGTH) return `the name is longer than ${NAME_MAX_LENGTH} characters`;
    const components = name.split("/");
    // A first component followed by more is the registry's name when it looks like one, as the runtimes read it.
    const first = components[0]!;
    const registry = components.length > 1 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
    if (registry) {
        const domain = DOMAIN_RE.exec(first);
        if (!domain || (domain[1] !== undefined && !isIpAddress(domain[1]))) {
            return `the registry "${first}" must be a host name or a bracketed IPv6 address, with an optional ":port"`;
        }
    }
    const path = registry ? components.slice(1) : components;
    const bad = path.find((component) => !PATH_COMPONENT_RE.test(component));
    if (bad !== undefined) {
        return bad === ""
            ? `the repository path "${path.join("/")}" has an empty component: every part between slashes needs a name`
            : `the repository path component "${bad}" must be lower case letters and digits, joined by single ".", "_", "__" or runs of "-"`;
    }
    return undefined;
}
