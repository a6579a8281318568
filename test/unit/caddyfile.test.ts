/**
 * components/accessPolicy/caddyfile/index.ts, `renderCaddyfile`: the rules appear in the order that makes them
 * work, and bad input is refused with a message that says what to change. (The policy's checks:
 * policy.test.ts; the users files: usersFile.test.ts; every Caddyfile variant against the real
 * `caddy validate`: test/integration/accessPolicy.test.ts; each group of rules alone: the test named after
 * its module.)
 * Covers: components/accessPolicy/caddyfile/index.ts.
 */
import { describe, expect, test } from "vitest";
import {
    BLOB_PATH,
    base64PrefixPattern,
    CLIENT_IDLE_SECONDS,
    CROSS_SITE_MESSAGE,
    MAX_AUTHORIZATION_LENGTH,
    READ_HEADER_SECONDS,
    renderCaddyfile,
} from "../../components/accessPolicy/caddyfile";
import { UNREAD_BODY_SECONDS, WRITE_MAX_CHUNK } from "../../components/accessPolicy/caddyfile/limits";
import { type AccessPolicy, ANONYMOUS_TOKEN, READ_ONLY_RETRY_AFTER_SECONDS, TOKEN_PATH } from "../../components/accessPolicy/policy";
import { DECOY_ACCOUNT } from "../../components/accessPolicy/usersFile";
import { HOST_FRONT_CONNECTIONS } from "../../components/externalHost/caddySite";
import { BASE_POLICY as base } from "../support/accessPolicy";
import { makeDecoyHash } from "../support/realRegistry";

