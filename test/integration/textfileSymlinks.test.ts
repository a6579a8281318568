/**
 * The root jobs that write node_exporter's textfiles, against a local user who owns the directory above
 * theirs, as Debian's `prometheus` owns /var/lib/prometheus: on a test host (test/support/testHost.ts, its
 * /etc and /var overlays, so the user, the files and the victim are the test's own), that user moves the
 * textfile directory aside, puts one of theirs in its place and fills it with symbolic links to a file of
 * root's, named as the job's file and as every temporary name the job could pick by its process id. The
 * rendered probe (dso-registry-metrics) and job reporter (dso-registry-report) then run as root, as cron
 * runs them: root's file keeps its content and mode, and the job says why it wrote nothing.
 *
 * The same user, faster than any check: a watcher of theirs (inotifywait) sees the job make its temporary
 * file in root's directory and at that moment moves the directory aside and puts one of theirs in its place,
 * holding links to root's file named as the job's file and as that temporary file; the probe, the reporter
 * and the disk guard (dso-registry-disk-guard) run round after round against it, and root's file keeps its
 * content and mode, nothing of root's lands in the user's directory, and the job's file is in the directory
 * it checked. And a loop of theirs that turns the directory's name, many times a millisecond, from root's
 * directory into a link to a directory of root's and back: the disk guard's removal of the Maven series
 * (on a host without Maven) never removes root's file of that name there.
 * Covers: components/upkeep/sh/textfile.sh, components/externalHost/sh/dso-registry-disk-guard.sh.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeScript, reporterScript } from "../../components/externalHost/hostMonitoring";
import { defaultHostLayout, diskGuardScript } from "../../components/externalHost/scripts";
import { TEXTFILE_DIR } from "../../components/monitoring/jobMetrics";
import { startTestHost, type TestHost } from "../support/testHost";

const USER = "textfiles";
const PARENT = TEXTFILE_DIR.slice(0, TEXTFILE_DIR.lastIndexOf("/"));
const BASE = TEXTFILE_DIR.slice(PARENT.length + 1);
const VICTIM = "/etc/dso-test-root-only";
const VICTIM_TEXT = "root's own\n";

let host: TestHost;

beforeAll(async () => {
    host = await startTestHost({ prefix: "tfsl", subnet: "198.19.32.0/20", hosts: ["textfiles.test"] });
    host.addUser(USER);
}, 60_000);

afterAll(async () => {
    await host?.destroy();
});

function asRoot(script: string, input?: string): { code: number; out: string } {
    const r = host.run("sh", ["-c", script], { input });
    return { code: r.code, out: `${r.stdout}${r.stderr}` };
}
function asUser(script: string): void {
    const r = host.run("runuser", ["-u", USER, "--", "sh", "-c", script]);
    expect(r.code, r.stderr).toBe(0);
}

/** The parent given to the user and a textfile directory of root's in it; a file of root's, 0600. */
function setUp(): void {
    const r = asRoot(
        [
            `rm -rf ${PARENT} && mkdir -p ${TEXTFILE_DIR} && chown ${USER} ${PARENT} && chown root:root ${TEXTFILE_DIR}`,
            `chmod 0755 ${TEXTFILE_DIR} && cat > ${VICTIM} && chmod 0600 ${VICTIM}`,
        ].join(" && "),
        VICTIM_TEXT,
    );
    expect(r.code, r.out).toBe(0);
}

/** The user's move: the directory aside, one of theirs in its place, links to root's file under `name` and every `.name.<pid>` of the next pids. */
function plantLinks(name: string): void {
    const last = Number(asRoot("cat /proc/sys/kernel/ns_last_pid").out.trim());
    asUser(
        [
            `mv ${TEXTFILE_DIR} ${TEXTFILE_DIR}.aside && mkdir ${TEXTFILE_DIR}`,
            `ln -s ${VICTIM} ${TEXTFILE_DIR}/${name}`,
            `i=${last}; while [ $i -lt ${last + 3000} ]; do ln -s ${VICTIM} ${TEXTFILE_DIR}/.${name}.$i; i=$((i + 1)); done`,
        ].join(" && "),
    );
}

function victimUntouched(): void {
    expect(asRoot(`stat -c '%a %U' ${VICTIM}`).out.trim()).toBe("600 root");
    expect(host.readFile(VICTIM)).toBe(VICTIM_TEXT);
}

