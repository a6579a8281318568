/**
 * The transitions of docs/lifecycle.md (config A → config B of a committed stack, or A → destroy), and
 * their plans as test/support/plan.ts computes them from two runs of the program under the mock. The
 * unit tier checks each plan (test/unit/lifecycle.plan.test.ts); the engine tier compares the real
 * engine's preview with it (test/engine/plans.test.ts).
 */

import { diffCredential, type JenkinsCredentialState } from "../../components/jenkins/jenkinsCredentials";
import { BUMPED_REGISTRY_IMAGE } from "./distributionBinaries";
import { type Plan, planOf } from "./plan";
import { committedState, edited, type Raw, run, type StackState, type Transition } from "./transitions";

export const local = committedState("local");
export const prod = committedState("prod");
const registryOf = (raw: Raw) => raw.registry as Raw & { mirrors: Raw[]; storage?: Raw; tls: Raw };
const nodesOf = (raw: Raw) => (raw.nodes as { list: Raw[] }).list;
/** The prod stack with purgeDataOnDestroy on. */
const prodPurging = edited(prod, (r) => {
    (r.externalHost as Raw).purgeDataOnDestroy = true;
});

/** A transition from `from` (the committed stack unless given) to the same config with `edit` applied. */
function changed(name: string, stack: Transition["stack"], edit: Parameters<typeof edited>[1], from = { local, prod }[stack]): Transition {
    return { name, stack, from, to: edited(from, edit) };
}

type Accounts = Raw & { pushAccounts: Raw[]; readAccounts: Raw[] };
/**
 * A stack with two push accounts (team-b's in its own namespace of the path) and the given read accounts;
 * `change` edits the accounts.
 */
const accountsOn =
    (state: StackState, readAccounts: readonly Raw[]) =>
    (change: (cr: Accounts) => void = () => {}) =>
        edited(state, (r) => {
            const cr = r.containerRegistry as Accounts & { pathPrefix: string };
            cr.pushAccounts = [
                { name: "team-a-ci", prefixes: [`${cr.pathPrefix}/team-a/`] },
                { name: "team-b-ci", prefixes: [`${cr.pathPrefix}/team-b/`] },
            ];
            cr.readAccounts = structuredClone([...readAccounts]);
            change(cr);
        });