describe("renderCaddyfile rules", () => {
    const order = (text: string, ...needles: string[]) => needles.map((n) => text.indexOf(n));

    test("writes are checked against push accounts only", () => {
        const text = renderCaddyfile(base);
        const write = text.slice(text.indexOf("basicauth @write"), text.indexOf("}", text.indexOf("basicauth @write")));
        expect(write).toContain(base.pushUsersFile);
        expect(write).not.toContain(base.pullUsersFile);
    });

    test("the ping accepts push and pull accounts", () => {
        const text = renderCaddyfile(base);
        const ping = text.slice(text.indexOf("basicauth @ping"), text.indexOf("}", text.indexOf("basicauth @ping")));
        expect(ping).toContain(base.pushUsersFile);
        expect(ping).toContain(base.pullUsersFile);
    });

    test("anonymous pull has no read rule; authenticated pull has one", () => {
        expect(renderCaddyfile(base)).not.toContain("basicauth @read");
        expect(renderCaddyfile({ ...base, requiresAuthForPull: true })).toContain("basicauth @read");
    });

    test("the allowlist answers before any authentication", () => {
        const text = renderCaddyfile({ ...base, allowedNetworks: ["10.0.0.0/8"] });
        const [refuse, auth] = order(text, "respond @outside", "basicauth");
        expect(refuse).toBeGreaterThan(0);
        expect(refuse).toBeLessThan(auth!);
    });

    test("with deletes disabled, DELETE is refused before authentication", () => {
        const text = renderCaddyfile(base);
        const [refuse, auth] = order(text, "respond @delete", "basicauth");
        expect(refuse).toBeGreaterThan(0);
        expect(refuse).toBeLessThan(auth!);
        expect(renderCaddyfile({ ...base, deletesEnabled: true })).not.toContain("@delete");
    });

    test("the Caddyfile holds no hash and no password", () => {
        expect(renderCaddyfile(base)).not.toMatch(/\$2[aby]\$/);
    });

    test("no body size limit; a body only a refusal meets has UNREAD_BODY_SECONDS without progress, one passed on a minute", () => {
        const text = renderCaddyfile(base);
        expect(text).not.toMatch(/max_size|request_body|^\s*read_body\s|^\s*write\s/m);
        expect(text).toMatch(new RegExp(`\\n\\t\\ttimeouts \\{\\n\\t\\t\\tread_body_idle ${UNREAD_BODY_SECONDS}s\\n`));
        // Every proxy to Distribution gives the body a minute, right before it.
        expect(text).toContain(`\t\ttimeouts {\n\t\t\tread_timeout 60s\n\t\t}\n\t\treverse_proxy ${base.upstream} {`);
    });

    test("the same policy renders the same bytes", () => {
        expect(renderCaddyfile({ ...base, allowedNetworks: ["10.0.0.0/8"] })).toBe(
            renderCaddyfile({ ...base, allowedNetworks: ["10.0.0.0/8"] }),
        );
    });

    test("offers HTTP/1.1 only unless the policy asks for HTTP/2, and caps request heads in size and time", () => {
        expect(renderCaddyfile(base)).toContain("\t\tprotocols h1\n");
        expect(renderCaddyfile({ ...base, http2: false })).toContain("\t\tprotocols h1\n");
        expect(renderCaddyfile({ ...base, http2: true })).toContain("\t\tprotocols h1 h2\n");
        expect(renderCaddyfile(base)).toMatch(/\n\t\tmax_header_size 16KiB\n/);
        expect(renderCaddyfile(base)).toMatch(/\n\t\t\tread_header 10s\n\t\t\tidle 5m\n\t\t\}\n/);
    });

    test("where HTTP/2 is offered, the write deadline is reset once a MiB (WRITE_MAX_CHUNK); HTTP/1.1 keeps Caddy's 64 KiB", () => {
        expect(WRITE_MAX_CHUNK).toBe("1MiB");
        expect(renderCaddyfile({ ...base, http2: true }).match(/write_max_chunk/g)).toHaveLength(1);
        expect(renderCaddyfile(base)).not.toContain("write_max_chunk");
        expect(renderCaddyfile({ ...base, http2: true, tls: { kind: "plain-http" } })).not.toContain("write_max_chunk");
    });

    test("the external host's front: HTTP/1.1 only, and a connection with no request in flight closed after 10 s, as a slow head is", () => {
        const text = renderCaddyfile({ ...base, ...HOST_FRONT_CONNECTIONS });
        expect(text).toContain("\t\tprotocols h1\n");
        expect(text).toMatch(/\n\t\ttimeouts \{\n\t\t\tread_body_idle 1s\n\t\t\tread_header 10s\n\t\t\tidle 10s\n\t\t\}\n/);
        expect(CLIENT_IDLE_SECONDS).toBe(READ_HEADER_SECONDS);
    });

    test("refuses a Host in another case or with a port's leading zero, a route prefix in another case, two Authorization values and an oversized one before anything else", () => {
        const text = renderCaddyfile({ ...base, uiUpstream: "127.0.0.1:8081", allowedNetworks: ["10.0.0.0/8"] });
        const answers = [
            "respond @hostSpelling",
            "respond @caseVariant0 404",
            "respond @caseVariant2 404",
            "respond @authorizationTwice",
            "respond @authorizationTooLong",
        ];
        const [outside, ...rest] = order(text, "respond @outside", ...answers, "redir /registry", "basicauth");
        for (const i of rest) expect(i).toBeGreaterThan(outside!);
        for (const i of rest.slice(0, answers.length)) expect(i).toBeLessThan(rest.at(-2)!);
        expect(text).toContain("@caseVariant0 {\n\t\tpath_regexp (?i)^/v2/token$\n\t\tnot path_regexp ^/v2/token$\n\t}");
        expect(text).toContain("@caseVariant2 {\n\t\tpath_regexp (?i)^/registry(?:/|$)\n\t\tnot path_regexp ^/registry(?:/|$)\n\t}");
        const tooLong = new RegExp(/@authorizationTooLong vars_regexp \{http\.request\.header\.Authorization\} (\S+)/.exec(text)![1]!);
        expect(tooLong.test("x".repeat(MAX_AUTHORIZATION_LENGTH))).toBe(false);
        expect(tooLong.test("x".repeat(MAX_AUTHORIZATION_LENGTH + 1))).toBe(true);
    });

    test("refuses a browser's write for another site's page before the UI, Maven and every credential rule, by configured authorities only", () => {
        const text = renderCaddyfile({
            ...base,
            uiUpstream: "127.0.0.1:8081",
            realmAuthorities: { "ui.example.test:8080": "ui.example.test:8080" },
        });
        const [crossSite, foreign, ui, basic] = order(
            text,
            "respond @crossSiteWrite",
            "respond @foreignOriginWrite",
            "redir /registry",
            "basicauth",
        );
        expect(crossSite).toBeGreaterThan(0);
        expect(foreign).toBeGreaterThan(crossSite!);
        expect(ui).toBeGreaterThan(foreign!);
        expect(basic).toBeGreaterThan(foreign!);
        expect(text).toContain(
            "\t@crossSiteWrite {\n\t\tnot method GET HEAD\n\t\theader_regexp Sec-Fetch-Site ^(?:cross-site|same-site)$\n\t}",
        );
        const own = new RegExp(/not header_regexp Origin (\S+)/.exec(text)![1]!);
        for (const origin of [
            "https://registry.example.com",
            "http://registry.example.com",
            "https://registry.example.com:443",
            "http://ui.example.test:8080",
        ])
            expect(own.test(origin), origin).toBe(true);
        for (const origin of [
            "https://attacker.example",
            "null",
            "https://registry.example.com.attacker.example",
            "https://xregistry.example.com",
        ])
            expect(own.test(origin), origin).toBe(false);
        expect(text).toContain(`"message":"${CROSS_SITE_MESSAGE}"`);
    });

    test("uses basicauth, the spelling Caddy 2.6 knows", () => {
        expect(renderCaddyfile(base)).not.toContain("basic_auth");
    });
});