describe("a local user who owns the textfile directory's parent", () => {
    it("cannot make the certificate probe write root's file: the probe refuses a directory that is not root's", () => {
        setUp();
        plantLinks("dso_registry_host.prom");
        const ran = asRoot(probeScript({ host: "registry.test", port: 1, certFile: "", dataDir: "" }));
        victimUntouched();
        expect(ran.code).not.toBe(0);
        expect(ran.out).toContain(`${TEXTFILE_DIR} belongs to uid`);
    });

    it("cannot make the job reporter write root's file", () => {
        setUp();
        plantLinks("dso_registry_gc.prom");
        const ran = asRoot(
            `cat > /root/dso-report && sh /root/dso-report gc '' true; s=$?; rm -f /root/dso-report; exit $s`,
            reporterScript(),
        );
        victimUntouched();
        expect(ran.code, "the job's own status").toBe(0);
        expect(ran.out).toContain("could not write");
    });

    it("with the directory root's, the probe writes its file there, 0644", () => {
        setUp();
        const ran = asRoot(probeScript({ host: "registry.test", port: 1, certFile: "", dataDir: "" }));
        expect(ran.code, ran.out).toBe(0);
        expect(asRoot(`stat -c '%a %U' ${TEXTFILE_DIR}/dso_registry_host.prom`).out.trim()).toBe("644 root");
        expect(host.readFile(`${TEXTFILE_DIR}/dso_registry_host.prom`)).toMatch(/^dso_registry_certificate_probe_success 0$/m);
    });
});

/** How many times each job runs against the user's watcher: the code before the fix lost nearly every round. */
const ROUNDS = 50;

/**
 * The user's watcher, one round (as the user, in the parent): a directory of theirs ready with a link to
 * root's file under the job's name; inotifywait waits for the first file made in root's directory (its
 * stderr, "Watches established", tells the round it may start the job), and perl, already running,
 * adds a link under that file's name and swaps the directories, two renames. Exits 0 once it swapped.
 * Arguments: parent, the directory's name, root's file, the job's file name, where inotifywait's stderr goes.
 */
const WATCHER = [
    'cd "$1" && mkdir trap && ln -s "$3" "trap/$4" || exit 2',
    'timeout 10 inotifywait -e create --format %f "$2" 2>"$5" |',
    `    perl -e 'my $n = <STDIN>; defined $n or exit 1; chomp $n; symlink($ARGV[1], "trap/$n") or exit 3; rename($ARGV[0], "aside") or exit 4; rename("trap", $ARGV[0]) or exit 5' "$2" "$3"`,
].join("\n");

/**
 * The rounds, as root: each one a fresh textfile directory of root's under the user's parent, root's
 * file as it was, the watcher started and ready, the job (JOB, a rendered script) run as cron runs it;
 * then one line: the job's status, the watcher's (0: it swapped), root's file (mode, owner, whether its
 * content is still root's), what in the user's directory is not the user's, and the job's file in the
 * directory the job checked (moved aside). Arguments: the job's file, the job's file name, rounds.
 */
const WRITE_ROUNDS = [
    "set -u",
    "job=$1 name=$2 rounds=$3 err=/home/$USER_NAME/watch.err i=0",
    'while [ "$i" -lt "$rounds" ]; do',
    "    i=$((i + 1))",
    '    rm -rf "$PARENT" && mkdir -p "$PARENT/$BASE" && chown "$USER_NAME" "$PARENT" && chmod 0755 "$PARENT/$BASE" || exit 1',
    '    cp /root/victim.expected "$VICTIM" && chmod 0600 "$VICTIM" && rm -f "$err" || exit 1',
    '    setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups sh -c "$WATCHER" watcher "$PARENT" "$BASE" "$VICTIM" "$name" "$err" &',
    "    watcher=$! tries=0",
    "    until grep -q 'Watches established' \"$err\" 2>/dev/null; do",
    "        tries=$((tries + 1))",
    '        if [ "$tries" -gt 1000 ]; then echo "round $i: the watcher did not start" >&2; kill "$watcher"; exit 1; fi',
    "        sleep 0.01",
    "    done",
    '    sh "$job" >/dev/null 2>&1',
    "    code=$?",
    '    wait "$watcher"',
    "    swapped=$?",
    '    same=changed; cmp -s /root/victim.expected "$VICTIM" && same=same',
    '    planted=$(find "$PARENT/$BASE" -mindepth 1 ! -user "$USER_NAME" | wc -l)',
    '    written=$(stat -c %a:%U "$PARENT/aside/$name" 2>/dev/null || echo none)',
    '    echo "round=$i code=$code swapped=$swapped victim=$(stat -c %a:%U "$VICTIM"):$same planted=$planted written=$written"',
    "done",
].join("\n");

