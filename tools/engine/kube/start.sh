#!/bin/sh
# Start a throw-away Kubernetes control plane for tests, on 127.0.0.1 only:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok
#   (fake nodes: pods scheduled onto them become Running/Ready, no containers).
#
# Usage: tools/engine/kube/start.sh DIR BIN
#   DIR  a directory of the caller's (a temp dir); everything is written there:
#        DIR/kubeconfig   admin kubeconfig (O=system:masters), data embedded
#        DIR/pids         one PID per line, each process started here
#        DIR/env          KUBE_APISERVER_URL=… and the ports chosen
#        DIR/pki/ DIR/etcd/ DIR/logs/NAME.log
#   BIN  the directory build.sh built the binaries into
#
# Exits 0 once /readyz is ok, the fake nodes are Ready and the default
# ServiceAccount exists, leaving the processes running; stop them with
# stop.sh DIR. On failure it stops whatever it started, prints the logs' tails
# and exits non-zero.
#
# Environment:
#   KUBE_START_TIMEOUT  seconds to wait for each readiness step (default 120)
#   KUBE_FAKE_NODES     number of fake nodes to create (default 1)
#   KUBE_START_ATTEMPTS attempts with fresh ports when a port was taken (default 3)
#   KUBE_ADDRESS        where the API server listens and what it advertises (default
#                       127.0.0.1); a real node in a test network namespace needs the
#                       address of this machine's end of its veth pair (node-start.sh).
#                       With an address other than loopback the `kubernetes` Service
#                       gets that endpoint, so that pods reach the API server.
#   KUBE_FAKE_NODES=0   no kwok at all (a real kubelet registers the node instead)
#   KUBE_SERVICE_CIDR   the Services' range (default 10.96.0.0/24, which only kwok's pods see;
#                       a real node's pods use a range of the test addresses)
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 DIR BIN" >&2
	exit 2
fi
mkdir -p "$1"
DIR=$(cd "$1" && pwd -P)
BIN=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${KUBE_START_TIMEOUT:-120}
NODES=${KUBE_FAKE_NODES:-1}
ATTEMPTS=${KUBE_START_ATTEMPTS:-3}
ADDR=${KUBE_ADDRESS:-127.0.0.1}
# The loopback address cannot be a Service endpoint; any other can.
RECONCILER=none
[ "$ADDR" = 127.0.0.1 ] || RECONCILER=lease
SERVICE_CIDR=${KUBE_SERVICE_CIDR:-10.96.0.0/24}
# The `kubernetes` Service's address: the first of the range.
SERVICE_IP=$(echo "$SERVICE_CIDR" | awk -F'[./]' '{ print $1 "." $2 "." $3 "." $4 + 1 }')

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
	if [ ! -x "$BIN/$b" ]; then
		echo "start.sh: $BIN/$b missing: run build.sh $BIN first" >&2
		exit 1
	fi
done
if [ ! -f "$BIN/kwok-stages.yaml" ]; then
	echo "start.sh: $BIN/kwok-stages.yaml missing: run build.sh $BIN first" >&2
	exit 1
fi
for t in openssl curl base64 od; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "start.sh: $t is required" >&2
		exit 1
	}
done
if [ -s "$DIR/pids" ]; then
	echo "start.sh: $DIR/pids exists: stop.sh $DIR first" >&2
	exit 1
fi

PKI=$DIR/pki
LOGS=$DIR/logs
mkdir -p "$PKI" "$LOGS"

log() { echo "start.sh: $*" >&2; }

