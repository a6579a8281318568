//go:build tools

// Package tools pins the module whose commands the engine build compiles: cmd/pebble, the ACME server, and
// cmd/pebble-challtestsrv, whose DNS server is the name service Pebble's validation asks.
package tools

import (
	_ "github.com/letsencrypt/pebble/v2/cmd/pebble"
	_ "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv"
)
