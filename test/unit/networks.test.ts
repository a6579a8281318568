/**
 * components/shared/networks.ts: what is a network in CIDR form and what is an address, by zod's own
 * validators, and the IPv4 network an IPv4-mapped IPv6 network stands for.
 */
import { describe, expect, it } from "vitest";
import { cidrProblem, ipv4OfMappedNetwork, isIpAddress } from "../../components/shared/networks";

describe("cidrProblem", () => {
    it.each([
        "10.0.0.0/8",
        "10.0.0.1/8",
        "0.0.0.0/0",
        "192.168.1.7/32",
        "fd00::/8",
        "FD00::/8",
        "::/0",
        "::1/128",
        "2001:db8:0:0:0:0:0:1/128",
        "::ffff:10.0.0.1/128",
        "::ffff:a00:1/128",
        "1:2:3:4:5:6:1.2.3.4/128",
    ])("accepts %s", (network) => {
        expect(cidrProblem(network)).toBeUndefined();
    });

    it.each([
        ["three groups", "1:2:3/64"],
        ["three groups, no prefix length", "1:2:3"],
        ["colons alone", "::::::/64"],
        ["colons alone, no prefix length", "::::::"],
        ["two double colons", "1::2::3/64"],
        ["nine groups", "2001:db8:0:0:0:0:0:0:1/64"],
        ["an IPv6 prefix past 128", "fd00::/129"],
        ["an IPv4 prefix past 32", "10.0.0.0/33"],
        ["no prefix length", "10.0.0.0"],
        ["a prefix length with a leading zero", "10.0.0.0/08"],
        ["an IPv4 part with a leading zero", "010.0.0.0/8"],
        ["an IPv4 part past 255", "10.0.0.256/32"],
        ["an embedded IPv4 part with a leading zero", "::1.02.3.4/128"],
        ["a zone", "fe80::1%eth0/64"],
        ["two prefix lengths", "10.0.0.0/8/8"],
        ["a host name", "example.com/32"],
        ["empty", ""],
    ])("refuses %s, naming the value", (_what, network) => {
        expect(cidrProblem(network)).toBe(`${JSON.stringify(network)} is not a network in CIDR form, such as "10.0.0.0/8" or "fd00::/8"`);
    });
});

describe("isIpAddress", () => {
    it.each(["10.0.0.5", "::1", "fd00::5", "::ffff:10.0.0.1"])("accepts %s", (address) => {
        expect(isIpAddress(address)).toBe(true);
    });

    it.each(["1:2:3", "::::::", "10.0.0.256", "fe80::1%eth0", "10.0.0.0/8", "registry.local", ""])("refuses %j", (address) => {
        expect(isIpAddress(address)).toBe(false);
    });
});

describe("ipv4OfMappedNetwork", () => {
    it.each([
        ["::ffff:10.0.0.1/128", "10.0.0.1/32"],
        ["::ffff:10.0.0.0/104", "10.0.0.0/8"],
        ["::FFFF:192.168.1.7/128", "192.168.1.7/32"],
        ["::ffff:a00:1/128", "10.0.0.1/32"],
        ["0:0:0:0:0:ffff:7f00:1/104", "127.0.0.1/8"],
        ["::ffff:0.0.0.0/96", "0.0.0.0/0"],
    ])("takes %s as %s", (network, ipv4) => {
        expect(ipv4OfMappedNetwork(network)).toBe(ipv4);
    });

    it.each([
        ["an IPv4 network", "10.0.0.0/8"],
        ["an IPv6 network", "fd00::/8"],
        ["a mapped address under a prefix wider than the mapped range", "::ffff:0:0/80"],
        ["an IPv4-compatible address, not a mapped one", "::10.0.0.1/128"],
        ["a translated address (NAT64)", "64:ff9b::10.0.0.1/128"],
        ["no network", "::ffff:10.0.0.1"],
    ])("leaves %s alone", (_what, network) => {
        expect(ipv4OfMappedNetwork(network)).toBeUndefined();
    });
});
