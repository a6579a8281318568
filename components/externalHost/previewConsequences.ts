/**
 * What a preview of the external host's changes disrupts, for the consequences summary
 * (tools/previewConsequences.ts, docs/preview-consequences.md): the registry's container, the front (Caddy),
 * the Maven repository's and the web UI's containers, the login limit (fail2ban), the data directories and
 * the purge marker, each picked out by the type tokens and step names this folder's components export. The
 * pull-through caches on the host are their own component's (components/mirrors/previewConsequences.ts).
 */
import {
    COMMANDS,
    changeAt,
    child,
    containerChange,
    DATA,
    either,
    is,
    may,
    paramChange,
    pulledDaysFindings,
    type Rule,
    retentionPulledDays,
    scriptParameters,
    type Target,
    UNKNOWN,
    UNMEASURED_OUTAGE,
} from "../consequences/previewConsequences";
import { containerRunStepName, dataDirStepName, HOST_FILE_TYPE } from "../shared/hostAccess";
import { CADDY_SITE_TYPE, caddyApplyStepName } from "./caddySite";
import { HOST_PACKAGES_TYPE } from "./hostPackages";
import { HOST_LOGIN_LIMIT_TYPE } from "./loginLimit";
import { MAVEN_CONTAINER_TYPE } from "./mavenContainer";
import { PURGE_ON_DESTROY_TYPE, purgeMarkerStepName } from "./purgeOnDestroy";
import { REGISTRY_CONTAINER_TYPE } from "./registryContainer";
import { UI_CONTAINER_TYPE } from "./uiContainer";
import { GC_SCRIPT_ROLE, RETENTION_SCRIPT_ROLE } from "./upkeep";

/** The resources the external host's rules read. */
export const EXTERNAL_HOST_TARGETS = {
    hostRegistry: { types: COMMANDS, parentType: REGISTRY_CONTAINER_TYPE, named: child(containerRunStepName) },
    hostFront: { types: COMMANDS, parentType: CADDY_SITE_TYPE, named: child(caddyApplyStepName) },
    hostMaven: { types: COMMANDS, parentType: MAVEN_CONTAINER_TYPE, named: child(containerRunStepName) },
    hostUi: { types: COMMANDS, parentType: UI_CONTAINER_TYPE, named: child(containerRunStepName) },
    hostLoginLimit: { types: COMMANDS, parentType: HOST_LOGIN_LIMIT_TYPE },
    hostRegistryData: { types: COMMANDS, parentType: HOST_PACKAGES_TYPE, named: child(dataDirStepName) },
    hostMavenData: { types: COMMANDS, parentType: MAVEN_CONTAINER_TYPE, named: child(dataDirStepName) },
    hostPurgeMarker: { types: COMMANDS, parentType: PURGE_ON_DESTROY_TYPE, named: child(purgeMarkerStepName) },
    /** The write of tag retention's script (its rules are its RULES parameter). */
    hostRetention: {
        types: COMMANDS,
        parentType: HOST_FILE_TYPE,
        named: (r) => r.parentName.endsWith(`-${RETENTION_SCRIPT_ROLE}`) && r.name === `${r.parentName}-write`,
    },
    /** The write of the garbage-collection script (its mode is its GC_MODE parameter). */
    hostGc: {
        types: COMMANDS,
        parentType: HOST_FILE_TYPE,
        named: (r) => r.parentName.endsWith(`-${GC_SCRIPT_ROLE}`) && r.name === `${r.parentName}-write`,
    },
} as const satisfies Record<string, Target>;

/** Distribution on the external host. */
const hostRegistry: Rule = (c) => {
    if (!is(c, EXTERNAL_HOST_TARGETS.hostRegistry)) return [];
    if (c.op === "create") return [];
    if (c.op === "delete")
        return [
            {
                kind: "registry",
                text: "the registry container on the external host is removed (its data stays): the registry stops answering",
                disrupts: UNMEASURED_OUTAGE,
            },
        ];
    const how = c.op === "replace" ? "yes" : either(paramChange(c, /^REGISTRY_(FINGERPRINT|IMAGE)$/), changeAt(c, "stdin"));
    if (how === "no") return [];
    return [
        {
            kind: "registry",
            text: `the registry container on the external host ${may(how, "is recreated", "be recreated")}: pulls and pushes fail from its stop until the new container answers (not measured); pushes under way fail, and retrying the push lands it`,
            disrupts: UNMEASURED_OUTAGE,
        },
    ];
};