describe("renderCaddyfile tokens (the Bearer challenge's realm)", () => {
    const order = (text: string, ...needles: string[]) => needles.map((n) => text.indexOf(n));
    /** The text of the block that starts at `needle`, up to its closing brace at the same indent. */
    const block = (text: string, needle: string) => {
        const start = text.indexOf(needle);
        const indent = /^\t*/.exec(text.slice(text.lastIndexOf("\n", start) + 1))![0];
        return text.slice(start, text.indexOf(`\n${indent}}`, start));
    };

    test.each([
        [
            "a TLS site names https and the configured host",
            base,
            'Bearer realm="https://registry.example.com/v2/token",service="dso-registry"',
        ],
        [
            "a TLS site on another port names it",
            { ...base, port: 8443 } as AccessPolicy,
            'Bearer realm="https://registry.example.com:8443/v2/token",service="dso-registry"',
        ],
        [
            "a plain-HTTP site (behind the ingress) takes the scheme the client used, and the configured public host",
            { ...base, tls: { kind: "plain-http" }, port: 5000, publicAuthority: "registry.example.com" } as AccessPolicy,
            'Bearer realm="{dso_client_scheme}://registry.example.com/v2/token"',
        ],
    ])("every 401 carries the Bearer challenge: %s", (_name, policy, challenge) => {
        const errors = block(renderCaddyfile(policy), "handle_errors");
        expect(errors).toContain("@unauthorized expression {err.status_code} == 401");
        expect(errors).toContain(`WWW-Authenticate \`${challenge}`);
        expect(errors).toContain('"code":"UNAUTHORIZED"');
        // Never the request's Host header: the front reads it only to refuse it in another spelling.
        const hostUses = renderCaddyfile(policy)
            .split("\n")
            .filter((line) => line.includes("{http.request.host"));
        expect(hostUses).toEqual([expect.stringMatching(/^\t@hostSpelling vars_regexp \{http\.request\.hostport\} /)]);
    });

    test("behind the ingress, only X-Forwarded-Proto https makes the realm https", () => {
        const text = renderCaddyfile({ ...base, tls: { kind: "plain-http" } });
        expect(block(text, "map {http.request.header.X-Forwarded-Proto} {dso_client_scheme}")).toMatch(/https https\n\t*default http$/);
        expect(renderCaddyfile(base)).not.toContain("dso_client_scheme");
    });

    test("the realm checks credentials against push and pull accounts before it answers", () => {
        const token = block(renderCaddyfile(base), "route @token");
        const [check, issue] = order(token, "basicauth @withCredentials", "respond @basicCredentials");
        expect(check).toBeGreaterThan(0);
        expect(issue).toBeGreaterThan(check!);
        const check_ = block(token, "basicauth @withCredentials");
        expect(check_).toContain(base.pushUsersFile);
        expect(check_).toContain(base.pullUsersFile);
    });

    test("a verified client's token is the base64 credentials it sent", () => {
        expect(renderCaddyfile(base)).toContain('respond @basicCredentials `\\{"token":"{re.basic.1}","access_token":"{re.basic.1}"');
    });

    test.each([
        ["anonymous pull: clients without credentials get the anonymous token", false, `respond \`\\{"token":"${ANONYMOUS_TOKEN}"`],
        ["requiresAuthForPull: clients without credentials get a 401", true, "error 401"],
    ])("%s", (_name, requiresAuthForPull, expected) => {
        const token = block(renderCaddyfile({ ...base, requiresAuthForPull }), "route @token");
        expect(token).toContain(expected);
        expect(token).not.toContain(requiresAuthForPull ? ANONYMOUS_TOKEN : "error 401");
    });

    test("credentials are not forwarded to Distribution", () => {
        const proxy = block(renderCaddyfile(base), "reverse_proxy 127.0.0.1:5000");
        expect(proxy).toContain("header_up -Authorization");
    });

    test("tokens are never cached", () => {
        expect(block(renderCaddyfile(base), "route @token")).toContain("Cache-Control no-store");
    });

    test("the realm refuses POST (containerd's OAuth form) with 405, so clients fall back to GET", () => {
        const text = renderCaddyfile(base);
        expect(block(text, "@tokenWrite {")).toContain("not method GET HEAD");
        expect(text).toContain('respond @tokenWrite "Tokens are issued on GET" 405');
    });

    test("the anonymous token is removed and other Bearer tokens become Basic credentials, before any check", () => {
        const text = renderCaddyfile({ ...base, requiresAuthForPull: true });
        const [strip, convert, token, write, ping, read] = order(
            text,
            "request_header @anonymousToken -Authorization",
            'request_header @bearerCredentials Authorization "Basic {re.bearer.1}"',
            "route @token",
            "basicauth @write",
            "basicauth @ping",
            "basicauth @read",
        );
        expect(strip).toBeGreaterThan(0);
        expect([strip, convert, token, write, ping, read]).toEqual([...[strip, convert, token, write, ping, read]].sort((a, b) => a! - b!));
        expect(text).toContain(`@anonymousToken header Authorization "Bearer ${ANONYMOUS_TOKEN}"`);
    });

    test.each([
        ["the anonymous token", `Bearer ${ANONYMOUS_TOKEN}`, false],
        ["base64 credentials", "Bearer Y2ktcHVzaDpzZWNyZXQ=", true],
        ["base64 credentials, lower-case scheme", "bearer Y2ktcHVzaDpzZWNyZXQ=", true],
        ["text outside the base64 alphabet", "Bearer a.b.c", false],
    ])("the Bearer conversion takes %s: %s", (_name, header, converted) => {
        const pattern = /@bearerCredentials header_regexp bearer Authorization (\S+)/.exec(renderCaddyfile(base))![1]!;
        const goPattern = pattern.replace("(?i:bearer)", "[Bb][Ee][Aa][Rr][Ee][Rr]");
        expect(new RegExp(goPattern).test(header)).toBe(converted);
    });

    test("the anonymous token cannot be read as base64 credentials", () => {
        expect(ANONYMOUS_TOKEN).toMatch(/[^A-Za-z0-9+/=]/);
    });

    test("the realm lives under /v2/, so the same-origin UI (under /registry/) never takes it", () => {
        expect(TOKEN_PATH.startsWith("/v2/")).toBe(true);
        const text = renderCaddyfile({ ...base, uiUpstream: "127.0.0.1:8081" });
        expect(text).toContain("handle_path /registry/* {");
        expect(text).toContain("redir /registry /registry/ 308");
        expect(text).not.toMatch(/handle_path \/v2/);
    });

    test.each([
        ["GET/HEAD of a repository", "scopePull", "repository:{re.scopePull.1}:pull"],
        ["DELETE", "scopeDelete", "repository:{re.scopeDelete.1}:delete"],
        ["POST/PUT/PATCH", "scopePush", "repository:{re.scopePush.1}:pull,push"],
        ["the catalog", "scopeCatalog", "registry:catalog:*"],
    ])("a 401 of %s names its scope in the Bearer challenge", (_name, matcher, scope) => {
        const errors = block(renderCaddyfile(base), "handle_errors");
        expect(errors).toContain(
            `header @${matcher} WWW-Authenticate \`Bearer realm="https://registry.example.com/v2/token",service="dso-registry",scope="${scope}"\``,
        );
    });

    test("a 401 of the token endpoint carries a Basic challenge (a browser's login prompt); a credential-less request for more than pull gets it", () => {
        const text = renderCaddyfile(base);
        expect(block(text, "handle_errors")).toContain('header @tokenRefused WWW-Authenticate `Basic realm="dso-registry"`');
        const token = block(text, "route @token");
        expect(token.indexOf("error @beyondPull 401")).toBeGreaterThan(token.indexOf("respond @basicCredentials"));
        expect(token.indexOf("error @beyondPull 401")).toBeLessThan(token.indexOf("anonymous-read-only"));
    });
});

