// Wrapper module: builds Pebble, Let's Encrypt's small ACME test server, and its challenge test server
// (pebble-challtestsrv, used as DNS only) from the published module. The engine tier's prod test points the
// stack's `registry.tls.acmeDirectory` at Pebble, which resolves the registry's names through the challenge
// test server and validates the challenges against the host's front, so the external host's Caddy obtains
// and renews its certificate over ACME as in production, without leaving the test's network.
module dso-registry/tools/engine/pebble

go 1.26.0

require github.com/letsencrypt/pebble/v2 v2.10.3

require (
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/letsencrypt/challtestsrv v1.4.2 // indirect
	github.com/miekg/dns v1.1.62 // indirect
	golang.org/x/mod v0.24.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sync v0.14.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	golang.org/x/tools v0.33.0 // indirect
)