/**
 * The external host's front: a reload of the pinned Caddy lets uploads in flight finish; a new image (or
 * the move from the distribution's caddy service) makes the front anew, and the port closes while it starts.
 */
const hostCaddy: Rule = (c) => {
    if (!is(c, EXTERNAL_HOST_TARGETS.hostFront)) return [];
    if (c.op === "delete")
        return [
            {
                kind: "front",
                text: "the registry's front on the external host is removed: the registry stops answering",
                disrupts: UNMEASURED_OUTAGE,
            },
        ];
    if (c.op === "create") return [];
    const how = changeAt(c, "create");
    if (how === "no") return [];
    const olds = scriptParameters(c.olds.create);
    const news = scriptParameters(c.news.create);
    const why = "(docs/decisions/host-front.md)";
    if (olds.FRONT_IMAGE === undefined && news.FRONT_IMAGE !== undefined)
        return [
            {
                kind: "front",
                disrupts: UNMEASURED_OUTAGE,
                text: `the front on the external host ${may(how, "moves", "move")} from the caddy service to the pinned Caddy's container (${news.FRONT_IMAGE}), with the service's certificates: the port is closed while the container starts, and requests in flight then are cut ${why}`,
            },
        ];
    // The parameters that make caddy-apply.sh's spec label: a change of any of them makes the front anew.
    const spec = ["FRONT_IMAGE", "FRONT_MOUNTS", "FRONT_MEMORY_MIB", "FRONT_GO_MEMORY_LIMIT", "FRONT_OPEN_FILES"];
    if (news.FRONT_IMAGE !== undefined && spec.some((name) => olds[name] !== news[name]))
        return [
            {
                kind: "front",
                disrupts: UNMEASURED_OUTAGE,
                text: `the front on the external host ${may(how, "is made anew", "be made anew")}${olds.FRONT_IMAGE !== news.FRONT_IMAGE ? ` with ${news.FRONT_IMAGE}` : ""}: the port is closed while the new container starts, and requests in flight then are cut ${why}`,
            },
        ];
    return [
        {
            kind: "front",
            text: `the front (Caddy) on the external host ${may(how, "reloads", "reload")}: uploads in flight finish, the next request gets the new config (docs/decisions/access-policy.md#reloads-and-uploads-in-flight)`,
        },
    ];
};

/** Other containers on the external host: Maven, the web UI. */
const hostOtherContainer: Rule = (c) => {
    const what = is(c, EXTERNAL_HOST_TARGETS.hostMaven)
        ? "the Maven repository's container (deploys and downloads fail while it restarts)"
        : is(c, EXTERNAL_HOST_TARGETS.hostUi)
          ? "the web UI's container"
          : undefined;
    if (!what) return [];
    if (c.op === "create") return [];
    if (c.op === "delete") return [{ kind: "other", text: `${what} is removed` }];
    const how = containerChange(c);
    return how === "no" ? [] : [{ kind: "other", text: `${what} ${may(how, "is recreated", "be recreated")}` }];
};

/** The external host's login limit (fail2ban). */
const hostLoginLimit: Rule = (c) => {
    if (!is(c, EXTERNAL_HOST_TARGETS.hostLoginLimit) || c.op === "create") return [];
    if (c.op === "update" && changeAt(c, "create") === "no") return [];
    // The script that runs: the jail's (with its limits as JAIL) or, turned off, the one that removes it.
    if (c.op !== "delete" && (c.news.create === UNKNOWN || scriptParameters(c.news.create).JAIL !== undefined)) {
        return [{ kind: "other", text: "fail2ban's registry jail is reloaded with the new limits" }];
    }
    return [{ kind: "other", text: "fail2ban's registry jail is removed: its bans are lifted, and failed logins are no longer limited" }];
};

