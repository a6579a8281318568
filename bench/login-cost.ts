/**
 * What a failed login costs the front, and what brute force does to everyone else's pulls, with real
 * Caddy and real Distribution from the rendered files (test/support/realRegistry.ts), on loopback:
 *
 *   1. the median time of a failed login (`GET /v2/` with Basic credentials, 401) for a known user
 *      with a wrong password and for an unknown user, and their ratio: with the front as rendered
 *      (names a check does not hold handed to the decoy account) and without the decoy
 *      (Caddy's own decoy hash, cost 14, the behaviour before);
 *   2. the median time of an anonymous blob GET, idle and while four loops of unknown-user logins
 *      run in parallel, and their ratio;
 *   3. first, on a front with every password check (reads, caches, Maven deploys and downloads), on
 *      Debian's Caddy and the pinned one: a failed login's median on every route for the push, pull
 *      and Maven deploy accounts and an unknown name, and the largest ratio between them.
 *
 * Every request runs over a kept-alive TLS connection, so a figure is the request, not a handshake.
 *
 *   npx tsx bench/login-cost.ts [--samples 40] [--attack-seconds 15]
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import { cpus, loadavg } from "node:os";
import * as path from "node:path";
import { renderCaddyfile } from "../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../components/accessPolicy/usersFile";
import { DEFAULT_IMAGES } from "../components/shared/defaults";
import { DEBIAN_CADDY_STAND_IN, pinnedCaddy } from "../test/support/caddyBinaries";
import { makeAccount, makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry } from "../test/support/realRegistry";
import { privateDir, removeDir } from "../test/support/serverProcess";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const SAMPLES = arg("samples", 40);
const ATTACK_SECONDS = arg("attack-seconds", 15);

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** One request on a kept-alive connection; resolves with [status, milliseconds]. */
function request(
    reg: RealRegistry,
    agent: https.Agent,
    urlPath: string,
    authorization?: string,
    method = "GET",
): Promise<[number, number]> {
    return new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const req = https.request(
            {
                host: "127.0.0.1",
                port: reg.caddyPort,
                path: urlPath,
                method,
                agent,
                ca: readFileSync(reg.ca.caCertFile),
                headers: authorization ? { Authorization: authorization } : {},
            },
            (res) => {
                res.on("data", () => {});
                res.on("end", () => resolve([res.statusCode ?? 0, Number(process.hrtime.bigint() - start) / 1e6]));
            },
        );
        req.on("error", reject);
        req.end();
    });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

async function failedLogins(reg: RealRegistry, label: string): Promise<number> {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const known: number[] = [];
    const unknown: number[] = [];
    // Warm up the connection.
    await request(reg, agent, "/v2/", basic(reg.push.username, "wrong"));
    for (let i = 0; i < SAMPLES; i++) {
        const [s1, t1] = await request(reg, agent, "/v2/", basic(reg.push.username, randomBytes(8).toString("hex")));
        const [s2, t2] = await request(reg, agent, "/v2/", basic(`nobody-${i}`, randomBytes(8).toString("hex")));
        if (s1 !== 401 || s2 !== 401) throw new Error(`expected 401, got ${s1} and ${s2}`);
        known.push(t1);
        unknown.push(t2);
    }
    agent.destroy();
    const ratio = median(unknown) / median(known);
    console.log(
        `${label}: failed login, known user ${median(known).toFixed(1)} ms, unknown user ${median(unknown).toFixed(1)} ms (median of ${SAMPLES}): ratio ${ratio.toFixed(2)}`,
    );
    return ratio;
}

/** The routes a password check guards, as a client reaches each: method and path. */
const ROUTES = [
    ["token endpoint", "GET", "/v2/token?scope=repository:team/app:push,pull"],
    ["ping", "GET", "/v2/"],
    ["push (write)", "POST", "/v2/team/app/blobs/uploads/"],
    ["read (requiresAuthForPull)", "GET", "/v2/team/app/manifests/1"],
    ["caches (mirrorPull accounts)", "GET", "/v2/mirrors/docker.io/library/app/manifests/1"],
    ["Maven deploy", "PUT", "/maven-releases/org/x/1/x-1.jar"],
    ["Maven download (requiresAuthForPull)", "GET", "/maven-releases/org/x/1/x-1.pom"],
] as const;

/**
 * A failed login's cost on every route, for each kind of name: the push account, the pull account, the
 * Maven deploy account (each with a wrong password) and a name nobody has. Every check holds the decoy
 * for the names it does not hold, so the medians of a route should be equal whatever the name.
 */
async function costByRoute(reg: RealRegistry, label: string): Promise<void> {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const names = [
        ["push account", reg.push.username],
        ["pull account", reg.pull.username],
        ["Maven deploy account", MAVEN_DEPLOY],
        ["unknown name", ""],
    ] as const;
    console.log(`${label}: failed login, median ms of ${SAMPLES} (${names.map(([n]) => n).join(" / ")}), max/min`);
    for (const [route, method, urlPath] of ROUTES) {
        const medians: number[] = [];
        for (const [, name] of names) {
            const times: number[] = [];
            await request(reg, agent, urlPath, basic(name || "nobody", "warm-up"), method);
            for (let i = 0; i < SAMPLES; i++) {
                const [status, ms] = await request(
                    reg,
                    agent,
                    urlPath,
                    basic(name || `nobody-${i}`, randomBytes(8).toString("hex")),
                    method,
                );
                if (status !== 401) throw new Error(`${route} with ${name || "an unknown name"}: expected 401, got ${status}`);
                times.push(ms);
            }
            medians.push(median(times));
        }
        console.log(
            `  ${route.padEnd(38)} ${medians.map((m) => m.toFixed(1).padStart(6)).join(" / ")}   ${(Math.max(...medians) / Math.min(...medians)).toFixed(2)}`,
        );
    }
    agent.destroy();
}

