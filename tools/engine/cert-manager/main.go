// Command cert-manager-controller runs cert-manager's own controllers (module
// github.com/cert-manager/cert-manager, the version go.mod pins) against an API server, for the engine
// tier: the Certificates, the self-signed and CA issuers, the approver and the ingress shim, with
// nothing else. cert-manager publishes its controller's main package as a module of its own that the Go
// module proxy does not serve, so this wrapper starts the same registered controllers through the
// library's public ContextFactory. With --metrics-listen-address it serves cert-manager's own metrics
// (certmanager_certificate_ready_status and the rest of its registry) there, as cert-manager's controller
// does on its port 9402; without it, none (never every address of the machine).
//
//	cert-manager-controller --kubeconfig FILE [--cluster-resource-namespace NS] [--metrics-listen-address HOST:PORT]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"syscall"

	controllerpkg "github.com/cert-manager/cert-manager/pkg/controller"
	ingresses "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

// The controllers this build runs: what issues a certificate from a self-signed or CA issuer.
var controllers = []string{
	trigger.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	issuing.ControllerName,
	revisionmanager.ControllerName,
	approver.ControllerName,
	crselfsigned.CRControllerName,
	crca.CRControllerName,
	issuers.ControllerName,
	clusterissuers.ControllerName,
	ingresses.ControllerName,
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	clusterNamespace := flag.String("cluster-resource-namespace", "cert-manager", "namespace of ClusterIssuers' Secrets")
	metricsAddress := flag.String("metrics-listen-address", "", "host:port of cert-manager's metrics (none when empty)")
	flag.Parse()
	if err := run(*kubeconfig, *clusterNamespace, *metricsAddress); err != nil {
		fmt.Fprintln(os.Stderr, "cert-manager-controller:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, clusterNamespace, metricsAddress string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logf.Log
	ctx = logf.NewContext(ctx, log)
	opts := controllerpkg.ContextOptions{
		Kubeconfig:         kubeconfig,
		KubernetesAPIQPS:   50,
		KubernetesAPIBurst: 100,
	}
	opts.ClusterResourceNamespace = clusterNamespace
	opts.DefaultAutoCertificateAnnotations = []string{"kubernetes.io/tls-acme"}
	factory, err := controllerpkg.NewContextFactory(ctx, opts)
	if err != nil {
		return err
	}
	known := controllerpkg.Known()
	started := make([]string, 0, len(controllers))
	errs := make(chan error, len(controllers))
	for _, name := range controllers {
		construct, ok := known[name]
		if !ok {
			return fmt.Errorf("controller %q is not registered in this cert-manager", name)
		}
		c, err := construct(factory)
		if err != nil {
			return fmt.Errorf("controller %s: %w", name, err)
		}
		started = append(started, name)
		go func() { errs <- c.Run(2, ctx) }()
	}
	shared, err := factory.Build()
	if err != nil {
		return err
	}
	if metricsAddress != "" {
		// The Certificates' collector reads the informer's lister: set up before the informers start.
		shared.Metrics.SetupCertificateCollector(shared.SharedInformerFactory.Certmanager().V1().Certificates().Lister())
		ln, err := net.Listen("tcp", metricsAddress)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		server := shared.Metrics.NewServer(ln)
		go func() { errs <- server.Serve(ln) }()
		defer server.Close()
	}
	shared.KubeSharedInformerFactory.Start(ctx.Done())
	shared.SharedInformerFactory.Start(ctx.Done())
	sort.Strings(started)
	fmt.Fprintf(os.Stderr, "cert-manager-controller: running %v\n", started)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}
