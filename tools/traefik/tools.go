//go:build tools

// Package tools pins the module whose command the build compiles: Traefik's binary (cmd/traefik), which
// the engine tier runs on its real node as the cluster's ingress controller, k3s's default.
package tools

import (
	_ "github.com/traefik/traefik/v3/cmd/traefik"
)
