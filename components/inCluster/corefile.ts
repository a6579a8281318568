/**
 * The registry's name inside pods, as CoreDNS configuration: a server block of its own for the
 * registry's host name whose `hosts` entry answers with the ClusterIP of the registry's TLS Service.
 * Pods then resolve `https://<host>` to the same front, with the same certificate, that nodes reach.
 *
 * Two ways to hand the block to the cluster's CoreDNS, both additive and reversible:
 * - k3s: the `coredns-custom` ConfigMap, whose `*.server` keys k3s's Corefile imports; the program owns
 *   one key of it (see clusterDns.ts).
 * - microk8s: its Corefile (ConfigMap `coredns`, key `Corefile`) imports nothing, so the block is
 *   appended between marker comments and taken out by them; the transform below runs on the
 *   operator's machine in POSIX sh + awk, between `kubectl get` and a `kubectl patch` that only applies
 *   when the Corefile is still the one that was read (a JSON Patch `test` operation).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { renderShellScript } from "../shared/shellScript";

/** Marker comments around the program's block in a Corefile. */
export function corefileMarkers(host: string): { readonly begin: string; readonly end: string } {
    return {
        begin: `# BEGIN dso-registry ${host} (managed server block, do not edit)`,
        end: `# END dso-registry ${host}`,
    };
}

/** The BEGIN line when the Corefile did not end with a line break: removal takes that break out again. */
export function joinedBeginMarker(host: string): string {
    return `${corefileMarkers(host).begin} (line break added)`;
}

/**
 * A CoreDNS server block for the zone `host`: the name answers with `ip`, any other name under it is
 * NXDOMAIN. CoreDNS sends a query to the server block of the most specific zone, so the cluster's own
 * `.:53` block keeps answering every other name. No `reload` here: microk8s's `.:53` block carries it,
 * and the plugin reloads the whole Corefile.
 */
export function renderRegistryServerBlock(host: string, ip: string): string {
    return [`${host}:53 {`, `    errors`, `    hosts {`, `        ${ip} ${host}`, `        ttl 30`, `    }`, `}`, ``].join("\n");
}

/** What a preview shows for the address while the TLS Service is still to be made (a new namespace, say). */
export const ADDRESS_NOT_YET_KNOWN = "<address of Service registry-tls, known once it exists>";

/**
 * The block for the TLS Service's address `ip`. A Service still to be created has no ClusterIP in a
 * preview (its `spec` is known, the address in it is not yet): the preview shows that instead of
 * "undefined"; in an `up` a missing address is an error, never a block that would answer "undefined".
 */
export function registryServerBlockFor(host: string, ip: string | undefined, preview: boolean): string {
    if (ip) return renderRegistryServerBlock(host, ip);
    if (preview) return renderRegistryServerBlock(host, ADDRESS_NOT_YET_KNOWN);
    throw new Error(`cluster DNS: Service registry-tls has no ClusterIP, so ${host} cannot be given an address`);
}

/**
 * The awk program of the Corefile transform (`sh/corefile-transform.awk`). Input files: the block to
 * insert (empty to remove), then the current Corefile. Prints the new Corefile; on anything it cannot
 * change safely it prints why to stderr and exits 1 (the caller changes nothing). Every line outside
 * the program's markers is printed as it was, and the final line break is kept as it was, so removing
 * gives the original back byte for byte.
 */
export const COREFILE_AWK = readFileSync(path.join(__dirname, "sh", "corefile-transform.awk"), "utf8");

/**
 * A JSON string literal of a whole file, in awk (`sh/json-string.awk`; every byte kept, control
 * characters escaped), for the JSON Patch. Input: the file; `-v noFinalBreak=1` when it does not end
 * with a line break.
 */
export const JSON_STRING_AWK = readFileSync(path.join(__dirname, "sh", "json-string.awk"), "utf8");

export interface CorefileScriptInput {
    /** The registry's host name: the zone of the block and the key of its markers. */
    readonly host: string;
    /** The kubectl context to use; kubectl's current context when unset. */
    readonly kubectlContext?: string;
}

/**
 * The script (`sh/corefile.sh`) that changes the Corefile of microk8s's CoreDNS. "apply" reads the
 * server block on stdin and puts it in (replacing an earlier one); "remove" takes it out. It reads the
 * Corefile with `kubectl get`, transforms it, and writes it back with a JSON Patch whose `test`
 * operation makes the API server refuse the write when someone changed the Corefile in between (run
 * again then). Prints "changed"/"unchanged Corefile".
 */
export function corefileScriptBody(input: CorefileScriptInput, action: "apply" | "remove"): string {
    const { begin, end } = corefileMarkers(input.host);
    return renderShellScript(path.join(__dirname, "sh", "corefile.sh"), {
        ACTION: action,
        HOST: input.host,
        KUBECTL_CONTEXT: input.kubectlContext ?? "",
        BEGIN_MARKER: begin,
        END_MARKER: end,
        JOINED_MARKER: joinedBeginMarker(input.host),
        TRANSFORM_AWK: COREFILE_AWK,
        JSON_STRING_AWK,
    });
}
