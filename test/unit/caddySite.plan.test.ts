/**
 * What the external host's Caddy site registers (`planCaddySite`, components/externalHost/caddySite.ts),
 * tested without a Pulumi runtime: which files go on the host for which args (the users files, a rotation's
 * overlap files, the TLS files, the Caddyfile), their names, modes and owners, the reload after them, the
 * read-back of each, and the fingerprint that reloads the front when a file changes. The constructor only
 * registers this description.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { scriptParameters } from "../../components/consequences/previewConsequences";
import { type CaddySiteArgs, planCaddySite } from "../../components/externalHost/caddySite";
import { defaultHostLayout, FRONT_CONTAINER, hostPaths } from "../../components/externalHost/scripts";
import { promiseOf } from "../../tools/mockRuntime";

const HASH = `$2b$10$${"N".repeat(53)}`;
const DECOY = `$2b$10$${"D".repeat(53)}`;
const layout = defaultHostLayout("/srv/registry");
const paths = hostPaths(layout);
const minimal: CaddySiteArgs = {
    connection: { kind: "local", name: "registry-host", sudo: true },
    image: "caddy:2.11.9",
    layout,
    registryHost: "registry.example.com",
    port: 443,
    tls: { kind: "acme", email: "ops@example.com" },
    pushAccounts: [{ username: "ci-push", bcryptHash: HASH }],
    pullAccounts: [{ username: "cluster-pull", bcryptHash: HASH }],
    requiresAuthForPull: false,
    allowedNetworks: [],
    deletesEnabled: false,
    blobFiles: true,
    upstream: `unix/${paths.registrySocket}`,
};
const maven = {
    pathPrefix: "maven-releases",
    requiresAuthForPull: false,
    deployAccount: { username: "maven-deploy", bcryptHash: HASH },
};
const filesTls = { kind: "files", certificatePem: "CERT", privateKeyPem: "KEY" } as const;
const rotating = [{ username: "ci-push", bcryptHash: HASH, previous: { bcryptHash: HASH, prefix: "o", until: 1_900_000_000 } }];

const plan = (args: CaddySiteArgs) => planCaddySite("caddy", args, pulumi.output(DECOY));
const roles = (args: CaddySiteArgs) => plan(args).files.map((f) => f.name.replace(/^caddy-/, ""));

describe("planCaddySite", () => {
    it("places the users files and the Caddyfile last, and nothing of TLS with ACME", () => {
        expect(roles(minimal)).toEqual(["users-push", "users-pull", "caddyfile"]);
    });

    it("adds the Maven deploy account's users file with Maven, and the TLS files with files TLS", () => {
        expect(roles({ ...minimal, maven, tls: filesTls })).toEqual([
            "users-push",
            "users-pull",
            "users-maven-deploy",
            "tls-cert",
            "tls-key",
            "caddyfile",
        ]);
    });

    it("adds the overlap file and each users file's previous passwords while an account has a previous password", () => {
        expect(roles({ ...minimal, pushAccounts: rotating })).toEqual([
            "users-push",
            "users-pull",
            "overlap",
            "users-push-previous",
            "users-pull-previous",
            "caddyfile",
        ]);
        expect(roles({ ...minimal, maven: { ...maven, deployAccount: rotating[0]! }, pushAccounts: rotating })).toContain(
            "users-maven-deploy-previous",
        );
    });

    it("makes every file with a credential root's, 0600 and secret; the certificate and the Caddyfile stay readable, the Caddyfile kept on destroy", () => {
        const files = plan({ ...minimal, maven, tls: filesTls, pushAccounts: rotating }).files;
        for (const f of files) {
            const readable = f.name === "caddy-tls-cert" || f.name === "caddy-caddyfile";
            expect([f.name, f.args.mode, f.args.secret ?? false, f.args.owner]).toEqual(
                readable ? [f.name, "0644", false, undefined] : [f.name, "0600", true, "root:root"],
            );
        }
        const caddyfile = files.find((f) => f.name === "caddy-caddyfile")!;
        expect(caddyfile.args).toMatchObject({ path: layout.caddyfile, retainOnDelete: true });
        expect(files.filter((f) => f.args.retainOnDelete)).toEqual([caddyfile]);
    });

    it("reads back every file it places, with its owner, and the front's container, repaired by the reload's own script", () => {
        const p = plan({ ...minimal, tls: filesTls });
        expect(p.filesCheck.name).toBe("caddy-files-check");
        expect(p.filesCheck.args.files.map((f) => [f.path, f.mode, f.owner])).toEqual(
            p.files.map((f) => [f.args.path, f.args.mode, f.args.owner]),
        );
        expect(p.filesCheck.args.containers).toEqual([FRONT_CONTAINER]);
        expect(p.filesCheck.args.afterRepair).toBe(p.reload.args.create);
    });

    it("names the reload after the site, and its delete takes the site out of the Caddyfile", () => {
        const { reload } = plan(minimal);
        expect(reload.name).toBe("caddy-reload");
        expect(reload.args.delete).toMatch(/^sudo /);
        expect(reload.args.delete).toContain(layout.caddyfile);
    });

    it("renders the Caddyfile with the decoy account's hash, importing the overlap file only during an overlap", async () => {
        const text = await promiseOf(plan(minimal).files.at(-1)!.args.content as pulumi.Output<string>);
        expect(text).toContain(DECOY);
        expect(text).not.toContain(paths.overlapMatchers);
        const overlapping = plan({ ...minimal, pushAccounts: rotating }).files.at(-1)!.args.content as pulumi.Output<string>;
        expect(await promiseOf(overlapping)).toContain(`import ${paths.overlapMatchers}`);
    });

    it("changes the fingerprint, and so the reload's script, when any file changes", async () => {
        const fingerprint = (args: CaddySiteArgs) => promiseOf(plan(args).filesFingerprint);
        const base = await fingerprint(minimal);
        const other = `$2b$10$${"M".repeat(53)}`;
        expect(await fingerprint(minimal)).toBe(base);
        expect(await fingerprint({ ...minimal, pullAccounts: [{ username: "cluster-pull", bcryptHash: other }] })).not.toBe(base);
        expect(await fingerprint({ ...minimal, tls: filesTls })).not.toBe(
            await fingerprint({ ...minimal, tls: { ...filesTls, privateKeyPem: "KEY2" } }),
        );
        expect(await fingerprint({ ...minimal, pushAccounts: rotating })).not.toBe(base);
        expect(await promiseOf(plan(minimal).reload.args.create as pulumi.Output<string>)).toContain(base);
    });
    it("makes the online collection's gate, a link to Distribution's socket, before the front takes a Caddyfile with the holds; none without them", async () => {
        const apply = async (args: CaddySiteArgs) =>
            scriptParameters(await promiseOf(plan(args).reload.args.create as pulumi.Output<string>));
        expect(await apply({ ...minimal, sweepHold: true })).toMatchObject({
            SWEEP_GATE: `${paths.sweepHold}/gate`,
            REGISTRY_SOCKET: paths.registrySocket,
        });
        expect((await apply(minimal)).SWEEP_GATE).toBe("");
        // The Caddyfile routes manifest PUTs through that same link.
        const text = await promiseOf(plan({ ...minimal, sweepHold: true }).files.at(-1)!.args.content as pulumi.Output<string>);
        expect(text).toContain(`reverse_proxy unix/${paths.sweepHold}/gate {`);
    });
});
