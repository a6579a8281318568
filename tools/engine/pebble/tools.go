//go:build tools

// Package tools pins the module whose command the engine build compiles (cmd/pebble).
package tools

import _ "github.com/letsencrypt/pebble/v2/cmd/pebble"
