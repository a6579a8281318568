//go:build tools

// Package tools pins the module whose commands the build compiles (cmd/containerd and cmd/ctr): the
// containerd of kind's node images (kind v0.32).
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
