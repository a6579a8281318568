# shellcheck shell=sh
# restic in the registry pod's backup container and in the restore job (components/inCluster/backup.ts):
# the repository REPOSITORY (an S3 address, or a directory on the backup volume: DESTINATION s3 or
# volume) with the password and the bucket's credentials from the mounted Secret SECRET_DIR (keys
# PASSWORD_KEY, ACCESS_KEY_ID_KEY, SECRET_ACCESS_KEY_KEY; REGION), its cache in CACHE_DIR. A script
# that sources this declares these parameters and calls restic_setup before restic_.

# restic_setup: reads the bucket's credentials from the Secret into restic's environment (never onto
# a command line) and makes the cache directory.
restic_setup() {
    secret="${DSO_ROOT:-}$SECRET_DIR"
    if [ "$DESTINATION" = s3 ]; then repo=$REPOSITORY; else repo="${DSO_ROOT:-}$REPOSITORY"; fi
    cache="${DSO_ROOT:-}$CACHE_DIR"
    if [ "$DESTINATION" = s3 ]; then
        AWS_ACCESS_KEY_ID=$(cat "$secret/$ACCESS_KEY_ID_KEY")
        AWS_SECRET_ACCESS_KEY=$(cat "$secret/$SECRET_ACCESS_KEY_KEY")
        AWS_DEFAULT_REGION=$REGION
        export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION
    fi
    mkdir -p "$cache"
}

# restic_ ARGS...: restic with the repository, its password and the cache.
restic_() {
    restic --repo "$repo" --password-file "$secret/$PASSWORD_KEY" --cache-dir "$cache" "$@"
}
