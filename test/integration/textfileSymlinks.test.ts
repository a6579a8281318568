/**
 * The root jobs that write node_exporter's textfiles, against a local user who owns the directory above
 * theirs, as Debian's `prometheus` owns /var/lib/prometheus: on a test host (test/support/testHost.ts, its
 * /etc and /var overlays, so the user, the files and the victim are the test's own), that user moves the
 * textfile directory aside, puts one of theirs in its place and fills it with symbolic links to a file of
 * root's, named as the job's file and as every temporary name the job could pick by its process id. The
 * rendered probe (dso-registry-metrics) and job reporter (dso-registry-report) then run as root, as cron
 * runs them: root's file keeps its content and mode, and the job says why it wrote nothing.
 * Covers: components/upkeep/sh/textfile.sh.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probeScript, reporterScript } from "../../components/externalHost/hostMonitoring";
import { TEXTFILE_DIR } from "../../components/monitoring/jobMetrics";
import { startTestHost, type TestHost } from "../support/testHost";

const USER = "textfiles";
const PARENT = TEXTFILE_DIR.slice(0, TEXTFILE_DIR.lastIndexOf("/"));
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
