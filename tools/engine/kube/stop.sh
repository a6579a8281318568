#!/bin/sh
# Stop a control plane started by start.sh DIR: send SIGTERM to exactly the
# PIDs listed in DIR/pids (newest first), a second SIGTERM to those still
# running after KUBE_STOP_GRACE seconds (default 3), wait for them to exit
# (SIGKILL after KUBE_STOP_TIMEOUT seconds, default 20), then remove DIR/pids.
# The Kubernetes components exit at once on a second signal; on the first, the
# API server (1.37) sometimes waits out its request timeout (60 s) for its own
# connections to go idle, which a throw-away control plane has no use for.
# A PID whose process is gone, or whose command line no longer mentions DIR
# (the PID was reused by another process), is left alone.
#
# Usage: tools/engine/kube/stop.sh DIR
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
DIR=$(cd "$1" && pwd -P)
TIMEOUT=${KUBE_STOP_TIMEOUT:-20}
GRACE=${KUBE_STOP_GRACE:-3}
[ -f "$DIR/pids" ] || exit 0

# ours PID: the process exists and was started by start.sh for this DIR
# (each of them has DIR in its arguments).
ours() {
	kill -0 "$1" 2>/dev/null || return 1
	if [ -r "/proc/$1/cmdline" ]; then
		tr '\0' '\n' <"/proc/$1/cmdline" | grep -qF "$DIR/" || return 1
	fi
	return 0
}

PIDS=""
# newest first: kwok, scheduler, controller-manager, apiserver, then etcd
while IFS= read -r p; do
	case "$p" in
	'' | *[!0-9]*) ;;
	*) PIDS="$p $PIDS" ;;
	esac
done <"$DIR/pids"

LEFT=""
for p in $PIDS; do
	if ours "$p"; then
		kill -TERM "$p" 2>/dev/null || true
		LEFT="$LEFT $p"
	fi
done

deadline=$(($(date +%s) + TIMEOUT))
again=$(($(date +%s) + GRACE))
while :; do
	still=""
	for p in $LEFT; do
		if kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then
			still="$still $p"
		fi
	done
	LEFT=$still
	[ -z "$LEFT" ] && break
	if [ -n "$again" ] && [ "$(date +%s)" -ge "$again" ]; then
		for p in $LEFT; do kill -TERM "$p" 2>/dev/null || true; done
		again=""
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "stop.sh: still running after ${TIMEOUT}s, killing:$LEFT" >&2
		for p in $LEFT; do kill -KILL "$p" 2>/dev/null || true; done
		sleep 1
		break
	fi
	sleep 0.2
done
rm -f "$DIR/pids"
