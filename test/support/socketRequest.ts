/**
 * A request to a backend's unix socket as one user of the machine (`setpriv` + `curl --unix-socket`):
 * how the tests prove that only Caddy's group opens the sockets of the host's backends (Distribution,
 * the caches, the Maven backend) and that another local user cannot.
 */
import type { TestNetns } from "./netns";
import type { RunResult } from "./serverProcess";

/** Who makes the request: a user and group of the machine (Caddy's, or `nobody`/`nogroup`). */
export interface SocketUser {
    readonly user: string;
    readonly group: string;
}

export const CADDY_USER: SocketUser = { user: "caddy", group: "caddy" };
export const NOBODY: SocketUser = { user: "nobody", group: "nogroup" };

/**
 * `curl` to `url` through `socket` as `who`, with only that user's own group. stdout is the HTTP status
 * ("000" when nothing answered); exit code 7 is curl's "could not connect" (refused by the socket's
 * permissions). `curlArgs` go before the URL (a method, a body).
 */
export function socketRequestAs(
    ns: Pick<TestNetns, "run">,
    who: SocketUser,
    socket: string,
    url: string,
    curlArgs: readonly string[] = [],
): RunResult {
    return ns.run("setpriv", [
        `--reuid=${who.user}`,
        `--regid=${who.group}`,
        "--clear-groups",
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "--unix-socket",
        socket,
        ...curlArgs,
        url,
    ]);
}