# ---------------------------------------------------------------- free ports
# A port is taken if it appears as a local or remote port of any TCP socket
# (/proc/net/tcp{,6}; no `ss` needed). Candidates are random in 20000-31999,
# below Linux's ephemeral range, so outgoing connections do not take them.
PICKED=""
port_busy() {
	hex=$(printf ':%04X ' "$1")
	for f in /proc/net/tcp /proc/net/tcp6; do
		if [ -r "$f" ] && grep -q "$hex" "$f"; then
			return 0
		fi
	done
	case " $PICKED " in *" $1 "*) return 0 ;; esac
	return 1
}
# free_port VAR: set VAR to a free port not yet picked in this run.
free_port() {
	i=0
	while [ $i -lt 200 ]; do
		i=$((i + 1))
		r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + r % 12000))
		if ! port_busy "$p"; then
			PICKED="$PICKED $p"
			eval "$1=$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}
pick_ports() {
	PICKED=""
	free_port ETCD_PORT
	free_port ETCD_PEER_PORT
	free_port API_PORT
	free_port KCM_PORT
	free_port SCHED_PORT
	free_port KWOK_PORT
}

# ---------------------------------------------------------------- certificates
# gen_ca NAME CN
gen_ca() {
	openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 \
		-keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
# gen_cert CA NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
gen_cert() {
	ca=$1
	shift
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$3"
		if [ -n "${4:-}" ]; then echo "subjectAltName=$4"; fi
	} >"$PKI/$1.ext"
	openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" \
		-out "$PKI/$1.csr" -subj "$2" 2>/dev/null
	openssl x509 -req -sha256 -days 3650 -in "$PKI/$1.csr" \
		-CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		-extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
	rm -f "$PKI/$1.csr" "$PKI/$1.ext"
}
gen_pki() {
	gen_ca ca dso-registry-test-ca
	gen_cert ca serving "/CN=kube-apiserver" serverAuth \
		"IP:127.0.0.1,IP:$ADDR,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$SERVICE_IP"
	gen_cert ca admin "/O=system:masters/CN=kubernetes-admin" clientAuth
	gen_cert ca controller-manager "/CN=system:kube-controller-manager" clientAuth
	gen_cert ca scheduler "/CN=system:kube-scheduler" clientAuth
	# Front proxy (aggregation layer) CA: the apiserver publishes it in
	# kube-system/extension-apiserver-authentication, where the controller
	# manager and scheduler expect it.
	gen_ca front-proxy-ca dso-registry-test-front-proxy-ca
	gen_cert front-proxy-ca front-proxy-client "/CN=front-proxy-client" clientAuth
	openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
	openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	chmod 600 "$PKI"/*.key
}

b64() { base64 <"$1" | tr -d '\n'; }

# write_kubeconfig FILE CERTNAME
write_kubeconfig() {
	cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dso-test
  cluster:
    server: https://$ADDR:$API_PORT
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(b64 "$PKI/$2.crt")
    client-key-data: $(b64 "$PKI/$2.key")
contexts:
- name: dso-test
  context:
    cluster: dso-test
    user: $2
current-context: dso-test
EOF
	chmod 600 "$1"
}

# ---------------------------------------------------------------- processes
# launch NAME ARGS...: start BIN/NAME in the background, detached from our
# stdio (so a caller reading our output is not held open), log to
# DIR/logs/NAME.log, and record its PID in DIR/pids at once.
launch() {
	name=$1
	shift
	"$BIN/$name" "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
	echo $! >>"$DIR/pids"
	eval "PID_$(echo "$name" | tr '-' '_')=$!"
}

alive() {
	eval "p=\${PID_$(echo "$1" | tr '-' '_'):-}"
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# The apiserver pretty-prints JSON for user agents starting with "curl":
# another agent gets the compact JSON the greps here expect.
api() {
	curl -sS -A dso-kube-test --max-time 10 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
		"$@"
}

# wait_for WHAT PROCESS COMMAND...: retry COMMAND until it succeeds, failing
# early if PROCESS died.
wait_for() {
	what=$1 proc=$2
	shift 2
	deadline=$(($(date +%s) + TIMEOUT))
	while ! "$@" >/dev/null 2>&1; do
		if [ -n "$proc" ] && ! alive "$proc"; then
			log "$proc exited while waiting for $what"
			return 1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			log "timed out after ${TIMEOUT}s waiting for $what"
			return 1
		fi
		sleep 0.5
	done
}

etcd_healthy() {
	curl -sS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'
}
api_ready() {
	[ "$(api "https://$ADDR:$API_PORT/readyz")" = "ok" ]
}
healthz_ok() {
	# kube-controller-manager and kube-scheduler serve their own self-signed
	# or our serving cert; /healthz is open to anyone.
	[ "$(curl -sS --max-time 5 --cacert "$PKI/ca.crt" "https://127.0.0.1:$1/healthz")" = "ok" ]
}
node_ready() {
	api "https://$ADDR:$API_PORT/api/v1/nodes/$1" | grep -q '"type":"Ready","status":"True"'
}
default_sa() {
	api "https://$ADDR:$API_PORT/api/v1/namespaces/default/serviceaccounts/default" | grep -q '"kind":"ServiceAccount"'
}

create_node() {
	api -X POST -H 'Content-Type: application/json' \
		"https://$ADDR:$API_PORT/api/v1/nodes" -d @- >"$LOGS/node-$1.json" <<EOF
{
  "apiVersion": "v1",
  "kind": "Node",
  "metadata": {
    "name": "$1",
    "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
    "labels": {
      "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
      "kubernetes.io/hostname": "$1", "kubernetes.io/role": "agent",
      "node-role.kubernetes.io/agent": "", "type": "kwok"
    }
  },
  "status": {
    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"}
  }
}
EOF
	grep -q '"kind":"Node"' "$LOGS/node-$1.json"
}

stop_started() {
	if [ -s "$DIR/pids" ]; then
		"$HERE/stop.sh" "$DIR" >/dev/null 2>&1 || true
	fi
}

show_logs() {
	for f in "$LOGS"/*.log; do
		[ -f "$f" ] || continue
		echo "----- $f (tail)" >&2
		tail -n 15 "$f" >&2
	done
}

# ---------------------------------------------------------------- one attempt
# attempt: start everything on the ports pick_ports chose.
attempt() {
	: >"$DIR/pids"
	rm -rf "$DIR/etcd"

	launch etcd \
		--name=default \
		--data-dir="$DIR/etcd" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster-state=new \
		--unsafe-no-fsync \
		--log-level=warn
	wait_for "etcd /health" etcd etcd_healthy || return 1

	launch kube-apiserver \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--bind-address="$ADDR" \
		--advertise-address="$ADDR" \
		--secure-port="$API_PORT" \
		--cert-dir="$DIR/apiserver" \
		--tls-cert-file="$PKI/serving.crt" \
		--tls-private-key-file="$PKI/serving.key" \
		--client-ca-file="$PKI/ca.crt" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" \
		--service-account-signing-key-file="$PKI/sa.key" \
		--requestheader-client-ca-file="$PKI/front-proxy-ca.crt" \
		--requestheader-allowed-names=front-proxy-client \
		--requestheader-username-headers=X-Remote-User \
		--requestheader-group-headers=X-Remote-Group \
		--requestheader-extra-headers-prefix=X-Remote-Extra- \
		--proxy-client-cert-file="$PKI/front-proxy-client.crt" \
		--proxy-client-key-file="$PKI/front-proxy-client.key" \
		--authorization-mode=Node,RBAC \
		--endpoint-reconciler-type="$RECONCILER" \
		--allow-privileged=true \
		--kubelet-client-certificate="$PKI/admin.crt" \
		--kubelet-client-key="$PKI/admin.key" \
		--kubelet-preferred-address-types=InternalIP \
		--profiling=false
	wait_for "kube-apiserver /readyz" kube-apiserver api_ready || return 1

	launch kube-controller-manager \
		--kubeconfig="$DIR/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port="$KCM_PORT" \
		--tls-cert-file="$PKI/serving.crt" \
		--tls-private-key-file="$PKI/serving.key" \
		--controllers='*' \
		--use-service-account-credentials=true \
		--service-account-private-key-file="$PKI/sa.key" \
		--root-ca-file="$PKI/ca.crt" \
		--cluster-signing-cert-file="$PKI/ca.crt" \
		--cluster-signing-key-file="$PKI/ca.key" \
		--cluster-name=dso-test \
		--leader-elect=false \
		--profiling=false

	launch kube-scheduler \
		--kubeconfig="$DIR/scheduler.kubeconfig" \
		--authentication-kubeconfig="$DIR/scheduler.kubeconfig" \
		--authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 \
		--secure-port="$SCHED_PORT" \
		--tls-cert-file="$PKI/serving.crt" \
		--tls-private-key-file="$PKI/serving.key" \
		--leader-elect=false \
		--profiling=false

	# kwok serves nothing unless asked; its server (kubelet-like logs/exec
	# endpoints) is put on 127.0.0.1 and the fake nodes advertise 127.0.0.1
	# with that port, so anything reaching "a node" stays on this machine.
	if [ "$NODES" -gt 0 ]; then
		launch kwok \
			--config="$BIN/kwok-stages.yaml" \
			--kubeconfig="$DIR/kubeconfig" \
			--manage-all-nodes=true \
			--server-address="127.0.0.1:$KWOK_PORT" \
			--node-ip=127.0.0.1 \
			--node-port="$KWOK_PORT" \
			--node-lease-duration-seconds=40
	fi

	n=0
	while [ $n -lt "$NODES" ]; do
		create_node "kwok-node-$n" || {
			log "creating node kwok-node-$n failed: $(cat "$LOGS/node-kwok-node-$n.json")"
			return 1
		}
		n=$((n + 1))
	done

	wait_for "kube-controller-manager /healthz" kube-controller-manager healthz_ok "$KCM_PORT" || return 1
	wait_for "kube-scheduler /healthz" kube-scheduler healthz_ok "$SCHED_PORT" || return 1
	n=0
	while [ $n -lt "$NODES" ]; do
		wait_for "node kwok-node-$n Ready" kwok node_ready "kwok-node-$n" || return 1
		n=$((n + 1))
	done
	wait_for "default ServiceAccount" kube-controller-manager default_sa || return 1
	if [ "$NODES" -gt 0 ] && ! alive kwok; then
		log "kwok exited"
		return 1
	fi
}

# ---------------------------------------------------------------- main
# Whatever way this script ends before success (error, signal), stop what it
# started.
SUCCESS=0
trap 'if [ "$SUCCESS" != 1 ]; then stop_started; rm -f "$DIR/pids"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

gen_pki
START=$(date +%s)
try=1
while :; do
	pick_ports
	write_kubeconfig "$DIR/kubeconfig" admin
	write_kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager
	write_kubeconfig "$DIR/scheduler.kubeconfig" scheduler
	ok=0
	if attempt; then ok=1; fi
	if [ $ok -eq 1 ]; then
		break
	fi
	stop_started
	if [ $try -lt "$ATTEMPTS" ] && grep -qi 'address already in use' "$LOGS"/*.log 2>/dev/null; then
		log "a port was taken; retrying with new ports (attempt $((try + 1)) of $ATTEMPTS)"
		for f in "$LOGS"/*.log; do mv -f "$f" "$f.attempt$try"; done
		try=$((try + 1))
		continue
	fi
	show_logs
	exit 1
done
SUCCESS=1

{
	echo "KUBE_APISERVER_URL=https://$ADDR:$API_PORT"
	echo "KUBECONFIG=$DIR/kubeconfig"
	echo "ETCD_URL=http://127.0.0.1:$ETCD_PORT"
	echo "KUBE_CONTROLLER_MANAGER_PORT=$KCM_PORT"
	echo "KUBE_SCHEDULER_PORT=$SCHED_PORT"
	echo "KWOK_PORT=$KWOK_PORT"
} >"$DIR/env"
log "control plane up in $(($(date +%s) - START))s: https://$ADDR:$API_PORT (kubeconfig $DIR/kubeconfig)"