describe("renderCaddyfile read-only maintenance window", () => {
    test("no window without a signal", () => {
        expect(renderCaddyfile(base)).not.toContain("@maintenance");
    });

    test.each([
        [
            "a marker file",
            { kind: "file", path: "/etc/caddy/dso-registry/read-only" } as const,
            "try_files /etc/caddy/dso-registry/read-only",
        ],
        [
            "an environment variable",
            { kind: "env", name: "REGISTRY_STORAGE_MAINTENANCE_READONLY" } as const,
            'expression `{env.REGISTRY_STORAGE_MAINTENANCE_READONLY} != ""`',
        ],
    ])("writes only, signalled by %s", (_name, signal, test_) => {
        const text = renderCaddyfile({ ...base, readOnlySignals: [signal] });
        const name = `@maintenance-${signal.kind} {`;
        const matcher = text.slice(text.indexOf(name), text.indexOf("\n\t}", text.indexOf(name)));
        expect(matcher).toContain("not method GET HEAD");
        expect(matcher).toContain(test_);
    });

    test("a pusher's blob check (HEAD on a blob) gets the window's 503 too, under the same signal; GET stays open", () => {
        const text = renderCaddyfile({ ...base, readOnlySignals: [{ kind: "file", path: "/run/ro" }] });
        const name = "@maintenance-file-blob-check {";
        const matcher = text.slice(text.indexOf(name), text.indexOf("\n\t}", text.indexOf(name)));
        expect(matcher).toContain("\t\tmethod HEAD\n");
        expect(matcher).toContain("path_regexp ^/v2/.+/blobs/sha256:[0-9a-f]{64}$");
        expect(matcher).toContain("try_files /run/ro");
        expect(text.indexOf("route @maintenance-file-blob-check")).toBeLessThan(text.indexOf("basicauth @write"));
    });

    test("answers a write 503 with Retry-After and a registry error, after the push accounts' password check", () => {
        const text = renderCaddyfile({ ...base, readOnlySignals: [{ kind: "file", path: "/run/ro" }] });
        const at = text.indexOf("route @maintenance-file {");
        const route = text.slice(at, text.indexOf("\n\t\t}", at));
        expect(route).toContain(`Retry-After ${READ_ONLY_RETRY_AFTER_SECONDS}`);
        expect(route).toMatch(/"code":"UNAVAILABLE","message":"[^"]*read-only maintenance[^"]*retry[^"]*"/);
        expect(route).toMatch(/` 503$/m);
        expect(at).toBeGreaterThan(text.indexOf("basicauth @write"));
    });

    test("reads a write's body only after its credentials passed; the blob check's route reads none", () => {
        const text = renderCaddyfile({ ...base, readOnlySignals: [{ kind: "file", path: "/run/ro" }] });
        const check = text.indexOf("basicauth @write");
        for (const read of ["request_body {", "{http.request.body}"]) {
            expect(text.indexOf(read)).toBeGreaterThan(check);
            expect(text.indexOf(read)).toBe(text.lastIndexOf(read));
        }
        const blobCheck = text.slice(text.indexOf("route @maintenance-file-blob-check {"), check);
        expect(blobCheck).toMatch(/` 503$/m);
        expect(blobCheck).not.toContain("request_body");
    });

    test("with a file and a variable, either one opens the window: a 503 route for each, after the password check", () => {
        const text = renderCaddyfile({
            ...base,
            readOnlySignals: [
                { kind: "env", name: "REGISTRY_STORAGE_MAINTENANCE_READONLY" },
                { kind: "file", path: "/run/dso-registry/read-only" },
            ],
        });
        for (const kind of ["env", "file"]) {
            const at = text.indexOf(`route @maintenance-${kind} {`);
            expect(at).toBeGreaterThan(text.indexOf("basicauth @write"));
            expect(text.slice(at, text.indexOf("\n\t\t}", at))).toMatch(/` 503$/m);
            expect(text.indexOf(`route @maintenance-${kind}-blob-check {`)).toBeLessThan(text.indexOf("basicauth @write"));
        }
    });
});

describe("renderCaddyfile read-only window with several marker files", () => {
    const text = renderCaddyfile({
        ...base,
        maven: {
            pathPrefix: "maven-releases",
            upstream: "127.0.0.1:5002",
            deployUsersFile: "/etc/caddy/maven",
            requiresAuthForPull: false,
        },
        readOnlySignals: [
            { kind: "env", name: "REGISTRY_STORAGE_MAINTENANCE_READONLY" },
            { kind: "file", path: "/run/dso-registry/gc" },
            { kind: "file", path: "/run/dso-registry/read-only" },
        ],
    });

    test("one file matcher, open while any of the files exists", () => {
        expect(text.match(/^\t@maintenance-file \{$/gm)).toHaveLength(1);
        expect(text).toContain("\t\t\ttry_files /run/dso-registry/gc /run/dso-registry/read-only\n");
    });

    test("one 503 route per kind, for the registry and for Maven", () => {
        expect(text.match(/^\t\troute @maintenance-file \{$/gm)).toHaveLength(1);
        expect(text.match(/^\t\t\troute @maintenance-file \{$/gm)).toHaveLength(1);
        expect(text.match(/^\t\troute @maintenance-env \{$/gm)).toHaveLength(1);
    });

    test("Maven's 503 comes after the deploy account's password check, which alone gets its body read", () => {
        const maven = text.slice(text.indexOf("route @maven {"), text.indexOf("\n\t\t}", text.indexOf("route @maven {")));
        const check = maven.indexOf("basicauth @write");
        expect(check).toBeGreaterThan(-1);
        expect(maven.indexOf("route @maintenance-file {")).toBeGreaterThan(check);
        expect(maven.indexOf("request_body {")).toBeGreaterThan(check);
    });
});

describe("renderCaddyfile blob shortcut", () => {
    const withShortcut: AccessPolicy = {
        ...base,
        blobFiles: "/srv/data/registry",
        requiresAuthForPull: true,
        allowedNetworks: ["10.0.0.0/8"],
    };

    test("is absent unless blobFiles is set", () => {
        expect(renderCaddyfile(base)).not.toMatch(/@blob|file_server|try_files/);
    });

    test.each([
        ["the allowlist", "respond @outside"],
        ["the delete refusal", "respond @delete"],
        ["the write rule", "basicauth @write"],
        ["the ping challenge", "basicauth @ping"],
        ["the read rule", "basicauth @read"],
    ])("comes after %s", (_name, rule) => {
        const text = renderCaddyfile(withShortcut);
        expect(text.indexOf(rule)).toBeGreaterThan(0);
        expect(text.indexOf(rule)).toBeLessThan(text.indexOf("route @blob"));
    });

    test.each([
        ["without the UI", {}],
        ["with the UI", { uiUpstream: "127.0.0.1:8081" }],
    ])("comes before the proxy to Distribution %s", (_name, overrides) => {
        const text = renderCaddyfile({ ...withShortcut, ...overrides });
        expect(text.indexOf("route @blob")).toBeGreaterThan(0);
        expect(text.indexOf("route @blob")).toBeLessThan(text.indexOf("reverse_proxy 127.0.0.1:5000"));
    });

    test("is a route, not a handle, so a request it does not serve falls through to the proxy", () => {
        const text = renderCaddyfile({ ...withShortcut, uiUpstream: "127.0.0.1:8081" });
        expect(text).not.toMatch(/handle @(blob|linked|stored)/);
        expect(text).toMatch(/route @blob \{[\s\S]*route @linked \{[\s\S]*route @stored \{/);
    });

    test("only GET and HEAD take it", () => {
        const text = renderCaddyfile(withShortcut);
        const matcher = text.slice(text.indexOf("@blob {"), text.indexOf("}", text.indexOf("@blob {")));
        expect(matcher).toContain("method GET HEAD");
    });

    test("the files are looked up under Distribution's layout below blobFiles", () => {
        const text = renderCaddyfile(withShortcut);
        expect(text).toContain("root /srv/data/registry/docker/registry/v2/repositories");
        expect(text).toContain("try_files /{re.blob.1}/_layers/sha256/{re.blob.2}/link");
        // Served from the blob store only: nothing else of the storage (uploads) can be named.
        expect(text).toContain("root /srv/data/registry/docker/registry/v2/blobs");
        expect(text).not.toMatch(/root \/srv\/data\/registry\/docker\/registry\/v2$/m);
        expect(text).toContain("try_files /sha256/{re.blob.3}/{re.blob.2}/data");
        // Matched on the path as sent, not the cleaned one (path_regexp cleans `//` and `.` segments).
        expect(text).toContain("vars_regexp blob {http.request.uri.path} ^/v2/");
        expect(text).not.toContain("path_regexp blob");
    });

    test.each([
        ["Docker-Content-Digest", "sha256:{re.blob.2}"],
        ["Content-Type", "application/octet-stream"],
        ["Cache-Control", "max-age=31536000"],
    ])("sets %s as Distribution does", (header, value) => {
        expect(renderCaddyfile(withShortcut)).toContain(`${header} ${value}`);
    });
});

describe("renderCaddyfile mirrors", () => {
    const withMirrors: AccessPolicy = {
        ...base,
        requiresAuthForPull: true,
        blobFiles: "/srv/data/registry",
        mirrors: [
            { pathName: "docker.io", upstream: "127.0.0.1:5101" },
            { pathName: "registry.example.com-5000", upstream: "registry-mirror.dso.svc:5000" },
        ],
    };

    test("are absent without mirrors", () => {
        expect(renderCaddyfile(base)).not.toContain("/v2/mirrors/");
    });

    test.each([
        ["the write rule", "basicauth @write"],
        ["the ping challenge", "basicauth @ping"],
        ["the read rule", "basicauth @read"],
    ])("come after %s", (_name, rule) => {
        const text = renderCaddyfile(withMirrors);
        expect(text.indexOf(rule)).toBeGreaterThan(0);
        expect(text.indexOf(rule)).toBeLessThan(text.indexOf("route /v2/mirrors/* {"));
    });

    test("come before the blob shortcut and the registry", () => {
        const text = renderCaddyfile(withMirrors);
        expect(text.indexOf("route /v2/mirrors/* {")).toBeLessThan(text.indexOf("route @blob"));
        expect(text.lastIndexOf("route /v2/mirrors/")).toBeLessThan(text.indexOf("reverse_proxy 127.0.0.1:5000"));
    });

    test("refuse every method but GET and HEAD", () => {
        const text = renderCaddyfile(withMirrors);
        expect(text).toContain("@mirrorWrite not method GET HEAD");
        expect(text).toMatch(/respond @mirrorWrite "[^"]+" 405/);
    });

    test.each([
        ["docker.io", "127.0.0.1:5101"],
        ["registry.example.com-5000", "registry-mirror.dso.svc:5000"],
    ])("send /v2/mirrors/%s/ to its cache as /v2/", (pathName, upstream) => {
        const text = renderCaddyfile(withMirrors);
        const route = text.slice(text.indexOf(`route /v2/mirrors/${pathName}/* {`)).split("\n");
        expect(route.slice(0, 7).map((l) => l.trim())).toEqual([
            `route /v2/mirrors/${pathName}/* {`,
            `uri replace /v2/mirrors/${pathName}/ /v2/ 1`,
            "timeouts {",
            "read_timeout 60s",
            "}",
            `reverse_proxy ${upstream} {`,
            "header_up -Authorization",
        ]);
    });

    test("answer an unknown mirror with a registry 404", () => {
        expect(renderCaddyfile(withMirrors)).toContain('respond `\\{"errors":[\\{"code":"NAME_UNKNOWN"');
    });
});

describe("BLOB_PATH", () => {
    const hex = "0123456789abcdef".repeat(4);
    test.each([
        ["a one-part name", `/v2/app/blobs/sha256:${hex}`, ["app", hex, "01"]],
        ["a nested name with separators", `/v2/team-a/my_app.x/sub__b/blobs/sha256:${hex}`, ["team-a/my_app.x/sub__b", hex, "01"]],
    ])("matches %s", (_name, urlPath, groups) => {
        expect(new RegExp(BLOB_PATH).exec(urlPath)?.slice(1)).toEqual(groups);
    });

    test.each([
        ["a parent-directory component", `/v2/team/../x/blobs/sha256:${hex}`],
        ["a dot component", `/v2/./x/blobs/sha256:${hex}`],
        ["upper case in the name", `/v2/Team/x/blobs/sha256:${hex}`],
        ["upper-case hex", `/v2/x/blobs/sha256:${hex.toUpperCase()}`],
        ["a short digest", `/v2/x/blobs/sha256:${hex.slice(1)}`],
        ["another algorithm", `/v2/x/blobs/sha512:${hex}${hex}`],
        ["an upload", `/v2/x/blobs/uploads/${hex}`],
        ["a manifest", `/v2/x/manifests/sha256:${hex}`],
        ["a trailing slash", `/v2/x/blobs/sha256:${hex}/`],
    ])("does not match %s", (_name, urlPath) => {
        expect(new RegExp(BLOB_PATH).test(urlPath)).toBe(false);
    });
});

describe("renderCaddyfile login cost (unknown users checked against the decoy account)", () => {
    test.each(["ci-push", "ab", "a", "cluster-pull", "x.y_z-1"])(
        "the known-user pattern of %s matches its credentials and no other name's",
        (user) => {
            const known = new RegExp(`^(?:${base64PrefixPattern(`${user}:`)})`);
            for (const password of ["x", "xy", "xyz", "pässwörd", ":colon"]) {
                expect(known.test(Buffer.from(`${user}:${password}`).toString("base64"))).toBe(true);
            }
            for (const other of [`${user}x`, `x${user}`, user.slice(0, -1)]) {
                expect([other, known.test(Buffer.from(`${other}:secret`).toString("base64"))]).toEqual([other, false]);
            }
        },
    );

    /** Every password check of a Caddyfile: its route's lines, from `route …{` to its closing brace. */
    const checks = (text: string) => {
        const lines = text.split("\n");
        return lines.flatMap((line, i) => {
            if (!/^\t+basicauth /.test(line)) return [];
            const indent = /^\t*/.exec(line)![0].length - 1;
            let open = i;
            while (open > 0 && !lines[open]!.startsWith(`${"\t".repeat(indent)}route`)) open--;
            const close = lines.findIndex((l, j) => j > i && l === `${"\t".repeat(indent)}}`);
            return [lines.slice(open, close + 1)];
        });
    };
    /** The names a decoy matcher lets through (its `not header_regexp` of known names), decoded. */
    const heldBy = (text: string, matcher: string) => {
        const def =
            new RegExp(`\\t@${matcher} \\{\\n[^\\n]*\\n(?:\\t\\tnot header_regexp \\S+ Authorization \\S+\\n)?\\t\\}`).exec(text)?.[0] ??
            "";
        const known = /not header_regexp \S+ Authorization \^\(\?i:basic\)\\s\+\(\?:([^)]*)\)/.exec(def)?.[1];
        return { defined: def !== "", held: known === undefined ? [] : known.split("|") };
    };
    const NAMES = { push: ["ci-push"], pull: ["cluster-pull"], mavenDeploy: ["maven-deploy"] };
    const MAVEN = {
        pathPrefix: "maven-releases",
        upstream: "127.0.0.1:5002",
        deployUsersFile: "/etc/caddy/maven",
        requiresAuthForPull: false,
    };

    test.each([
        ["reads anonymous", { requiresAuthForPull: false }],
        ["reads need an account", { requiresAuthForPull: true }],
        ["Maven on the same origin, reads need an account", { maven: { ...MAVEN, requiresAuthForPull: true } }],
        ["caches for accounts", { mirrors: [{ pathName: "docker.io", upstream: "127.0.0.1:5010" }], mirrorsRequireAuth: true }],
    ] as const)("%s: every check hands any name its files do not hold to the decoy, holds the decoy, and refuses it", (_name, more) => {
        const bcryptHash = makeDecoyHash();
        const text = renderCaddyfile({ ...base, ...more, decoy: { accounts: NAMES, bcryptHash } });
        const files: Record<string, readonly string[]> = {
            [base.pushUsersFile]: NAMES.push,
            [base.pullUsersFile]: NAMES.pull,
            [MAVEN.deployUsersFile]: NAMES.mavenDeploy,
        };
        const found = checks(text);
        expect(found.length).toBeGreaterThanOrEqual(2);
        for (const check of found) {
            const rewrite = /^\t+request_header @(\S+) Authorization "Basic (\S+)\{re\.(\S+)\.1\}"$/.exec(check[1]!);
            expect(rewrite?.[2]).toBe(Buffer.from(`${DECOY_ACCOUNT}:`).toString("base64"));
            expect(rewrite?.[3]).toBe(rewrite?.[1]);
            const imported = check.flatMap((l) => /^\t+import (\S+)$/.exec(l)?.[1] ?? []);
            const { defined, held } = heldBy(text, rewrite![1]!);
            expect(defined).toBe(true);
            const expected = imported.flatMap((f) => files[f]!).map((u) => base64PrefixPattern(`${u}:`));
            expect([...held].sort()).toEqual([...expected].sort());
            expect(check).toContain(`${check[2]!.replace(/basicauth.*/, "")}\t${DECOY_ACCOUNT} ${bcryptHash}`);
            expect(check.at(-2)?.trim()).toBe("error @decoyAuthenticated 401");
        }
        expect(text).toContain(`@decoyAuthenticated vars_regexp {http.auth.user.id} ^${DECOY_ACCOUNT}$`);
        expect(renderCaddyfile(base)).not.toContain(DECOY_ACCOUNT);
    });

    test("the Maven deploy account that is the push account is listed once in a check that imports both files", () => {
        const accounts = { push: ["ci-push"], pull: ["cluster-pull"], mavenDeploy: ["ci-push"] };
        const text = renderCaddyfile({
            ...base,
            maven: { ...MAVEN, requiresAuthForPull: true },
            decoy: { accounts, bcryptHash: makeDecoyHash() },
        });
        const readers = checks(text).find((c) => c[0]!.includes("@mavenRead"))!;
        expect(readers.filter((l) => l.includes("import ")).map((l) => l.trim())).toEqual([
            `import ${base.pushUsersFile}`,
            `import ${base.pullUsersFile}`,
        ]);
        const deploy = checks(text).find((c) => c[0]!.includes("@write") && c.some((l) => l.includes(MAVEN.deployUsersFile)));
        expect(deploy).toBeDefined();
    });

    test("a name left in two users files of one check is refused with the files named", () => {
        const accounts = { push: ["ci-push", "other"], pull: ["cluster-pull"], mavenDeploy: ["ci-push", "maven-deploy"] };
        expect(() =>
            renderCaddyfile({ ...base, maven: { ...MAVEN, requiresAuthForPull: true }, decoy: { accounts, bcryptHash: makeDecoyHash() } }),
        ).toThrow(/account "ci-push" is in two users files of one password check/);
    });
});
