/**
 * components/externalHost/connectionCap.ts: the nftables rules of the front's connection cap (real nft loads
 * them in test/integration/front.http2Flood.test.ts, which floods the front, and in
 * externalRegistryHost.scripts.test.ts), and the cap's share of the front's open files.
 * Covers: components/externalHost/connectionCap.ts.
 */
import { describe, expect, test } from "vitest";
import {
    CONNECTION_CAP_TABLE,
    CONNECTIONS_PER_ADDRESS,
    connectionCapParams,
    renderConnectionCapRules,
} from "../../components/externalHost/connectionCap";
import { FRONT_MEMORY } from "../../components/shared/front";

describe("renderConnectionCapRules", () => {
    test("refuses each address's (each IPv6 /64's) new connections to the front's ports past the cap, loopback aside", () => {
        const rules = renderConnectionCapRules([443, 80]);
        expect(rules).toContain(
            `tcp dport { 80, 443 } ct state new add @ipv4 { ip saddr ct count over ${CONNECTIONS_PER_ADDRESS} } reject with tcp reset`,
        );
        expect(rules).toContain(
            `tcp dport { 80, 443 } ct state new add @ipv6_64 { ip6 saddr & ffff:ffff:ffff:ffff:: ct count over ${CONNECTIONS_PER_ADDRESS} } reject with tcp reset`,
        );
        expect(rules).toContain('\t\tiif "lo" return\n');
        // A table of its own that only refuses: the host's other rules keep their say.
        expect(rules).not.toMatch(/\baccept\b(?!;)/);
        expect(rules).toContain("type filter hook input priority filter; policy accept;");
    });

    test("replaces the table whole when loaded, whether it exists or not", () => {
        const lines = renderConnectionCapRules([443]).split("\n");
        const table = `inet ${CONNECTION_CAP_TABLE}`;
        expect(lines.slice(1, 4)).toEqual([`table ${table}`, `delete table ${table}`, `table ${table} {`]);
    });

    test("one address takes at most a quarter of the front's open files, a downloading connection holding two", () => {
        expect(CONNECTIONS_PER_ADDRESS).toBe(256);
        expect(2 * CONNECTIONS_PER_ADDRESS).toBe(FRONT_MEMORY.openFiles / 4);
    });

    test.each([[[]], [[0]], [[70000]], [[443.5]]])("refuses ports %j", (ports) => {
        expect(() => renderConnectionCapRules(ports)).toThrow(/ports must be TCP ports/);
    });

    test("the scripts' parameters carry the rules, their file and the boot entry", () => {
        expect(
            connectionCapParams({ rulesFile: "/etc/caddy/dso-registry/connection-cap.nft", bootCronFile: "/etc/cron.d/x" }, [443]),
        ).toEqual({
            CAP_TABLE: CONNECTION_CAP_TABLE,
            CAP_NFT: renderConnectionCapRules([443]).trimEnd(),
            CAP_RULES: "/etc/caddy/dso-registry/connection-cap.nft",
            CAP_BOOT: "/etc/cron.d/x",
        });
    });
});
