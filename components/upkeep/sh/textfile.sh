# shellcheck shell=sh
# Writing a file for node_exporter's textfile collector, as root, in a directory whose parent may belong to
# another user (Debian gives /var/lib/prometheus to `prometheus`): that user can move the textfile directory
# aside and put one of theirs, or a symbolic link, in its place at any moment, also between two steps of the
# job (a watcher sees the job's temporary file appear), with links named as the file or as that temporary
# file. A check of the path proves nothing about the next use of the same path. So the job enters the
# directory once (cd -P, in a subshell), checks the directory it is then in, and from there on names files
# relative to it only: a directory put in the path's place after the cd is never looked at, and the one that
# was checked can be changed by its owner alone. The checks on it:
#   - it is the directory the path names, not one a symbolic link led to: the path itself, not followed,
#     is that same directory (device and inode) after the cd;
#   - it belongs to root, or to the user running the job (as in the cluster's pods);
#   - for a job of root's, no other user may write in it (group or others' write bit, unless sticky), or
#     they could put a link in the temporary file's place between the job's write and its chmod. A job that
#     is not root does not ask: the registry pod writes its counts to the kubelet's emptyDir, root's and
#     mode 0777, which no user but the pod's own reaches, and such a job has nothing of root's to hand over.
# The temporary file is made by mktemp (a new name, never following a link), and the rename replaces
# whatever has the final name without following it.

# textfile_enter DIR OUTCOME: makes DIR the working directory and checks it (see above); status 1 and a line
# on stderr ending in OUTCOME ("NAME not written") when it may not be used. Only in a subshell: it leaves
# the caller in DIR.
textfile_enter() {
    textfile_dir=$1 textfile_outcome=$2
    case $textfile_dir in /*) ;; *) textfile_dir=$(pwd)/$textfile_dir ;; esac
    # A trailing slash would make the look at the path itself follow a link.
    while :; do
        case $textfile_dir in */) textfile_dir=${textfile_dir%/} ;; *) break ;; esac
    done
    if [ -z "$textfile_dir" ] || ! cd -P -- "$textfile_dir" 2>/dev/null ||
        [ "$(stat -c %d:%i -- "$textfile_dir" 2>/dev/null)" != "$(stat -c %d:%i .)" ]; then
        echo "$1 is not a directory (a symbolic link?): $textfile_outcome" >&2
        return 1
    fi
    textfile_owner=$(stat -c %u .) textfile_mode=$(stat -c %a .) textfile_user=$(id -u)
    if [ "$textfile_owner" != 0 ] && [ "$textfile_owner" != "$textfile_user" ]; then
        echo "$1 belongs to uid $textfile_owner, not to root: $textfile_outcome" >&2
        return 1
    fi
    if [ "$textfile_user" = 0 ] && [ $((0$textfile_mode & 022)) != 0 ] && [ $((0$textfile_mode & 01000)) = 0 ]; then
        echo "$1 may be written by other users (mode $textfile_mode): $textfile_outcome" >&2
        return 1
    fi
}

# textfile_check_name NAME OUTCOME: status 1 and a line on stderr unless NAME is a file's name (no directory in it).
textfile_check_name() {
    case $1 in
        "" | . | .. | */*)
            echo "\"$1\" is not a file name: $2" >&2
            return 1
            ;;
    esac
}

# write_textfile DIR NAME: writes stdin to DIR/NAME, mode 0644, atomically; refuses (status 1, a line on
# stderr) a DIR that is a symbolic link, belongs to another user or, for root, may be written by others.
write_textfile() {
    (
        textfile_check_name "$2" "nothing written" || exit 1
        textfile_enter "$1" "$2 not written" || exit 1
        textfile_tmp=$(mktemp "./.$2.XXXXXX") || exit 1
        if ! cat >"$textfile_tmp" || ! chmod 0644 "$textfile_tmp" || ! mv -f "$textfile_tmp" "./$2"; then
            rm -f "$textfile_tmp"
            exit 1
        fi
    )
}

# remove_textfile DIR NAME: removes DIR/NAME, a series the host no longer has; nothing to do without DIR.
# Refuses DIR as write_textfile does (status 1, a line on stderr).
# shellcheck disable=SC2317 # not every script that sources this calls it
remove_textfile() {
    [ -e "$1" ] || [ -L "$1" ] || return 0
    (
        textfile_check_name "$2" "nothing removed" || exit 1
        textfile_enter "$1" "$2 not removed" || exit 1
        rm -f "./$2"
    )
}

# read_textfile DIR NAME: prints DIR/NAME (an earlier run's file); status 1 when there is none, or DIR is
# refused as write_textfile refuses it (then with a line on stderr).
# shellcheck disable=SC2317 # not every script that sources this calls it
read_textfile() {
    (
        textfile_check_name "$2" "not read" || exit 1
        textfile_enter "$1" "$2 not read" || exit 1
        [ -f "./$2" ] && cat "./$2"
    )
}
