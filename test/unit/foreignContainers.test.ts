/**
 * The external host's scripts that remove or stop a container by its fixed name, as the mock hosts
 * render them (test/support/externalHostMocks.ts), run under sh with a docker stand-in in which a
 * container of that name exists that the stack did not make (no label dso-registry.spec): the restore
 * stops before any change and says how to go on, the Maven backend's delete keeps it and what goes with
 * it. The scripts the prod stack runs against a real Docker engine are covered there
 * (test/integration/externalRegistryHost.scripts.test.ts).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { MAVEN_CONTAINER, MAVEN_TMPFILES_ENTRY, mavenContainerDeleteScript } from "../../components/externalHost/mavenScripts";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { containersAnswer, foreignContainers, hostsUnderMocks } from "../support/externalHostMocks";

const { command, runStubbed } = hostsUnderMocks();

describe("a container of the stack's name that the stack did not make", () => {
    test("stops the restore before any change: nothing removed, run or restored", () => {
        const restore = String(command("registry-host-maintenance-restore-script-write").inputs.stdin);
        const { status, calls, stderr } = runStubbed(restore, ["docker", "restic"], {
            dockerAnswer: foreignContainers("dso-registry"),
            prepare: (root) => mkdirSync(path.join(root, "etc/dso-registry/backup"), { recursive: true }),
        });
        expect(status).not.toBe(0);
        expect(stderr).toContain("A container named dso-registry exists on this Docker host and this stack did not make it");
        expect(stderr).toContain("docker rename dso-registry <another name>");
        expect(calls.filter((c) => /^docker (rm|run|stop|start|exec) /.test(c))).toEqual([]);
        expect(calls.filter((c) => c.includes(" restore "))).toEqual([]);
    });

    test("is kept by the Maven backend's delete, with its socket directory and boot-time entry; the stack's own goes with them", () => {
        const layout = defaultHostLayout("/srv/data/registry");
        const deleteWith = (dockerAnswer: string) =>
            runStubbed(mavenContainerDeleteScript(layout), ["docker"], {
                dockerAnswer,
                prepare: (r) => {
                    mkdirSync(path.join(r, layout.mavenSocketDir), { recursive: true });
                    mkdirSync(path.dirname(path.join(r, MAVEN_TMPFILES_ENTRY)), { recursive: true });
                    writeFileSync(path.join(r, MAVEN_TMPFILES_ENTRY), "d /run/dso-registry-maven\n");
                },
            });
        const left = (root: string) => [layout.mavenSocketDir, MAVEN_TMPFILES_ENTRY].map((f) => existsSync(path.join(root, f)));

        const kept = deleteWith(foreignContainers(MAVEN_CONTAINER));
        expect(kept.status).toBe(0);
        expect(kept.stdout).toBe(
            `kept container ${MAVEN_CONTAINER}: this stack did not make it (it has no label dso-registry.spec); it is yours to remove\n`,
        );
        expect(kept.calls.filter((c) => c.startsWith("docker rm "))).toEqual([]);
        expect(left(kept.root)).toEqual([true, true]);

        // The stack's own, labelled, goes as before.
        const removed = deleteWith(containersAnswer({ [MAVEN_CONTAINER]: "maven-spec" }));
        expect(removed.status).toBe(0);
        expect(removed.calls).toContain(`docker rm -f ${MAVEN_CONTAINER}`);
        expect(removed.stdout).toBe(`removed container ${MAVEN_CONTAINER} and its socket\n`);
        expect(left(removed.root)).toEqual([false, false]);
    });
});
