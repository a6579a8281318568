// Stands in for lego's generated providers/dns file, which imports every DNS provider lego has. Several of
// those providers' SDK modules are not served by the Go module proxy, so this build of
// Traefik has no ACME DNS-01 provider: a certificate resolver with a DNS challenge fails when it starts.
// HTTP-01 and TLS-ALPN-01 challenges do not come through this package.
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v5/challenge"
)

// NewDNSChallengeProviderByName refuses every provider name.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS challenge provider %q: this Traefik build has no DNS providers", name)
}