/**
 * The removal's rounds, as root: a loop of the user's turns the directory's name, in four renames, into
 * root's directory, nothing, a link to VICTIM's directory (root's), nothing, over and over, while the
 * job runs round after round; a line for each: the job's status and whether root's file is still there
 * (put back when it is not). The loop is stopped (its PID) at the end, and on its own after two minutes.
 * Then, the directory root's again and holding the series, one more run: a last line with the loop's status
 * when it was stopped, that run's, and whether the series is left. Arguments: the job's file, rounds.
 */
const REMOVE_ROUNDS = [
    "set -u",
    "job=$1 rounds=$2 i=0",
    'rm -rf "$PARENT" && mkdir -p "$PARENT/$BASE" && chown "$USER_NAME" "$PARENT" && chmod 0755 "$PARENT/$BASE" || exit 1',
    'cp /root/victim.expected "$VICTIM" && chmod 0600 "$VICTIM" || exit 1',
    'setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups perl -e \'',
    '    chdir $ARGV[0] or exit 2; symlink($ARGV[1], "link") or exit 3; my $end = time + 120;',
    '    for (my $i = 0; $i % 4096 || time < $end; $i++) { rename($ARGV[2], "real"); rename("link", $ARGV[2]); rename($ARGV[2], "link"); rename("real", $ARGV[2]) }',
    '\' "$PARENT" "$(dirname "$VICTIM")" "$BASE" &',
    "loop=$!",
    "trap 'kill \"$loop\" 2>/dev/null' EXIT",
    'while [ "$i" -lt "$rounds" ]; do',
    "    i=$((i + 1))",
    '    sh "$job" >/dev/null 2>&1',
    "    code=$?",
    '    if [ -e "$VICTIM" ]; then kept=kept; else kept=removed; cp /root/victim.expected "$VICTIM" && chmod 0600 "$VICTIM"; fi',
    '    echo "round=$i code=$code victim=$kept"',
    "done",
    'kill "$loop" && wait "$loop"',
    "loop=$?",
    'rm -rf "$PARENT" && mkdir -p "$PARENT/$BASE" && chown "$USER_NAME" "$PARENT" && : >"$PARENT/$BASE/${VICTIM##*/}" || exit 1',
    'sh "$job" >/dev/null 2>&1',
    "code=$?",
    'stale=left; [ -e "$PARENT/$BASE/${VICTIM##*/}" ] || stale=removed',
    'echo "loop=$loop code=$code stale=$stale"',
].join("\n");

type Round = Record<string, string>;

/** Runs ROUNDS (a script above) with `args` as root on the host; its lines, each as its key=value pairs. */
function rounds(script: string, args: readonly string[], env: Record<string, string>): { rounds: Round[]; last: Round } {
    const r = host.run("sh", ["-c", script, "rounds", ...args], {
        env: { ...process.env, PARENT, BASE, USER_NAME: USER, WATCHER, ...env },
    });
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    const lines = r.stdout
        .trim()
        .split("\n")
        .map((line) => Object.fromEntries(line.split(" ").map((pair) => pair.split("=") as [string, string])));
    return { rounds: lines.filter((l) => l.round !== undefined), last: lines[lines.length - 1] as Round };
}

