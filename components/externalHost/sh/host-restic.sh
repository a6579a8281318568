# shellcheck shell=sh
# restic on the external host (components/externalHost/backupScripts.ts): the repository REPOSITORY,
# with the password and the destination's credentials in BACKUP_CONF (the SSH key and the pinned host
# key of the backup machine, or the bucket's variables in s3.env) and its metadata cache in CACHE_DIR.
# A script that sources this declares these parameters, DESTINATION (sftp or s3) and, over SFTP,
# SFTP_HOST, SFTP_PORT and SFTP_USER, and calls restic_setup before restic_.

# restic_setup: refuses secret files that others may read, reads the bucket's credentials into the
# environment (s3), and makes the cache directory.
restic_setup() {
    conf="${DSO_ROOT:-}$BACKUP_CONF"
    cache="${DSO_ROOT:-}$CACHE_DIR"
    for f in "$conf"/*; do
        if [ -f "$f" ] && [ -n "$(find "$f" -perm /077)" ] && [ "${f##*/}" != known_hosts ]; then
            echo "$f is readable by others: chmod 0600 $f" >&2; exit 1
        fi
    done
    if [ "$DESTINATION" = s3 ]; then
        set -a
        # shellcheck source=/dev/null
        . "$conf/s3.env"
        set +a
    fi
    mkdir -p "$cache"
}

# restic_ ARGS...: restic with the repository, its password, the cache and the destination's credentials.
restic_() {
    if [ "$DESTINATION" = sftp ]; then
        restic --repo "$REPOSITORY" --password-file "$conf/repository-password" --cache-dir "$cache" \
            -o sftp.command="ssh -F /dev/null -i $conf/ssh-key -p $SFTP_PORT -o UserKnownHostsFile=$conf/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o ServerAliveInterval=30 $SFTP_USER@$SFTP_HOST -s sftp" "$@"
    else
        restic --repo "$REPOSITORY" --password-file "$conf/repository-password" --cache-dir "$cache" "$@"
    fi
}