/** Data directories on the external host, and the purge marker that decides whether a destroy removes them. */
const hostData: Rule = (c) => {
    const maven = is(c, EXTERNAL_HOST_TARGETS.hostMavenData);
    if (maven || is(c, EXTERNAL_HOST_TARGETS.hostRegistryData)) {
        const which = maven ? "the Maven repository's data directory" : "the registry's data directory";
        if (c.op === "create") return [];
        // The step's delete removes no file; whether the data goes is the purge marker's line (same preview).
        if (c.op === "delete")
            return [
                {
                    kind: "data",
                    text: `${which}: its setup step goes, and deletes no file itself (the purge marker decides whether the data goes)`,
                    disrupts: DATA,
                },
            ];
        if (changeAt(c, "create") === "no") return [];
        return [
            { kind: "data", text: `${which} is set up again (created if missing, its owner and mode set; files stay)`, disrupts: DATA },
        ];
    }
    if (is(c, EXTERNAL_HOST_TARGETS.hostPurgeMarker)) {
        const listed = (inputs: Record<string, unknown>) => scriptParameters(inputs.create).DIRECTORIES?.split("\n").filter(Boolean) ?? [];
        if (c.op === "delete") {
            const dirs = listed(c.olds);
            return dirs.length > 0
                ? [
                      {
                          kind: "data",
                          text: `the data is deleted: ${dirs.join(", ")} (purgeDataOnDestroy was on at the last up)`,
                          disrupts: DATA,
                      },
                  ]
                : [{ kind: "data", text: "the data directories are kept (purgeDataOnDestroy was off at the last up)" }];
        }
        if (c.op !== "update") return [];
        const before = listed(c.olds).length > 0;
        const after = listed(c.news).length > 0;
        if (before === after) return [];
        return [
            {
                kind: "data",
                ...(after ? { disrupts: DATA } : {}),
                text: after
                    ? `from this up on, a destroy deletes the data: ${listed(c.news).join(", ")} (purgeDataOnDestroy turned on)`
                    : "from this up on, a destroy keeps the data (purgeDataOnDestroy turned off)",
            },
        ];
    }
    return [];
};

/**
 * Tag retention by last pull on the external host: a rule's `keepPulledWithinDays` shortened or removed lets
 * the next collection (in "apply") remove old tags that only recent pulls kept, and the clusters that pull
 * them then fail; one added keeps more, once the pull history reaches that far back.
 */
const hostRetention: Rule = (c) => {
    if (!is(c, EXTERNAL_HOST_TARGETS.hostRetention) || c.op === "delete") return [];
    if (changeAt(c, "stdin") === "no") return [];
    const olds = c.op === "create" ? new Map<string, number | undefined>() : retentionPulledDays(c.olds.stdin);
    const news = retentionPulledDays(c.news.stdin);
    const applies = scriptParameters(c.news.stdin).MODE === "apply";
    return pulledDaysFindings(olds, news, applies, "from the front's access log on the host");
};

/**
 * Garbage collection's mode on the external host: from the window to online, pushes go on during the
 * collection and Distribution loses its blob-descriptor cache (its container's own line says it is recreated);
 * back to the window, every collection refuses pushes again for its length.
 */
const hostGcMode: Rule = (c) => {
    if (!is(c, EXTERNAL_HOST_TARGETS.hostGc) || c.op !== "update") return [];
    if (changeAt(c, "stdin") === "no") return [];
    const before = scriptParameters(c.olds.stdin).GC_MODE ?? "window";
    const after = scriptParameters(c.news.stdin).GC_MODE;
    if (after === undefined || before === after) return [];
    return [
        {
            kind: "other",
            text:
                after === "online"
                    ? "garbage collection on the external host runs while pushes go on from its next run (mode online): no read-only window for the collection, a few seconds' one only for retention's removals and Maven's clean-up; the front holds back what touches a blob being swept, and Distribution runs without its blob-descriptor cache (docs/deletes-and-gc.md, Collection while pushes go on)"
                    : "garbage collection on the external host goes back to its read-only window from its next run (mode window): pushes get 503 for each collection's length, and Distribution gets its blob-descriptor cache back",
        },
    ];
};

/** The external host's rules, in the order the summary applies them. */
export const EXTERNAL_HOST_RULES: readonly Rule[] = [
    hostRegistry,
    hostCaddy,
    hostOtherContainer,
    hostLoginLimit,
    hostData,
    hostRetention,
    hostGcMode,
];
