/**
 * One HTTPS request to the registry's front (Caddy) with curl, the server verified with the test CA:
 * how the tests see a status code or the headers of an answer that no client (docker, mvn) shows them,
 * such as a refused method, a challenge's realm or the read-only window's Retry-After. The account, when
 * given, travels in a curl config on stdin, never on the command line.
 */
import type { TestNetns } from "./netns";
import { type RunResult, run } from "./serverProcess";

export interface FrontRequest {
    /** The test CA's certificate, which verifies the front's. */
    readonly caCertFile: string;
    /** Basic credentials for the request; none for an anonymous one. */
    readonly account?: { readonly username: string; readonly password: string };
    /** The namespace curl runs in (seeing its /etc/hosts); this machine when not given. */
    readonly ns?: Pick<TestNetns, "run">;
}

/** curl with `output` (what it prints of the answer, the body discarded) and `args` (a method, a body, the URL) last. */
function curl(request: FrontRequest, output: readonly string[], args: readonly string[]): RunResult {
    const curlArgs = ["-sS", ...output, "--cacert", request.caCertFile, ...(request.account ? ["-K", "-"] : []), ...args];
    const options = request.account ? { input: `user = "${request.account.username}:${request.account.password}"\n` } : {};
    return request.ns ? request.ns.run("curl", curlArgs, options) : run("curl", curlArgs, options);
}

/** The answer's status code as curl prints it ("000" when nothing answered). */
export function frontStatus(request: FrontRequest, args: readonly string[]): string {
    return curl(request, ["-o", "/dev/null", "-w", "%{http_code}"], args).stdout;
}

/** The answer's status line and header lines, as curl prints them. */
export function frontHeaders(request: FrontRequest, args: readonly string[]): string {
    return curl(request, ["-D", "-", "-o", "/dev/null"], args).stdout;
}