describe("a local user who swaps the textfile directory the moment root writes in it", () => {
    const jobs = [
        {
            job: "the certificate probe",
            name: "dso_registry_host.prom",
            script: () => probeScript({ host: "registry.test", port: 1, certFile: "", dataDir: "" }),
            args: [] as string[],
            statuses: ["0"],
        },
        {
            job: "the job reporter",
            name: "dso_registry_gc.prom",
            script: () => reporterScript(),
            args: ["gc", "", "true"],
            statuses: ["0"],
        },
        {
            job: "the disk guard",
            name: "dso_registry_disk_guard.prom",
            // The data directory: /var's file system on the test host, far from full.
            script: () => diskGuardScript(defaultHostLayout("/var/lib"), { refusePercent: 100 }, TEXTFILE_DIR),
            args: [] as string[],
            // After its write, the guard removes the Maven series (no Maven here): by then the user's directory
            // is usually in the path's place, which it refuses, and says so in its status.
            statuses: ["0", "1"],
        },
    ];

    it.each(jobs)(
        `gets nothing of root's from $job in ${ROUNDS} rounds: the job writes in the directory it checked`,
        ({ name, script, args, statuses }) => {
            const job = "/root/dso-race-job";
            const wrapper = `${job}-run`;
            let ran: Round[];
            try {
                expect(asRoot(`cat > ${job}`, script()).code).toBe(0);
                expect(asRoot(`cat > ${wrapper}`, `exec sh ${job} ${args.map((a) => `'${a}'`).join(" ")}\n`).code).toBe(0);
                expect(asRoot(`cat > /root/victim.expected`, VICTIM_TEXT).code).toBe(0);
                ran = rounds(WRITE_ROUNDS, [wrapper, name, String(ROUNDS)], { VICTIM }).rounds;
            } finally {
                asRoot(`rm -f ${job} ${wrapper} /root/victim.expected`);
            }
            expect(ran).toHaveLength(ROUNDS);
            // Every round raced: the watcher saw the job's temporary file and swapped the directories.
            expect(ran.filter((r) => r.swapped !== "0").map((r) => `round ${r.round}: the watcher exited ${r.swapped}`)).toEqual([]);
            const lost = ran.filter((r) => r.victim !== "600:root:same" || r.planted !== "0");
            expect(
                lost.map((r) => `round ${r.round}: root's file ${r.victim}, ${r.planted} of root's in the user's directory`),
                `root lost ${lost.length} of ${ROUNDS} rounds`,
            ).toEqual([]);
            // And the job did its work: its file, root's and 0644, in the directory it checked, moved aside.
            expect(
                ran
                    .filter((r) => !statuses.includes(r.code as string) || r.written !== "644:root")
                    .map((r) => `round ${r.round}: exit ${r.code}, ${r.written}`),
            ).toEqual([]);
            victimUntouched();
        },
    );

    it(`cannot turn the disk guard's removal of the Maven series onto a file of root's elsewhere in ${ROUNDS * 2} runs`, () => {
        const job = "/root/dso-race-guard";
        const victimDir = "/etc/dso-test-victims";
        const victim = `${victimDir}/dso_registry_maven_disk_guard.prom`;
        // Neither disk: the guard's one step is the removal of the Maven series from the textfile directory.
        const guard = diskGuardScript(defaultHostLayout("/var/lib"), { refusePercent: 100 }, TEXTFILE_DIR, { data: false, maven: false });
        let ran: Round[];
        let last: Round;
        try {
            expect(asRoot(`mkdir -p ${victimDir} && cat > ${job}`, guard).code).toBe(0);
            expect(asRoot(`cat > /root/victim.expected`, VICTIM_TEXT).code).toBe(0);
            ({ rounds: ran, last } = rounds(REMOVE_ROUNDS, [job, String(ROUNDS * 2)], { VICTIM: victim }));
        } finally {
            asRoot(`rm -rf ${job} ${victimDir} /root/victim.expected`);
        }
        expect(ran).toHaveLength(ROUNDS * 2);
        // The loop was still turning the name when it was stopped (SIGTERM): it had not failed or ended early.
        expect(last.loop, "the user's loop ran to the end of the rounds").toBe("143");
        // The guard either removed the series in root's directory or refused what it found in the path's place.
        expect(ran.filter((r) => r.code !== "0" && r.code !== "1").map((r) => `round ${r.round}: exit ${r.code}`)).toEqual([]);
        const lost = ran.filter((r) => r.victim !== "kept");
        expect(
            lost.map((r) => `round ${r.round}: root's ${victim} removed`),
            `root lost ${lost.length} of ${ROUNDS * 2} rounds`,
        ).toEqual([]);
        // With the directory root's again, the same guard removes the series there.
        expect(last).toMatchObject({ code: "0", stale: "removed" });
    });
});
