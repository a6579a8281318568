/**
 * What brute force does to everyone else's pulls with the host's login limit on (fail2ban on the
 * front's access log, banning with nftables), with real Caddy, Distribution and fail2ban-server from
 * the rendered files inside a network namespace (test/support/loginLimitFront.ts):
 *
 *   the median time of an anonymous blob GET from one address, idle and while four loops of failed
 *   logins (GET /v2/token with a wrong password, kept-alive connections) run from another address;
 *   when the attacker was refused (its first failed connection) and how many guesses it made.
 *
 *   npx tsx bench/login-limit.ts [--max-retry 10] [--attack-seconds 20]
 */
import * as https from "node:https";
import { cpus, loadavg } from "node:os";
import { basic, frontRequest, pushBlob, startLoginLimitFront } from "../test/support/loginLimitFront";

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const MAX_RETRY = arg("max-retry", 10);
const ATTACK_SECONDS = arg("attack-seconds", 20);

const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
    console.log(
        `machine: ${cpus().length} CPUs, load average ${loadavg()
            .map((l) => l.toFixed(2))
            .join(" ")}`,
    );
    const front = await startLoginLimitFront({ maxRetry: MAX_RETRY, findTimeSeconds: 600, banTimeSeconds: 600 }, "198.19.144.0/20");
    try {
        const blob = await pushBlob(front, front.addresses.ci, 256 * 1024);
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        const pulls = async (until: number) => {
            const times: number[] = [];
            while (Date.now() < until) {
                const a = await frontRequest(front, front.addresses.puller, blob, { agent });
                if (a.status !== 200) throw new Error(`anonymous blob GET answered ${a.status} ${a.error ?? ""}`);
                times.push(a.ms);
                await new Promise((r) => setTimeout(r, 50));
            }
            return times;
        };
        const idle = await pulls(Date.now() + 5000);
        const start = Date.now();
        const stop = start + ATTACK_SECONDS * 1000;
        let guesses = 0;
        let answered401 = 0;
        let refusedAt: number | undefined;
        let refusedConnections = 0;
        const loop = async (n: number) => {
            const attacker = new https.Agent({ keepAlive: true, maxSockets: 1 });
            for (let i = 0; Date.now() < stop; i++) {
                const a = await frontRequest(front, front.addresses.attacker, "/v2/token?scope=repository:team/app:push,pull", {
                    agent: attacker,
                    authorization: basic(front.push.username, `guess-${n}-${i}`),
                    timeoutMs: 2000,
                });
                guesses++;
                if (a.status === 401) answered401++;
                if (a.error) {
                    refusedConnections++;
                    refusedAt ??= Date.now() - start;
                    await new Promise((r) => setTimeout(r, 100));
                }
            }
            attacker.destroy();
        };
        const [attacked] = await Promise.all([pulls(stop), loop(1), loop(2), loop(3), loop(4)]);
        agent.destroy();
        console.log(
            `anonymous blob GET (256 KiB): idle ${median(idle).toFixed(1)} ms, under 4 brute-force loops ${median(attacked).toFixed(1)} ms (medians of ${idle.length} and ${attacked.length}): ratio ${(median(attacked) / median(idle)).toFixed(2)}`,
        );
        console.log(
            `attacker (maxRetry ${MAX_RETRY}): ${guesses} attempts, ${answered401} password checks answered 401, refused ${refusedAt === undefined ? "never" : `after ${(refusedAt / 1000).toFixed(1)} s`}, then ${refusedConnections} attempts refused in ${ATTACK_SECONDS} s`,
        );
        console.log(front.jailStatus().trim());
    } finally {
        await front.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
