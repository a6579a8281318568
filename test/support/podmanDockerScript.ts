/**
 * podman-docker's /usr/bin/docker, the `docker` script of Podman's own sources that the podman-docker packages
 * install (RHEL's `dnf install docker` gives that package). The text of Debian 12's podman-docker 4.3.1: a
 * notice on stderr unless /etc/containers/nodocker exists, then podman with every argument.
 */
export const PODMAN_DOCKER_SCRIPT = `#!/bin/sh
[ -e /etc/containers/nodocker ] || \\
echo "Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg." >&2
exec /usr/bin/podman "$@"
`;
