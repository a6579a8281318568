//go:build tools

// Package tools pins the module whose command the build compiles: kube-network-policies (its cmd package), a
// NetworkPolicy implementation that queues each new connection of a selected pod to user space (nfqueue) and
// answers with a verdict, run on the engine tier's real node as its network policy agent.
package tools

import (
	_ "sigs.k8s.io/kube-network-policies/cmd"
)
