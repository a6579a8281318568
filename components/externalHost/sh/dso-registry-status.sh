#!/bin/sh
# Managed by dso-registry: the registry's state at a glance. BUCKET names the s3 bucket the registry
# keeps its images in; empty with filesystem storage at DATA_DIR.
: "${CONTAINER:?}" "${DATA_DIR:?}" "${BUCKET?}"
echo "== container"; docker ps -a --filter "name=^/$CONTAINER\$" --format '{{.Names}} {{.Image}} {{.Status}} {{.Labels}}'
echo "== last log lines"; docker logs --tail 20 "$CONTAINER" 2>&1
echo "== caddy"; systemctl --no-pager --lines=5 status caddy 2>&1 || true
if [ -n "$BUCKET" ]; then
    echo "== data"; echo "$BUCKET"
else
    echo "== data"; du -sh "$DATA_DIR" 2>/dev/null || true
fi
