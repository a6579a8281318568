# shellcheck shell=sh
# The host's maintenance lock: container changes, garbage collection, backups and restores wait for
# each other.

# take_lock FILE: takes the lock FILE (on file descriptor 9) for the rest of the script.
take_lock() {
    mkdir -p "$(dirname "${DSO_ROOT:-}$1")"
    exec 9>"${DSO_ROOT:-}$1"
    flock 9
}
