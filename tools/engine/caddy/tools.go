//go:build tools

// Package tools pins the module whose command the engine build compiles (cmd/caddy, with Caddy's
// standard modules): the Caddy of the `caddy:2.8.4` image the cluster and kind fronts run.
package tools

import _ "github.com/caddyserver/caddy/v2/cmd/caddy"
