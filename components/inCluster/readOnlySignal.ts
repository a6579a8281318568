/**
 * The front's read-only window inside the registry pod, one home for both upkeep jobs: an
 * emptyDir in memory, mounted read-only in the Caddy sidecar, whose policy watches the marker files in
 * it (`AccessPolicy.readOnlySignals`, kind "file": writes get 503 with Retry-After while any of them
 * exists), and writable in the containers whose steps hold a window: the backup container (the
 * backup's read-only pass) and, when the GC job collects without restarting the pod, the registry
 * container (the collection) and the Maven container (the snapshot clean-up).
 *
 * Each job has a marker of its own, so that neither ends the other's window: the backup's step
 * removes its marker when it is done, whether or not a collection is under way. The shell that opens
 * and closes a window is the placements' shared one (../upkeep/sh/front-window.sh; why the window:
 * docs/decisions/maintenance-window.md); the step that holds a window runs inside the pod, so its
 * marker goes when its work ends (the step's trap), whatever happens to the job's `kubectl exec`
 * connection, and a new pod starts without any marker.
 *
 * The disk guard's marker lives here too (./diskGuard.ts): it is no read-only window (the policy's
 * `diskFullSignal`: only new blob uploads are refused, with 507), written by the pod's disk-guard container.
 */
import type * as k8s from "@pulumi/kubernetes";

export const READ_ONLY_SIGNAL = {
    /** The emptyDir's name in the pod. */
    volume: "read-only-signal",
    /** Where every container that mounts it sees it. */
    dir: "/run/dso-registry",
    /** The backup's marker: it exists during the backup's read-only pass. */
    backupMarker: "/run/dso-registry/read-only",
    /** The garbage collection's marker: it exists while the collection (or the Maven clean-up) runs. */
    gcMarker: "/run/dso-registry/gc",
} as const;

/** The pod's emptyDir that holds the markers; a new pod starts with none. */
export function signalVolume(): k8s.types.input.core.v1.Volume {
    return { name: READ_ONLY_SIGNAL.volume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } };
}

/** Its mount: writable in a container whose steps hold a window, read-only in the Caddy sidecar. */
export function signalMount(writable: boolean): k8s.types.input.core.v1.VolumeMount {
    return { name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir, ...(writable ? {} : { readOnly: true }) };
}
