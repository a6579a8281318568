package main

import (
	"context"
	"sync"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
)

type severity int

const (
	sevDebug severity = iota
	sevInfo
	sevWarning
	sevError
)

// diagSink receives the provider's diagnostics for one resource.
type diagSink interface {
	log(urn resource.URN, sev severity, msg string, ephemeral bool)
}

// resourceLog is what an operation writes through: the sink, the resource's URN and the masking of secrets.
type resourceLog struct {
	sink diagSink
	urn  resource.URN
	red  *redactor
}

func (l resourceLog) emit(sev severity, msg string, ephemeral bool) {
	if l.sink == nil {
		return
	}
	l.sink.log(l.urn, sev, l.red.mask(msg), ephemeral)
}

// status is an ephemeral info message, as pulumi-go-provider's Logger.InfoStatus.
func (l resourceLog) status(msg string) { l.emit(sevInfo, msg, true) }

// engineSink sends diagnostics to the engine's Engine service (the address the engine passes as the first
// non-flag argument, or the one it sends in Handshake).
type engineSink struct {
	mu     sync.Mutex
	addr   string
	conn   *grpc.ClientConn
	client pulumirpc.EngineClient
	failed bool
}

func (e *engineSink) setAddress(addr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.addr == "" {
		e.addr = addr
	}
}

func (e *engineSink) engine() pulumirpc.EngineClient {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.client != nil || e.failed || e.addr == "" {
		return e.client
	}
	conn, err := grpc.NewClient(e.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		e.failed = true
		return nil
	}
	e.conn = conn
	e.client = pulumirpc.NewEngineClient(conn)
	return e.client
}

func (e *engineSink) log(urn resource.URN, sev severity, msg string, ephemeral bool) {
	client := e.engine()
	if client == nil {
		return
	}
	rpcSev := map[severity]pulumirpc.LogSeverity{
		sevDebug: pulumirpc.LogSeverity_DEBUG, sevInfo: pulumirpc.LogSeverity_INFO,
		sevWarning: pulumirpc.LogSeverity_WARNING, sevError: pulumirpc.LogSeverity_ERROR,
	}[sev]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Diagnostics are best effort: a lost log line must not fail the command.
	_, _ = client.Log(ctx, &pulumirpc.LogRequest{
		Severity: rpcSev, Message: msg, Urn: string(urn), Ephemeral: ephemeral,
	})
}

func (e *engineSink) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		_ = e.conn.Close()
	}
}
