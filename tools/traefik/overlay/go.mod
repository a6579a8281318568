// Source files that build.sh puts into its copies of two of Traefik's dependencies, in place of or beside
// their files (see ../build.sh for why). Nothing builds this module on its own.
module dso-registry/tools/traefik/overlay

go 1.26.3
