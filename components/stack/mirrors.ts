/** The pull-through caches of `registry.mirrors`, as every placement and node takes them. */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import {
    defaultRemoteUrl,
    type MirrorSpec,
    mirrorAge,
    mirrorPathName,
    parseMirrorCredentials,
    type RegistryMirror,
    type UpstreamAccount,
} from "../mirrors/mirrors";
import { mirrorWarm } from "../mirrors/warm";
import { isDistribution3Image } from "../shared/facts";
import { secret } from "./secret";

/** Each cache of `registry.mirrors`: its upstream, path, remote, age and size limits; none beside an existing registry. */
export function mirrorSpecs(cfg: StackConfig): MirrorSpec[] {
    const r = cfg.registry;
    if (r.mode === "existing") return [];
    return r.mirrors.map((m) => ({
        upstream: m.upstream,
        pathName: mirrorPathName(m.upstream),
        remoteUrl: m.remoteUrl ?? defaultRemoteUrl(m.upstream),
        ttl: mirrorAge(m.maxAge, r.image),
        proxyTtl: isDistribution3Image(r.image),
        maxSize: m.maxSize,
        hasCredentials: m.credentials,
        ...(m.warm ? { warm: mirrorWarm(m.upstream, m.warm) } : {}),
    }));
}

/** Each cache of `registry.mirrors` as every placement takes it: its spec, and its upstream account when it has one. */
export function registryMirrors(cfg: StackConfig): RegistryMirror[] {
    return mirrorSpecs(cfg).map((spec) => ({ spec, ...(spec.hasCredentials ? { account: mirrorAccount(cfg, spec) } : {}) }));
}

/** A cache's upstream account, from the secret `mirrorCredentials` (secret, checked when it resolves). */
function mirrorAccount(cfg: StackConfig, spec: MirrorSpec): pulumi.Output<UpstreamAccount> {
    return pulumi.secret(secret(cfg, "mirrorCredentials").apply((json) => parseMirrorCredentials(json, [spec.upstream])[spec.upstream]!));
}
