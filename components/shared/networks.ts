/**
 * Client networks and addresses, checked by zod's own IP validators: the one definition of what the
 * config, the access policy and node trust accept as a network in CIDR form or as an address. On the
 * cases of test/unit/networks.test.ts they accept what Go's `netip.ParsePrefix` (Caddy's `remote_ip`,
 * `client_ip` and `trusted_proxies`) parses and refuse what it refuses, and every network they accept
 * also parses with `net.ParseCIDR` (Traefik's ipAllowList, ingress-nginx's annotations): no zone
 * (`fe80::1%eth0`), no leading zeros in an IPv4 part or in the prefix length.
 */
import { z } from "zod";

const CIDR = z.union([z.cidrv4(), z.cidrv6()]);
const IP_ADDRESS = z.union([z.ipv4(), z.ipv6()]);

/** Why `value` is not a network in CIDR form, or undefined when it is. */
export function cidrProblem(value: string, example = "10.0.0.0/8"): string | undefined {
    if (CIDR.safeParse(value).success) return undefined;
    return `${JSON.stringify(value)} is not a network in CIDR form, such as "${example}" or "fd00::/8"`;
}

/** Whether `value` is an IPv4 or IPv6 address (no prefix length, no zone). */
export function isIpAddress(value: string): boolean {
    return IP_ADDRESS.safeParse(value).success;
}

/**
 * The IPv4 network an IPv4-mapped IPv6 network stands for (`::ffff:10.0.0.0/104` → `10.0.0.0/8`), or
 * undefined for any other network. A client that connects over IPv4 is matched by its IPv4 address
 * everywhere the allowlists are enforced: Caddy's matchers compare with `netip.Prefix.Contains`, which
 * never finds an IPv4 address in an IPv6 prefix, and nginx's `allow` keeps IPv6 rules for IPv6
 * connections. Only the IPv4 form of such a network works in every front.
 */
export function ipv4OfMappedNetwork(network: string): string | undefined {
    if (!z.cidrv6().safeParse(network).success) return undefined;
    const [address = "", bits = ""] = network.split("/");
    const prefix = Number(bits);
    if (prefix < 96) return undefined;
    // The WHATWG URL parser writes an IPv6 address in its canonical form: a mapped one is "::ffff:x:y".
    const canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
    if (!mapped) return undefined;
    const [high, low] = [Number.parseInt(mapped[1]!, 16), Number.parseInt(mapped[2]!, 16)];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}/${prefix - 96}`;
}
