package main

// Diagnostics sent back to the Pulumi engine (the Engine service's Log call). Without an engine
// address (unit tests) messages go to stderr.

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

type engineHost struct {
	mu     sync.Mutex
	addr   string
	client pulumirpc.EngineClient
	conn   *grpc.ClientConn
	quiet  bool
	// observe, when set (tests), sees every message as it is sent.
	observe func(sev diag.Severity, msg string, ephemeral bool)
}

func newEngineHost(addr string) *engineHost {
	return &engineHost{addr: addr}
}

// setAddress connects to the engine once its address is known (command line or Handshake).
func (h *engineHost) setAddress(addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if addr == "" || h.client != nil {
		return
	}
	h.addr = addr
}

func (h *engineHost) engine() pulumirpc.EngineClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.client != nil || h.addr == "" {
		return h.client
	}
	conn, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot connect to the engine at %s: %v\n", h.addr, err)
		h.addr = ""
		return nil
	}
	h.conn, h.client = conn, pulumirpc.NewEngineClient(conn)
	return h.client
}

func severity(sev diag.Severity) pulumirpc.LogSeverity {
	switch sev {
	case diag.Debug:
		return pulumirpc.LogSeverity_DEBUG
	case diag.Warning:
		return pulumirpc.LogSeverity_WARNING
	case diag.Error:
		return pulumirpc.LogSeverity_ERROR
	default:
		return pulumirpc.LogSeverity_INFO
	}
}

func (h *engineHost) send(sev diag.Severity, urn resource.URN, msg string, ephemeral bool) {
	if h == nil {
		return
	}
	if h.observe != nil {
		h.observe(sev, msg, ephemeral)
	}
	client := h.engine()
	if client == nil {
		if !h.quiet && msg != "" {
			fmt.Fprintf(os.Stderr, "%s: %s: %s\n", sev, urn, msg)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = client.Log(ctx, &pulumirpc.LogRequest{
		Severity: severity(sev), Message: msg, Urn: string(urn), Ephemeral: ephemeral,
	})
}

// Log writes a diagnostic to the resource's output.
func (h *engineHost) Log(sev diag.Severity, urn resource.URN, msg string) {
	h.send(sev, urn, msg, false)
}

// LogStatus writes an ephemeral status message (the "Info" column of the CLI).
func (h *engineHost) LogStatus(sev diag.Severity, urn resource.URN, msg string) {
	h.send(sev, urn, msg, true)
}
