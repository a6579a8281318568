/**
 * What the throughput benches share: their numeric options, medians, curl, the upload of the bench blob
 * and the way a bench ends. Not a bench itself.
 */
import { readFileSync } from "node:fs";
import type { RealRegistry } from "../test/support/realRegistry";
import { runOk } from "../test/support/serverProcess";

/** The number after `--<name>` on the command line, or `fallback` when the option is not given. */
export function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/** The median (the upper middle one of an even count). */
export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Bytes per second as whole MiB/s. */
export const mib = (bytesPerSecond: number) => (bytesPerSecond / 1024 / 1024).toFixed(0);

/**
 * CPU time (user and system) the processes `pids` have used so far, in milliseconds, from /proc (the kernel's
 * clock ticks, 100 a second on Linux). A difference of two readings is what they spent on what ran between.
 */
export function cpuMs(pids: readonly number[]): number {
    let ticks = 0;
    for (const pid of pids) {
        // The fields after the command's name, which is in brackets and may hold spaces: utime and stime are the 12th and 13th.
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks * 10;
}

/** The CPUs curl runs on (`taskset -c`), when a bench pins the client apart from the servers (pinCpus). */
let clientCpus: string | undefined;

/** Runs curl (silent, failing on an HTTP error) with `input` on its stdin and returns its stdout. */
export function curl(args: readonly string[], input = ""): string {
    const line = ["-sS", "--fail", ...args];
    return (clientCpus ? runOk("taskset", ["-c", clientCpus, "curl", ...line], { input }) : runOk("curl", line, { input })).stdout;
}

/**
 * Puts the client on CPU 0 and every thread of the servers `pids` on the others, so that the client and the
 * servers no longer take turns on the same cores: what a server sees whose clients are other machines. With
 * two cores, the servers share the second one.
 */
export function pinCpus(pids: readonly number[], cpus: number): void {
    if (cpus < 2) throw new Error("pinning the client apart from the servers takes at least two CPUs");
    clientCpus = "0";
    for (const pid of pids) runOk("taskset", ["-a", "-p", "-c", `1-${cpus - 1}`, String(pid)]);
}

/**
 * Uploads `file` to the repository `bench/blob` of `reg` (POST, then PUT with `digest`), with the push
 * account or anonymously; the registry checks the digest.
 */
export function uploadBlob(reg: RealRegistry, file: string, digest: string, withAuth: boolean): void {
    const auth = withAuth ? `user = "${reg.push.username}:${reg.push.password}"\n` : "";
    const headers = curl(
        ["-K", "-", "--cacert", reg.ca.caCertFile, "-D", "-", "-o", "/dev/null", "-X", "POST", `${reg.url}/v2/bench/blob/blobs/uploads/`],
        auth,
    );
    const location = /^location:\s*(\S+)/im.exec(headers)?.[1];
    if (!location) throw new Error(`no upload location in:\n${headers}`);
    const target = `${location.startsWith("/") ? reg.url + location : location}${location.includes("?") ? "&" : "?"}digest=${digest}`;
    const put = ["-K", "-", "--cacert", reg.ca.caCertFile, "-o", "/dev/null", "-X", "PUT", "-H", "Content-Type: application/octet-stream"];
    curl([...put, "--data-binary", `@${file}`, target], auth);
}

/** Runs a bench's main and exits: 0 when it finished, 1 with the error's message when it failed. */
export function runBench(main: () => Promise<void>): void {
    main().then(
        () => process.exit(0),
        (error: unknown) => {
            console.error(error instanceof Error ? error.message : String(error));
            process.exit(1);
        },
    );
}
