/**
 * The Corefile that microk8s's dns addon writes into ConfigMap kube-system/coredns, to which the program
 * adds the registry's server block (components/inCluster/corefile.ts).
 */
export const MICROK8S_COREFILE = `.:53 {
    errors
    health {
      lameduck 5s
    }
    ready
    log . {
      class error
    }
    kubernetes cluster.local in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . 8.8.8.8 8.8.4.4
    cache 30
    loop
    reload
    loadbalance
}
`;
