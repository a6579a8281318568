/**
 * The transitions of docs/lifecycle.md (config A → config B of a committed stack, or A → destroy), and
 * their plans as test/support/plan.ts computes them from two runs of the program under the mock. The
 * unit tier checks each plan (test/unit/lifecycle.plan.test.ts); the engine tier compares the real
 * engine's preview with it (test/engine/plans.test.ts).
 */

import { diffCredential, type JenkinsCredentialState } from "../../components/jenkins/jenkinsCredentials";
import { BUMPED_REGISTRY_IMAGE } from "./distributionBinaries";
import { type Plan, planOf } from "./plan";
import { committedState, edited, type Raw, run, type Transition } from "./transitions";

export const local = committedState("local");
export const prod = committedState("prod");
const registryOf = (raw: Raw) => raw.registry as Raw & { mirrors: Raw[]; storage?: Raw; tls: Raw };
const nodesOf = (raw: Raw) => (raw.nodes as { list: Raw[] }).list;

/**
 * The local stack with named accounts: two push accounts (team-b's in its own namespace of the path)
 * and two read accounts, flux-reader's with a pull Secret in `default`. `change` edits the accounts.
 */
const withAccounts = (change: (cr: Raw & { pushAccounts: Raw[]; readAccounts: Raw[] }) => void = () => {}) =>
    edited(local, (r) => {
        const cr = r.containerRegistry as Raw & { pushAccounts: Raw[]; readAccounts: Raw[]; pathPrefix: string };
        cr.pushAccounts = [
            { name: "team-a-ci", prefixes: [`${cr.pathPrefix}/team-a/`] },
            { name: "team-b-ci", prefixes: [`${cr.pathPrefix}/team-b/`] },
        ];
        cr.readAccounts = [{ name: "dev-alice" }, { name: "flux-reader", pullSecret: { namespaces: ["default"] } }];
        change(cr);
    });
/** The prod stack with two push accounts and a read account; `change` edits them. */
const prodWithAccounts = (change: (cr: Raw & { pushAccounts: Raw[]; readAccounts: Raw[] }) => void = () => {}) =>
    edited(prod, (r) => {
        const cr = r.containerRegistry as Raw & { pushAccounts: Raw[]; readAccounts: Raw[]; pathPrefix: string };
        cr.pushAccounts = [
            { name: "team-a-ci", prefixes: [`${cr.pathPrefix}/team-a/`] },
            { name: "team-b-ci", prefixes: [`${cr.pathPrefix}/team-b/`] },
        ];
        cr.readAccounts = [{ name: "dev-alice" }];
        change(cr);
    });
/** The named-account transitions, each from `withAccounts()` (`prodWithAccounts()` on the external host): one account revoked or rotated, the others untouched. */
export const ACCOUNTS = {
    added: "push and read accounts added",
    pushRevoked: "a push account revoked",
    pushRotated: "a push account rotated alone",
    readRevoked: "a read account revoked",
    hostPushRevoked: "a push account revoked (external host)",
} as const;

