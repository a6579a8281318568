#!/bin/sh
# Start a real Kubernetes node for tests: containerd (Debian's, with runc and the CNI plugins of Debian's
# containernetworking-plugins), the kubelet and kube-proxy (built by build.sh --node), registered with a
# control plane that start.sh started with KUBE_ADDRESS set to an address this node reaches.
#
# Run it inside the node's own machine: a test host (test/support/testHost.ts), i.e. a network namespace
# and a mount namespace whose /etc, /var, /usr, /opt are overlays and whose /run is a tmpfs. Everything the
# node writes goes there or under DIR; its processes stay in those namespaces; its pods' cgroups are under
# CGROUP_ROOT (a name of the caller's) in each cgroup hierarchy.
#
# Usage: node-start.sh DIR BIN KUBEDIR NODE_NAME NODE_IP POD_CIDR CGROUP_ROOT [IMAGE_ARCHIVE...]
#   DIR            the node's directory on a real file system (not an overlay: containerd's overlayfs
#                  snapshotter keeps its layers there); DIR/pids, DIR/logs/, DIR/pki/
#   BIN            the engine set's bin/ (kubelet, kube-proxy)
#   KUBEDIR        start.sh's directory: its pki/ca.{crt,key} sign the node's certificates, its env names
#                  the API server
#   NODE_NAME      the node's name; NODE_IP its address (the test host's)
#   POD_CIDR       the node's pod subnet (pods reach everything else through the node, masqueraded)
#   CGROUP_ROOT    the kubelet's cgroup root, e.g. /dso-node-1234
#   IMAGE_ARCHIVE  image archives (docker-archive or OCI) imported into containerd's k8s.io namespace
#                  before the kubelet starts, since no registry can be reached: the pause image first
#
# Environment:
#   KUBE_CLUSTER_DNS   the address pods are given as their DNS server (default 10.96.0.10)
#   KUBE_SERVICE_CIDR  the Services' range, routed so that the node's own processes reach Services
#   KUBE_CLUSTER_CIDR  every node's pod subnets (default POD_CIDR: a cluster of one node); pods reach pods in it
#   KUBE_CERTS_DIR     where containerd reads each registry's hosts.toml (default /etc/containerd/certs.d)
#   KUBE_PAUSE_IMAGE   the sandbox image (default registry.k8s.io/pause:3.10)
#   KUBE_START_TIMEOUT seconds to wait for containerd and for the node to be Ready (default 120)
#
# Exits 0 once the node is Ready, leaving its processes running (their PIDs in DIR/pids). The caller stops
# them: the processes of the test host's mount namespace and those of CGROUP_ROOT (test/support/kubeNode.ts).
set -eu

