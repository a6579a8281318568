# shellcheck shell=sh
# The disk guard's check, one for every placement (registry.diskGuard, docs/runbooks.md "Disk full"): the
# external host's cron job, the registry pod's disk-guard container and kind's maintenance container all
# run it on the registry's data. While the file system that holds the data is used past the threshold (its
# total minus what is available, as the alert reads it), the marker exists, and the front answers every
# new blob upload, and every body sent to an upload already open, 507 with a message that the disk is full;
# pulls, deletes and the commit of an upload whose data all came before go on. Below it again, the marker goes and pushes resume.
# The marker is made and removed by its path, unlike the textfiles (textfile.sh): no user but the one
# running the check can change its directory. It is root's on the external host (/etc/caddy/dso-registry),
# the pod's own emptyDir in the cluster, and in kind the window directory of the operator who runs Docker
# (and so is root there already), mounted into the upkeep container.

# disk_guard DATA_DIR MARKER REFUSE_PERCENT [DISK REFUSED RESUMED]: creates MARKER (and its directory) while
# DATA_DIR's file system is used past REFUSE_PERCENT, removes it below; prints a line when that changes,
# naming the disk (DISK, "data disk" unless given), what is refused (REFUSED, "new uploads") and what
# resumes (RESUMED, "pushes"); sets disk_guard_refusing to 1 or 0. Status 1, with a line on stderr, when the
# file system cannot be read.
# disk_usage DIR: reads the file system that holds DIR, in 1024-byte blocks: sets disk_guard_size (its total),
# disk_guard_available (what is available) and disk_guard_used (the total minus what is available: what the
# guard and the alerts call used). Status 1, with a line on stderr, when it cannot be read.
disk_usage() {
    # POSIX df in 1024-byte blocks (busybox's and GNU's alike), its second line: file system, total, used,
    # available. "Used" here is what is not available. The shell's own read: no other program needed.
    disk_guard_size="" disk_guard_available=""
    if disk_guard_df=$(df -Pk "$1"); then
        {
            read -r _
            read -r _ disk_guard_size _ disk_guard_available _
        } <<DISK_GUARD_DF
$disk_guard_df
DISK_GUARD_DF
    fi
    case "$disk_guard_size$disk_guard_available" in
        "" | *[!0-9]*)
            echo "disk guard: cannot read the file system of $1" >&2
            return 1
            ;;
    esac
    [ "$disk_guard_size" -gt 0 ] || return 1
    disk_guard_used=$((disk_guard_size - disk_guard_available))
}

# shellcheck disable=SC2034 # disk_guard_refusing: for the script that sources this
disk_guard() {
    disk_guard_dir=$1 disk_guard_marker=$2 disk_guard_limit=$3
    disk_guard_disk=${4:-data disk} disk_guard_refused=${5:-new uploads} disk_guard_resumed=${6:-pushes}
    disk_usage "$disk_guard_dir" || return 1
    disk_guard_percent=$((disk_guard_used * 100 / disk_guard_size))
    if [ $((disk_guard_used * 100)) -ge $((disk_guard_limit * disk_guard_size)) ]; then
        if [ ! -e "$disk_guard_marker" ]; then
            mkdir -p "$(dirname "$disk_guard_marker")"
            : >"$disk_guard_marker"
            echo "$disk_guard_disk ${disk_guard_percent}% used, past ${disk_guard_limit}%: $disk_guard_refused are refused until space is freed (docs/runbooks.md, Disk full)"
        fi
        disk_guard_refusing=1
    else
        if [ -e "$disk_guard_marker" ]; then
            rm -f "$disk_guard_marker"
            echo "$disk_guard_disk ${disk_guard_percent}% used, below ${disk_guard_limit}% again: $disk_guard_resumed resume"
        fi
        disk_guard_refusing=0
    fi
}

# maven_disk_guard MAVEN_DIR MARKER REFUSE_PERCENT: the same check on the Maven repository's files, its lines
# naming that disk and Maven deploys (the front refuses deploys on this marker; downloads go on).
maven_disk_guard() {
    disk_guard "$1" "$2" "$3" "Maven repository's disk" "new Maven deploys" "Maven deploys"
}