/** The lifecycle transitions, each named as the table in docs/lifecycle.md names it. */
export const TRANSITIONS: Transition[] = [
    { name: "nothing changed (local)", stack: "local", from: local, to: local },
    { name: "nothing changed (prod)", stack: "prod", from: prod, to: prod },
    { name: "a mirror removed", stack: "prod", from: prod, to: edited(prod, (r) => registryOf(r).mirrors.shift()) },
    { name: "a mirror added", stack: "prod", from: prod, to: edited(prod, (r) => registryOf(r).mirrors.push({ upstream: "quay.io" })) },
    { name: "mirrors reordered", stack: "prod", from: prod, to: edited(prod, (r) => registryOf(r).mirrors.reverse()) },
    {
        name: "registry host renamed",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            (r.containerRegistry as Raw).host = "registry-02.dso.example.com";
        }),
    },
    {
        name: "registry host renamed (containerd nodes)",
        stack: "prod",
        from: edited(prod, (r) => {
            (r.nodes as Raw).runtime = "containerd";
        }),
        to: edited(prod, (r) => {
            (r.nodes as Raw).runtime = "containerd";
            (r.containerRegistry as Raw).host = "registry-02.dso.example.com";
        }),
    },
    {
        name: "storage filesystem → s3 (purge on)",
        stack: "prod",
        from: edited(prod, (r) => {
            (r.externalHost as Raw).purgeDataOnDestroy = true;
        }),
        to: edited(prod, (r) => {
            (r.externalHost as Raw).purgeDataOnDestroy = true;
            registryOf(r).storage = { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.example.com" } };
        }),
    },
    {
        name: "purge off → on",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            (r.externalHost as Raw).purgeDataOnDestroy = true;
        }),
    },
    {
        name: "purge on → off",
        stack: "prod",
        from: edited(prod, (r) => {
            (r.externalHost as Raw).purgeDataOnDestroy = true;
        }),
        to: prod,
    },
    {
        name: "inCluster.namespace renamed",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            (r.inCluster as Raw).namespace = "registry";
        }),
    },
    {
        name: "a node added",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            nodesOf(r).push({ ...nodesOf(r)[1]!, name: "k3s-agent-3", host: "10.20.0.23" });
        }),
    },
    { name: "a node removed", stack: "prod", from: prod, to: edited(prod, (r) => nodesOf(r).pop()) },
    {
        name: "a node's role changed",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            nodesOf(r)[2]!.role = "server";
        }),
    },
    {
        name: "rotation bumped",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            (r.containerRegistry as Raw).rotation = "2";
        }),
    },
    {
        // Its period keeper is as new as a bumped counter; a later period (the clock, not the config) is local.test.ts's.
        name: "rotation by age turned on",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            (r.containerRegistry as Raw).rotateAfterDays = 90;
        }),
    },
    {
        name: "Jenkins token rotated",
        stack: "prod",
        from: edited(prod, (_, s) => {
            s.jenkinsApiToken = "jenkins-token-1";
        }),
        to: edited(prod, (_, s) => {
            s.jenkinsApiToken = "jenkins-token-2";
        }),
    },
    { name: ACCOUNTS.added, stack: "local", from: local, to: withAccounts() },
    {
        name: ACCOUNTS.pushRevoked,
        stack: "local",
        from: withAccounts(),
        to: withAccounts((cr) => {
            cr.pushAccounts.shift();
        }),
    },
    {
        name: ACCOUNTS.pushRotated,
        stack: "local",
        from: withAccounts(),
        to: withAccounts((cr) => {
            cr.pushAccounts[1]!.rotation = "2";
        }),
    },
    {
        name: ACCOUNTS.readRevoked,
        stack: "local",
        from: withAccounts(),
        to: withAccounts((cr) => {
            cr.readAccounts.pop();
        }),
    },
    {
        // Rules in dry-run: the GC job's script, its pod-listing grant (ClusterRole and binding) and the registry's scripts;
        // with the local stack's monitoring, the registry Deployment too (the counts' emptyDir, the Caddyfile's checksum).
        name: "tag retention turned on (local)",
        stack: "local",
        from: edited(local, (r) => {
            registryOf(r).maintenance = { garbageCollection: { enabled: true } };
        }),
        to: edited(local, (r) => {
            const cr = r.containerRegistry as Raw & { pathPrefix: string };
            registryOf(r).maintenance = {
                garbageCollection: { enabled: true },
                retention: { rules: [{ prefix: `${cr.pathPrefix}/`, keepNewest: 10, keepDays: 30 }] },
            };
        }),
    },
    {
        name: "tag retention turned on (external host)",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            const cr = r.containerRegistry as Raw & { pathPrefix: string };
            const maintenance = (registryOf(r).maintenance ?? {}) as Raw;
            registryOf(r).maintenance = {
                ...maintenance,
                retention: { mode: "apply", rules: [{ prefix: `${cr.pathPrefix}/`, keepNewest: 10 }] },
            };
        }),
    },
    {
        name: ACCOUNTS.hostPushRevoked,
        stack: "prod",
        from: prodWithAccounts(),
        to: prodWithAccounts((cr) => {
            cr.pushAccounts.shift();
        }),
    },
    {
        name: "TLS generated-ca → provided",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            registryOf(r).tls = { mode: "provided" };
        }),
    },
    {
        name: "registry and Caddy images bumped",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            Object.assign(registryOf(r), { image: BUMPED_REGISTRY_IMAGE, caddyImage: "caddy:2.8.5" });
        }),
    },
    {
        name: "registry image bumped (external host)",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => Object.assign(registryOf(r), { image: BUMPED_REGISTRY_IMAGE })),
    },
    {
        // A stack made before registry:3 that never set registry.image, at its first up after the default moved.
        name: "registry upgraded from Distribution 2.8.3 (external host)",
        stack: "prod",
        from: edited(prod, (r) => Object.assign(registryOf(r), { image: "registry:2.8.3" })),
        to: prod,
    },
    {
        name: "login limit changed (external host)",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            registryOf(r).loginLimit = { maxRetry: 20, findTimeSeconds: 300, banTimeSeconds: 600, ignoreNetworks: ["10.0.0.0/8"] };
        }),
    },
    {
        name: "login limit turned off (external host)",
        stack: "prod",
        from: prod,
        to: edited(prod, (r) => {
            registryOf(r).loginLimit = { enabled: false };
        }),
    },
    {
        name: "login limit changed (in-cluster)",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            registryOf(r).loginLimit = { tokenRequestsPerMinute: 120 };
        }),
    },
    {
        // Without its delete button: turning that on changes the registry itself (it must accept DELETE).
        name: "UI turned on (local)",
        stack: "local",
        from: local,
        to: edited(local, (r) => {
            registryOf(r).ui = { enabled: true };
        }),
    },
    {
        name: "UI image bumped (local)",
        stack: "local",
        from: edited(local, (r) => {
            registryOf(r).ui = { enabled: true };
        }),
        to: edited(local, (r) => {
            registryOf(r).ui = { enabled: true, image: "joxit/docker-registry-ui:2.5.8" };
        }),
    },
    { name: "destroy (local)", stack: "local", from: local },
    { name: "destroy (prod, purge off)", stack: "prod", from: prod },
    {
        name: "destroy (prod, purge on)",
        stack: "prod",
        from: edited(prod, (r) => {
            (r.externalHost as Raw).purgeDataOnDestroy = true;
        }),
        purges: true,
    },
];

/** The program's dynamic providers' own diffs (the engine asks the provider). */
export const DYNAMIC_DIFFS = {
    "pulumi-nodejs:dynamic/jenkins:Credential": (olds: Record<string, unknown>, news: Record<string, unknown>) =>
        diffCredential(olds as unknown as JenkinsCredentialState, news as unknown as JenkinsCredentialState),
};

/** The plan of a transition, from the two program runs. */
export async function plan(t: Transition): Promise<{ plan: Plan; before: Awaited<ReturnType<typeof run>> }> {
    const before = await run(t.stack, t.from);
    const after = t.to ? await run(t.stack, t.to) : undefined;
    return { plan: planOf(before.resources, after?.resources, { dynamicDiff: DYNAMIC_DIFFS, ...t.options }), before };
}
