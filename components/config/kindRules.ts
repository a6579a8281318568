/**
 * The rules of registry.mode "kind" (docs/kind.md): what that placement offers, and the address clients
 * write, which the placement decides (localhost and the kind-published port, KEP-1755).
 */
import { mavenServedByRegistry } from "./derived";
import { isMode, type ModeConfig, type ModeConfigOf } from "./modeShapes";
import { type ConfigProblem, fixable, keyPath, removal, setting } from "./problems";

/** Settings the kind placement does not offer, each refused with the reason. */
function unoffered(c: ModeConfigOf<"kind">): ConfigProblem[] {
    const r = c.registry;
    const mirrorPull = ["registry", "mirrorPull"];
    return [
        ...(r.mirrors.length > 0 && r.mirrorPull !== undefined && r.mirrorPull !== "anonymous"
            ? [
                  fixable(
                      mirrorPull,
                      removal(mirrorPull),
                      (command) =>
                          `is "${r.mirrorPull}", but kind's nodes hold no account and its registry no allowlist (registry.mode "kind" reaches the caches from the Docker host's loopback and the kind network only): remove it (${command})`,
                  ),
              ]
            : []),
        ...(mavenServedByRegistry(c)
            ? [
                  {
                      key: keyPath(["mavenRegistry", "host"]),
                      message: `is the registry's own host, but registry.mode "kind" serves no Maven repository`,
                  },
              ]
            : []),
    ];
}

/** Problems of a stack with registry.mode "kind"; none in another mode. */
export function kindProblems(c: ModeConfig): ConfigProblem[] {
    if (!isMode(c, "kind")) return [];
    const problems: ConfigProblem[] = [];
    const add = (path: PropertyKey[], message: string) => problems.push({ key: keyPath(path), message });
    const cr = c.containerRegistry;
    if (cr.host !== "localhost") {
        const path = ["containerRegistry", "host"];
        problems.push(
            fixable(
                path,
                setting(path, "localhost"),
                (command) =>
                    `is "${cr.host}", but with registry.mode "kind" images are named localhost:<kind.hostPort>/… on the host and in the nodes (KEP-1755): set it to "localhost" (${command})`,
            ),
        );
    }
    if (cr.port !== c.kind.hostPort) {
        const path = ["containerRegistry", "port"];
        problems.push(
            fixable(
                path,
                setting(path, c.kind.hostPort),
                (command) =>
                    `is ${cr.port}, but with registry.mode "kind" clients reach the registry on kind.hostPort (${c.kind.hostPort}): set both to the same port (${command})`,
            ),
        );
    }
    problems.push(...unoffered(c));
    const names = c.kind.clusterNames;
    if (names && c.kind.clusterName !== undefined) {
        problems.push(
            fixable(
                ["kind", "clusterNames"],
                removal(["kind", "clusterName"]),
                (command) =>
                    `and kind.clusterName ("${c.kind.clusterName}") are both set: list every cluster in kind.clusterNames and remove the other (${command})`,
            ),
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
