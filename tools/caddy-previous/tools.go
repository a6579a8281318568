//go:build tools

// Package tools pins the module whose command this wrapper builds: the Caddy of the last landed release.
package tools

import _ "github.com/caddyserver/caddy/v2/cmd/caddy"