if [ $# -lt 7 ]; then
	echo "usage: $0 DIR BIN KUBEDIR NODE_NAME NODE_IP POD_CIDR CGROUP_ROOT [IMAGE_ARCHIVE...]" >&2
	exit 2
fi
DIR=$1 BIN=$2 KUBEDIR=$3 NODE=$4 NODE_IP=$5 POD_CIDR=$6 CGROUP_ROOT=$7
shift 7
TIMEOUT=${KUBE_START_TIMEOUT:-120}
# The sandbox image containerd's CRI runs for each pod (imported from the first archive).
PAUSE_IMAGE=${KUBE_PAUSE_IMAGE:-registry.k8s.io/pause:3.10}
CLUSTER_DNS=${KUBE_CLUSTER_DNS:-10.96.0.10}
SERVICE_CIDR=${KUBE_SERVICE_CIDR:-}
CLUSTER_CIDR=${KUBE_CLUSTER_CIDR:-$POD_CIDR}
# Where containerd reads each registry's hosts.toml (microk8s's nodes read theirs from the snap's args).
CERTS_DIR=${KUBE_CERTS_DIR:-/etc/containerd/certs.d}
mkdir -p "$DIR/logs" "$DIR/pki" "$DIR/containerd"
LOGS=$DIR/logs
PKI=$DIR/pki
: >"$DIR/pids"
log() { echo "node-start.sh: $*" >&2; }

# shellcheck disable=SC1091 # start.sh's output
. "$KUBEDIR/env"
SERVER=$KUBE_APISERVER_URL

# ---------------------------------------------------------------- certificates
# node_cert NAME SUBJECT: a client certificate signed by the cluster's CA, and a kubeconfig with it.
node_cert() {
	openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "$2" 2>/dev/null
	printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >"$PKI/$1.ext"
	openssl x509 -req -sha256 -days 30 -in "$PKI/$1.csr" -CA "$KUBEDIR/pki/ca.crt" -CAkey "$KUBEDIR/pki/ca.key" \
		-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null
	rm -f "$PKI/$1.csr" "$PKI/$1.ext"
	chmod 600 "$PKI/$1.key"
	cat >"$DIR/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: dso-test
  cluster:
    server: $SERVER
    certificate-authority: $KUBEDIR/pki/ca.crt
users:
- name: $1
  user:
    client-certificate: $PKI/$1.crt
    client-key: $PKI/$1.key
contexts:
- name: dso-test
  context: {cluster: dso-test, user: $1}
current-context: dso-test
EOF
}
node_cert kubelet "/O=system:nodes/CN=system:node:$NODE"
node_cert kube-proxy "/CN=system:kube-proxy"

# ---------------------------------------------------------------- containerd
# Its root on DIR (a real file system), its state and socket in the host's /run.
mkdir -p /etc/containerd /etc/cni/net.d /run/containerd /var/lib/kubelet /var/log/pods "$CERTS_DIR"
cat >/etc/containerd/config.toml <<EOF
version = 2
root = "$DIR/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  enable_selinux = false
  # This machine withholds CAP_SYS_RESOURCE: no process may lower its OOM score below its parent's, which
  # the sandbox's -998 and a Guaranteed container's -997 would. containerd keeps each at least at its own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CERTS_DIR"
EOF
# One bridge for the node's pods; traffic leaving the pod subnet is masqueraded to the node's address.
cat >/etc/cni/net.d/10-dso-bridge.conflist <<EOF
{
  "cniVersion": "0.4.0",
  "name": "dso-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
# A router for its pods; bridged traffic seen by iptables, as kube-proxy's Services need.
sysctl -q -w net.ipv4.ip_forward=1
modprobe br_netfilter 2>/dev/null || true
sysctl -q -w net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
ip link set lo up
# Pods reach each other, the Services (whose rules take them to pods) and the API server; nothing else. A
# connection anywhere else (a cache's upstream on the internet, a DNS server that does not exist here) is
# refused at once instead of hanging until it times out.
API_HOST=$(echo "$SERVER" | sed -e 's|^https://||' -e 's|:[0-9]*$||')
iptables -N DSO-POD-EGRESS
iptables -A DSO-POD-EGRESS -d "$CLUSTER_CIDR" -j RETURN
iptables -A DSO-POD-EGRESS -d "$API_HOST" -j RETURN
iptables -A DSO-POD-EGRESS -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN
iptables -A DSO-POD-EGRESS -j REJECT
iptables -I FORWARD 1 -s "$POD_CIDR" -j DSO-POD-EGRESS
# The node's own connections to a Service need a route for its address before kube-proxy's rules rewrite it
# to a pod's; the node has no default route. The API server's address is the first node's link to this machine:
# another node reaches it through a gateway of its own.
API_GATEWAY=$(ip route get "$API_HOST" | sed -n 's/.* via \([^ ]*\).*/\1/p')
[ -z "$SERVICE_CIDR" ] || ip route replace "$SERVICE_CIDR" via "${API_GATEWAY:-$API_HOST}"

# The kubelet's cgroup root must exist in every hierarchy (cgroup v1 here, or v2); a new cpuset takes its
# parent's CPUs and memory nodes.
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
	[ -e "$h/cgroup.procs" ] || continue
	mkdir -p "$h$CGROUP_ROOT"
	if [ -e "$h/cpuset.cpus" ]; then
		cat "$h/cpuset.cpus" >"$h$CGROUP_ROOT/cpuset.cpus"
		cat "$h/cpuset.mems" >"$h$CGROUP_ROOT/cpuset.mems"
	fi
done

launch() {
	name=$1
	shift
	"$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
	echo $! >>"$DIR/pids"
}
wait_for() {
	what=$1
	shift
	deadline=$(($(date +%s) + TIMEOUT))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			log "timed out after ${TIMEOUT}s waiting for $what"
			for f in "$LOGS"/*.log; do
				echo "----- $f (tail)" >&2
				tail -n 20 "$f" >&2
			done
			return 1
		fi
		sleep 0.5
	done
}

launch containerd /usr/bin/containerd --config /etc/containerd/config.toml
wait_for "containerd" ctr --address /run/containerd/containerd.sock version
for archive in "$@"; do
	ctr --address /run/containerd/containerd.sock -n k8s.io images import --all-platforms "$archive" >>"$LOGS/images.log" 2>&1 || {
		log "importing $archive failed: $(tail -n 5 "$LOGS/images.log")"
		exit 1
	}
done

# ---------------------------------------------------------------- kubelet
cat >"$DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: 10250
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $KUBEDIR/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failSwapOn: false
failCgroupV1: false
clusterDomain: cluster.local
clusterDNS: [$CLUSTER_DNS]
resolvConf: /etc/resolv.conf
serializeImagePulls: false
# A test node: its disk is the machine's, shared with everything else; no eviction for it.
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
protectKernelDefaults: false
makeIPTablesUtilChains: true
registerNode: true
nodeStatusReportFrequency: 10s
# A ConfigMap's new content reaches the pods that mount it within seconds, not the default minute.
syncFrequency: 10s
EOF
launch kubelet "$BIN/kubelet" --config="$DIR/kubelet.yaml" --kubeconfig="$DIR/kubelet.kubeconfig" \
	--hostname-override="$NODE" --node-ip="$NODE_IP" --root-dir=/var/lib/kubelet --cert-dir="$PKI/kubelet-serving" --v=1

# ---------------------------------------------------------------- kube-proxy
cat >"$DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $DIR/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $CLUSTER_CIDR
hostnameOverride: $NODE
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Conntrack's table is the machine's: a test node leaves its limits as they are.
conntrack: {maxPerCore: 0, min: 0, tcpCloseWaitTimeout: 0s, tcpEstablishedTimeout: 0s}
EOF
launch kube-proxy "$BIN/kube-proxy" --config="$DIR/kube-proxy.yaml"

api() {
	curl -sS -A dso-kube-test --max-time 10 --cacert "$KUBEDIR/pki/ca.crt" --cert "$PKI/kubelet.crt" --key "$PKI/kubelet.key" "$SERVER$1"
}
node_ready() { api "/api/v1/nodes/$NODE" | grep -q '"type":"Ready","status":"True"'; }
wait_for "node $NODE Ready" node_ready
log "node $NODE Ready"