/** The local stack with named accounts: the two push accounts and two read accounts, flux-reader's with a pull Secret in `default`. */
const withAccounts = accountsOn(local, [{ name: "dev-alice" }, { name: "flux-reader", pullSecret: { namespaces: ["default"] } }]);
/** The prod stack with the two push accounts and a read account. */
const prodWithAccounts = accountsOn(prod, [{ name: "dev-alice" }]);
/** A transition from a stack with named accounts (`withAccounts` or `prodWithAccounts`) to the same with `change` applied to them. */
const accountsChanged = (
    name: string,
    stack: Transition["stack"],
    accounts: typeof withAccounts,
    change: (cr: Accounts) => void,
): Transition => ({
    name,
    stack,
    from: accounts(),
    to: accounts(change),
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
    changed("a mirror removed", "prod", (r) => registryOf(r).mirrors.shift()),
    changed("a mirror added", "prod", (r) => registryOf(r).mirrors.push({ upstream: "quay.io" })),
    changed("mirrors reordered", "prod", (r) => registryOf(r).mirrors.reverse()),
    changed("registry host renamed", "prod", (r) => {
        (r.containerRegistry as Raw).host = "registry-02.dso.example.com";
    }),
    changed(
        "registry host renamed (containerd nodes)",
        "prod",
        (r) => {
            (r.containerRegistry as Raw).host = "registry-02.dso.example.com";
        },
        edited(prod, (r) => {
            (r.nodes as Raw).runtime = "containerd";
        }),
    ),
    changed(
        "storage filesystem → s3 (purge on)",
        "prod",
        (r) => {
            registryOf(r).storage = { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.example.com" } };
        },
        prodPurging,
    ),
    changed("purge off → on", "prod", (r) => {
        (r.externalHost as Raw).purgeDataOnDestroy = true;
    }),
    { name: "purge on → off", stack: "prod", from: prodPurging, to: prod },
    changed("inCluster.namespace renamed", "local", (r) => {
        (r.inCluster as Raw).namespace = "registry";
    }),
    changed("a node added", "prod", (r) => {
        nodesOf(r).push({ ...nodesOf(r)[1]!, name: "k3s-agent-3", host: "10.20.0.23" });
    }),
    changed("a node removed", "prod", (r) => nodesOf(r).pop()),
    changed("a node's role changed", "prod", (r) => {
        nodesOf(r)[2]!.role = "server";
    }),
    changed("rotation bumped", "local", (r) => {
        (r.containerRegistry as Raw).rotation = "2";
    }),
    // Its period keeper is as new as a bumped counter; a later period (the clock, not the config) is local.test.ts's.
    changed("rotation by age turned on", "local", (r) => {
        (r.containerRegistry as Raw).rotateAfterDays = 90;
    }),
    changed(
        "Jenkins token rotated",
        "prod",
        (_, s) => {
            s.jenkinsApiToken = "jenkins-token-2";
        },
        edited(prod, (_, s) => {
            s.jenkinsApiToken = "jenkins-token-1";
        }),
    ),
    { name: ACCOUNTS.added, stack: "local", from: local, to: withAccounts() },
    accountsChanged(ACCOUNTS.pushRevoked, "local", withAccounts, (cr) => {
        cr.pushAccounts.shift();
    }),
    accountsChanged(ACCOUNTS.pushRotated, "local", withAccounts, (cr) => {
        cr.pushAccounts[1]!.rotation = "2";
    }),
    accountsChanged(ACCOUNTS.readRevoked, "local", withAccounts, (cr) => {
        cr.readAccounts.pop();
    }),
    // Rules in dry-run: the GC job's script, its pod-listing grant (ClusterRole and binding) and the registry's scripts;
    // with the local stack's monitoring, the registry Deployment too (the counts' emptyDir, the Caddyfile's checksum).
    changed(
        "tag retention turned on (local)",
        "local",
        (r) => {
            const cr = r.containerRegistry as Raw & { pathPrefix: string };
            registryOf(r).maintenance = {
                garbageCollection: { enabled: true },
                retention: { rules: [{ prefix: `${cr.pathPrefix}/`, keepNewest: 10, keepDays: 30 }] },
            };
        },
        edited(local, (r) => {
            registryOf(r).maintenance = { garbageCollection: { enabled: true } };
        }),
    ),
    changed("tag retention turned on (external host)", "prod", (r) => {
        const cr = r.containerRegistry as Raw & { pathPrefix: string };
        const maintenance = (registryOf(r).maintenance ?? {}) as Raw;
        registryOf(r).maintenance = {
            ...maintenance,
            retention: { mode: "apply", rules: [{ prefix: `${cr.pathPrefix}/`, keepNewest: 10 }] },
        };
    }),
    accountsChanged(ACCOUNTS.hostPushRevoked, "prod", prodWithAccounts, (cr) => {
        cr.pushAccounts.shift();
    }),
    changed("TLS generated-ca → provided", "local", (r) => {
        registryOf(r).tls = { mode: "provided" };
    }),
    changed("registry and Caddy images bumped", "local", (r) => {
        Object.assign(registryOf(r), { image: BUMPED_REGISTRY_IMAGE, caddyImage: "caddy:2.8.5" });
    }),
    changed("registry image bumped (external host)", "prod", (r) => Object.assign(registryOf(r), { image: BUMPED_REGISTRY_IMAGE })),
    {
        // A stack made before registry:3 that never set registry.image, at its first up after the default moved.
        name: "registry upgraded from Distribution 2.8.3 (external host)",
        stack: "prod",
        from: edited(prod, (r) => Object.assign(registryOf(r), { image: "registry:2.8.3" })),
        to: prod,
    },
    changed("login limit changed (external host)", "prod", (r) => {
        registryOf(r).loginLimit = { maxRetry: 20, findTimeSeconds: 300, banTimeSeconds: 600, ignoreNetworks: ["10.0.0.0/8"] };
    }),
    changed("login limit turned off (external host)", "prod", (r) => {
        registryOf(r).loginLimit = { enabled: false };
    }),
    changed("login limit changed (in-cluster)", "local", (r) => {
        registryOf(r).loginLimit = { ...(registryOf(r).loginLimit as Raw), tokenRequestsPerMinute: 120 };
    }),
    // Without its delete button: turning that on changes the registry itself (it must accept DELETE).
    changed("UI turned on (local)", "local", (r) => {
        registryOf(r).ui = { enabled: true };
    }),
    changed(
        "UI image bumped (local)",
        "local",
        (r) => {
            registryOf(r).ui = { enabled: true, image: "joxit/docker-registry-ui:2.5.8" };
        },
        edited(local, (r) => {
            registryOf(r).ui = { enabled: true };
        }),
    ),
    { name: "destroy (local)", stack: "local", from: local },
    { name: "destroy (prod, purge off)", stack: "prod", from: prod },
    { name: "destroy (prod, purge on)", stack: "prod", from: prodPurging, purges: true },
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