/** The Maven deploy account's name on the bench's fronts (a users file of its own, as the stacks place it). */
const MAVEN_DEPLOY = "maven-deploy";

/**
 * A front with every password check: reads need an account, the caches need one, and a Maven
 * repository on the same origin whose downloads need one (its backend is never reached: every request
 * here fails its check).
 */
async function everyCheck(caddyBinary: string): Promise<RealRegistry> {
    const usersDir = privateDir("login-cost-maven");
    const deployUsersFile = path.join(usersDir, "maven-deploy");
    writeFileSync(deployUsersFile, renderUsersFile("push", [makeAccount(MAVEN_DEPLOY)]));
    return startRealRegistry({
        caddyBinary,
        policy: { requiresAuthForPull: true, mirrorsRequireAuth: true },
        mirrorsToSelf: ["docker.io"],
        caddyfileFor: (p) =>
            renderCaddyfile({
                ...p,
                maven: { pathPrefix: "maven-releases", upstream: "127.0.0.1:9", deployUsersFile, requiresAuthForPull: true },
                ...(p.decoy ? { decoy: { ...p.decoy, accounts: { ...p.decoy.accounts, mavenDeploy: [MAVEN_DEPLOY] } } } : {}),
            }),
    });
}

async function pullsUnderAttack(reg: RealRegistry, blobPath: string): Promise<void> {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const pulls = async (until: number) => {
        const times: number[] = [];
        while (Date.now() < until) {
            const [status, ms] = await request(reg, agent, blobPath);
            if (status !== 200) throw new Error(`anonymous blob GET answered ${status}`);
            times.push(ms);
            await new Promise((r) => setTimeout(r, 50));
        }
        return times;
    };
    const idle = await pulls(Date.now() + 5000);
    let attempts = 0;
    let refused = 0;
    const stop = Date.now() + ATTACK_SECONDS * 1000;
    const loop = async (n: number) => {
        const attacker = new https.Agent({ keepAlive: true, maxSockets: 1 });
        while (Date.now() < stop) {
            const [status] = await request(reg, attacker, "/v2/", basic(`guess-${n}`, randomBytes(8).toString("hex")));
            attempts++;
            if (status === 429 || status === 403) refused++;
        }
        attacker.destroy();
    };
    const [attacked] = await Promise.all([pulls(stop), loop(1), loop(2), loop(3), loop(4)]);
    agent.destroy();
    console.log(
        `anonymous blob GET: idle ${median(idle).toFixed(1)} ms, under 4 brute-force loops ${median(attacked).toFixed(1)} ms (medians of ${idle.length} and ${attacked.length}): ratio ${(median(attacked) / median(idle)).toFixed(2)}; ${attempts} login attempts in ${ATTACK_SECONDS} s, ${refused} refused before the password check`,
    );
}

async function main(): Promise<void> {
    console.log(
        `machine: ${cpus().length} CPUs, load average ${loadavg()
            .map((l) => l.toFixed(2))
            .join(" ")}`,
    );
    const scratch = privateDir("login-cost");
    for (const [caddy, binary] of [
        ["Debian's Caddy 2.6.2", DEBIAN_CADDY_STAND_IN],
        [`pinned ${DEFAULT_IMAGES.caddy}`, pinnedCaddy()],
    ] as const) {
        const front = await everyCheck(binary);
        try {
            await costByRoute(front, `every route, ${caddy}`);
        } finally {
            await front.stop();
        }
    }
    const withDecoy = await startRealRegistry({ caddyBinary: DEBIAN_CADDY_STAND_IN });
    const withoutDecoy = await startRealRegistry({
        caddyBinary: DEBIAN_CADDY_STAND_IN,
        caddyfileFor: (p) => renderCaddyfile({ ...p, decoy: undefined }),
    });
    try {
        await failedLogins(withoutDecoy, "Caddy's own decoy (before)");
        await failedLogins(withDecoy, "the decoy account (as rendered)");
        const image = makeOciImage(path.join(scratch, "image"), 256 * 1024);
        const pushed = skopeoCopy(image.ref, `docker://${withDecoy.authority}/team/app:1`, {
            certDir: withDecoy.certDir,
            creds: withDecoy.push,
        });
        if (pushed.code !== 0) throw new Error(pushed.stderr);
        const index = JSON.parse(readFileSync(path.join(image.dir, "index.json"), "utf8"));
        const manifestDigest: string = index.manifests[0].digest;
        const manifest = JSON.parse(readFileSync(path.join(image.dir, "blobs", ...manifestDigest.split(":")), "utf8"));
        const blobPath = `/v2/team/app/blobs/${manifest.layers[0].digest}`;
        await pullsUnderAttack(withDecoy, blobPath);
    } finally {
        await withDecoy.stop();
        await withoutDecoy.stop();
        removeDir(scratch);
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
