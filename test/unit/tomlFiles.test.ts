/**
 * The TOML node trust writes (containerd's hosts.toml for the registry, a mirrored upstream's, the kind
 * nodes' caches) is written by hand, to stay byte-identical to the files already on the nodes: here a
 * TOML 1.0 parser (smol-toml) reads each of them, and they must hold exactly the tables and values
 * containerd is meant to read, the comments and markers aside.
 * Covers: components/nodeTrust/files.ts, components/mirrors/mirrors.ts, components/kind/scripts.ts.
 */
import { parse } from "smol-toml";
import { describe, expect, it } from "vitest";
import { kindMirrorHostsToml } from "../../components/kind/scripts";
import { mirrorCaFile, renderMirrorHostsToml } from "../../components/mirrors/mirrors";
import { MANAGED_HEADER, markMirrorHostsToml, renderHostsToml } from "../../components/nodeTrust/files";

const target = { host: "registry.example.com", port: 5000, hasCa: true, plainHttp: false };
const mirror = { upstream: "docker.io", pathName: "docker.io" };

describe("hosts.toml of the registry", () => {
    it("with the CA: server, and the host's capabilities and CA", () => {
        expect(parse(renderHostsToml(target))).toEqual({
            server: "https://registry.example.com:5000",
            host: { "https://registry.example.com:5000": { capabilities: ["pull", "resolve"], ca: "ca.crt" } },
        });
    });

    it("plain HTTP on 443, with the pull account as the host's Authorization header", () => {
        const password = 'p"a:ss\\wörd';
        const basic = `Basic ${Buffer.from(`cluster-pull:${password}`, "utf8").toString("base64")}`;
        const text = renderHostsToml({ ...target, port: 443, hasCa: false, plainHttp: true, auth: { username: "cluster-pull", password } });
        expect(parse(text)).toEqual({
            server: "http://registry.example.com",
            host: { "http://registry.example.com": { capabilities: ["pull", "resolve"], header: { Authorization: basic } } },
        });
    });
});

describe("hosts.toml of a mirrored upstream", () => {
    const rendered = renderMirrorHostsToml({
        mirror,
        registryHost: "registry.example.com",
        registryPort: 443,
        caFile: mirrorCaFile("registry.example.com"),
        authorization: "Basic Y2x1c3Rlci1wdWxsOnA=",
        header: MANAGED_HEADER,
    });
    const expected = {
        server: "https://registry-1.docker.io",
        host: {
            "https://registry.example.com/v2/mirrors/docker.io": {
                capabilities: ["pull", "resolve"],
                override_path: true,
                ca: "../registry.example.com/ca.crt",
                header: { Authorization: "Basic Y2x1c3Rlci1wdWxsOnA=" },
            },
        },
    };

    it("the cache first, at its path, the upstream as the server", () => {
        expect(parse(rendered)).toEqual(expected);
    });

    it("reads the same with the registry's block markers around the tables", () => {
        expect(parse(markMirrorHostsToml(rendered, "registry.example.com"))).toEqual(expected);
    });

    it("a kind node's: the cache through the front's name on the kind network, plain HTTP", () => {
        const layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };
        expect(parse(kindMirrorHostsToml(layout, mirror))).toEqual({
            server: "https://registry-1.docker.io",
            host: { "http://kind-registry:5002/v2/mirrors/docker.io": { capabilities: ["pull", "resolve"], override_path: true } },
        });
    });
});
