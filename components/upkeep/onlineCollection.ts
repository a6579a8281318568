/**
 * Garbage collection while pushes go on (`registry.maintenance.garbageCollection.mode` "online"): the
 * timings of `sh/online-collect.sh` beside this file, and where it reaches a bucket's objects itself. Why each
 * step is safe, and the bound that is left: docs/decisions/online-collection.md.
 */
import { FRONT_SETTLE_SECONDS } from "./frontWindow";

export const ONLINE_COLLECTION = {
    /**
     * How long before the mark a client's request still protects what it names: a blob checked then and
     * named by a manifest put after the sweep. An hour covers a pipeline's push from its first blob check
     * to its manifest; a client slower than that gets MANIFEST_BLOB_UNKNOWN and pushes again.
     */
    graceSeconds: 3600,
    /** How long each hold waits for the requests already past the front to end and be logged. */
    settleSeconds: FRONT_SETTLE_SECONDS,
    /**
     * How long the blobs the sweep set aside stay aside, the holds gone, before the second mark reads which
     * of them a manifest references after all: the longest a request may stall inside Distribution between
     * its blob check and its revision write and still find its blobs put back.
     */
    quarantineSeconds: 60,
} as const;

/** A bucket as Distribution's s3 driver is given it (registry.storage.s3). */
export interface OnlineS3Storage {
    readonly bucket: string;
    readonly region: string;
    /** The object store's endpoint; AWS's regional endpoint when unset. */
    readonly endpoint?: string;
    /** Distribution's key prefix in the bucket ("/registry"); "/" or "" for none. */
    readonly rootDirectory: string;
}

/**
 * The storage's root as the collection addresses it: a path-style URL (endpoint/bucket/rootdirectory),
 * which every S3 API the program meets serves (AWS, MinIO, Ceph RGW, versitygw), whatever style Distribution uses.
 */
export function onlineS3Url(s3: OnlineS3Storage): string {
    const endpoint = (s3.endpoint ?? `https://s3.${s3.region}.amazonaws.com`).replace(/\/+$/, "");
    const root = s3.rootDirectory.replace(/^\/+|\/+$/g, "");
    return `${endpoint}/${s3.bucket}${root === "" ? "" : `/${root}`}`;
}
