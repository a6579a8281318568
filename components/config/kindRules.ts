/**
 * The rules of registry.mode "kind" (docs/kind.md): what that placement offers, and the address clients
 * write, which the placement decides (localhost and the kind-published port, KEP-1755).
 */
import { mavenServedByRegistry } from "./derived";
import { type ConfigProblem, keyPath } from "./problems";
import type { FlatConfig } from "./schema";

/** Settings the kind placement does not offer, each refused with the reason. */
function unoffered(c: FlatConfig): [PropertyKey[], boolean, string][] {
    const r = c.registry;
    return [
        [
            ["registry", "mirrorPull"],
            r.mirrors.length > 0 && r.mirrorPull === "accounts",
            `is "accounts", but kind's nodes hold no account (registry.mode "kind" reaches the caches from the Docker host's loopback and the kind network only): remove registry.mirrorPull`,
        ],
        [
            ["registry", "allowedNetworks"],
            r.allowedNetworks.length > 0,
            `cannot apply to registry.mode "kind": the registry listens on the Docker host's loopback and the kind network only`,
        ],
        [
            ["mavenRegistry", "host"],
            mavenServedByRegistry(c),
            `is the registry's own host, but registry.mode "kind" serves no Maven repository`,
        ],
    ];
}

/** Problems of a stack with registry.mode "kind"; none in another mode. */
export function kindProblems(c: FlatConfig): ConfigProblem[] {
    if (c.registry.mode !== "kind") return [];
    const problems: ConfigProblem[] = [];
    const add = (path: PropertyKey[], message: string) => problems.push({ key: keyPath(path), message });
    const cr = c.containerRegistry;
    if (cr.host !== "localhost") {
        add(
            ["containerRegistry", "host"],
            `is "${cr.host}", but with registry.mode "kind" images are named localhost:<kind.hostPort>/… on the host and in the nodes (KEP-1755): set it to "localhost"`,
        );
    }
    if (cr.port !== c.kind.hostPort) {
        add(
            ["containerRegistry", "port"],
            `is ${cr.port}, but with registry.mode "kind" clients reach the registry on kind.hostPort (${c.kind.hostPort}): set both to the same port`,
        );
    }
    for (const [path, refused, message] of unoffered(c)) if (refused) add(path, message);
    const names = c.kind.clusterNames;
    if (names && c.kind.clusterName !== undefined) {
        add(
            ["kind", "clusterNames"],
            `and kind.clusterName ("${c.kind.clusterName}") are both set: list every cluster in kind.clusterNames and remove the other (pulumi config rm --path 'dso-registry:kind.clusterName')`,
        );
    }
    const twice = names?.filter((n, i) => names.indexOf(n) !== i) ?? [];
    if (twice.length > 0) add(["kind", "clusterNames"], `lists ${[...new Set(twice)].join(", ")} more than once: name each cluster once`);
    if (c.kind.ssh && !c.kind.ssh.hostKey && !c.kind.ssh.allowUnpinnedHostKey) {
        add(
            ["kind", "ssh", "hostKey"],
            `is required: pin the host key (ssh-keyscan -t ed25519 ${c.kind.ssh.host}), or set kind.ssh.allowUnpinnedHostKey: true for a throwaway lab`,
        );
    }
    return problems;
}
