/** The pull-through caches of `registry.mirrors`, as every placement and node takes them. */
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import {
    defaultRemoteUrl,
    type MirrorSpec,
    mirrorAge,
    mirrorPathName,
    parseMirrorCredentials,
    type UpstreamAccount,
} from "../mirrors/mirrors";
import { isDistribution3Image } from "../shared/facts";
import { secret } from "./secret";

/** Each cache of `registry.mirrors`: its upstream, path, remote, age and size limits. */
export function mirrorSpecs(cfg: StackConfig): MirrorSpec[] {
    return cfg.registry.mirrors.map((m) => ({
        upstream: m.upstream,
        pathName: mirrorPathName(m.upstream),
        remoteUrl: m.remoteUrl ?? defaultRemoteUrl(m.upstream),
        ttl: mirrorAge(m.maxAge, cfg.registry.image),
        proxyTtl: isDistribution3Image(cfg.registry.image),
        maxSize: m.maxSize,
        hasCredentials: m.credentials,
    }));
}

/** A cache's upstream account, from the secret `mirrorCredentials` (secret, checked when it resolves). */
export function mirrorAccount(cfg: StackConfig, spec: MirrorSpec): pulumi.Output<UpstreamAccount> {
    return pulumi.secret(secret(cfg, "mirrorCredentials").apply((json) => parseMirrorCredentials(json, [spec.upstream])[spec.upstream]!));
}
