# shellcheck shell=sh
# Writing a file for node_exporter's textfile collector, as root, in a directory whose parent may belong to
# another user (Debian gives /var/lib/prometheus to `prometheus`): that user can move the textfile directory
# aside and put one of theirs in its place, holding symbolic links named as the file or a guessable
# temporary name. So the directory must be a real directory of root's (or of the user running the job, as in
# the cluster's pods), the temporary file is made by mktemp (a new name, never following a link), and the
# rename replaces whatever has the final name without following it.

# write_textfile DIR NAME: writes stdin to DIR/NAME, mode 0644, atomically; refuses (status 1, a line on
# stderr) a DIR that is a symbolic link or belongs to another user.
write_textfile() {
    textfile_dir=$1 textfile_name=$2
    if [ -L "$textfile_dir" ] || [ ! -d "$textfile_dir" ]; then
        echo "$textfile_dir is not a directory (a symbolic link?): $textfile_name not written" >&2
        return 1
    fi
    textfile_owner=$(stat -c %u "$textfile_dir")
    if [ "$textfile_owner" != 0 ] && [ "$textfile_owner" != "$(id -u)" ]; then
        echo "$textfile_dir belongs to uid $textfile_owner, not to root: $textfile_name not written" >&2
        return 1
    fi
    textfile_tmp=$(mktemp "$textfile_dir/.$textfile_name.XXXXXX") || return 1
    if ! cat >"$textfile_tmp" || ! chmod 0644 "$textfile_tmp" || ! mv -f "$textfile_tmp" "$textfile_dir/$textfile_name"; then
        rm -f "$textfile_tmp"
        return 1
    fi
}
