/**
 * The external host's cap on connections per client: at most `CONNECTIONS_PER_ADDRESS` connections at once
 * from one IPv4 address (or one IPv6 /64, what one machine is given) to the front's ports; a client's
 * further connections are refused with a TCP reset until one of its own closes. Caddy has no such limit, and
 * a connection that never finishes a request is no request: nothing logs it and fail2ban never sees it. The
 * cap is the host's nftables (a table of its own, `CONNECTION_CAP_TABLE`, which refuses and never accepts,
 * so the host's other rules, Docker's and fail2ban's keep their say), installed with the front by
 * sh/caddy-apply.sh (sh/connection-cap.sh) and loaded again at boot from its file by a cron `@reboot`
 * entry. Why and the figures: docs/access-policy.md#connection-limits.
 */
import { FRONT_MEMORY } from "../shared/front";

/**
 * Connections one address may have open to the front at once. The front's open files (`FRONT_MEMORY.openFiles`)
 * bound all its connections, and a connection that is downloading holds a second file (the blob, or its
 * connection to Distribution or a cache): one address takes at most twice this many, a quarter of them. Far
 * above what one machine's registry clients open (docker pulls 3 layers at once and pushes 5, on a connection
 * each), and room for a NAT with dozens of them behind it.
 */
export const CONNECTIONS_PER_ADDRESS = FRONT_MEMORY.openFiles / 8;

/** The nftables table of the cap (family `inet`: IPv4 and IPv6). */
export const CONNECTION_CAP_TABLE = "dso_registry_front";

/**
 * The cap's nftables rules for the front's TCP `ports`, as one file `nft -f` loads in one transaction: the
 * table declared, deleted and defined again, so loading it replaces whatever an earlier version left and
 * never fails for a table that exists or not. Connections from the host itself (loopback) are not counted.
 */
export function renderConnectionCapRules(ports: readonly number[], perAddress: number = CONNECTIONS_PER_ADDRESS): string {
    if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
        throw new Error(`renderConnectionCapRules: ports must be TCP ports (got ${ports.join(", ")})`);
    }
    if (!Number.isInteger(perAddress) || perAddress < 1) throw new Error(`renderConnectionCapRules: perAddress ${perAddress}`);
    const set = `{ ${[...new Set(ports)].sort((a, b) => a - b).join(", ")} }`;
    const table = `inet ${CONNECTION_CAP_TABLE}`;
    return [
        "# Managed by dso-registry: connections per client address to the registry front (docs/access-policy.md#connection-limits).",
        `table ${table}`,
        `delete table ${table}`,
        `table ${table} {`,
        "\tset ipv4 {",
        "\t\ttype ipv4_addr",
        "\t\tsize 65535",
        "\t\tflags dynamic",
        "\t}",
        "\tset ipv6_64 {",
        "\t\ttype ipv6_addr",
        "\t\tsize 65535",
        "\t\tflags dynamic",
        "\t}",
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy accept;",
        '\t\tiif "lo" return',
        `\t\ttcp dport ${set} ct state new add @ipv4 { ip saddr ct count over ${perAddress} } reject with tcp reset`,
        `\t\ttcp dport ${set} ct state new add @ipv6_64 { ip6 saddr & ffff:ffff:ffff:ffff:: ct count over ${perAddress} } reject with tcp reset`,
        "\t}",
        "}",
        "",
    ].join("\n");
}

/** Where the cap lives on the host: its rules file and the cron file that loads it at boot. */
export interface ConnectionCapPaths {
    readonly rulesFile: string;
    readonly bootCronFile: string;
}

/**
 * The parameters of sh/connection-cap.sh's functions, as the scripts that source it declare them: the rules
 * without their last newline, which the script writes (and which the shell's `$(cat …)` it compares with drops).
 */
export function connectionCapParams(paths: ConnectionCapPaths, ports: readonly number[]) {
    return { ...connectionCapRemoveParams(paths), CAP_NFT: renderConnectionCapRules(ports).replace(/\n+$/, "") };
}

/** The parameters its removal needs (no rules). */
export function connectionCapRemoveParams(paths: ConnectionCapPaths) {
    return { CAP_TABLE: CONNECTION_CAP_TABLE, CAP_RULES: paths.rulesFile, CAP_BOOT: paths.bootCronFile };
}
