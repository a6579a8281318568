// Added to go-http-auth v0.4.0 for Traefik, which is written against a fork of the library (a version the
// module proxy does not serve) that has these two functions besides v0.4.0's API. They use v0.4.0's own
// password comparisons and challenge.
package auth

import (
	"net/http"
	"strings"
)

// CheckSecret tells whether password matches secret, an htpasswd entry's hash (bcrypt, {SHA} or MD5-crypt),
// chosen by the hash's prefix as BasicAuth.CheckAuth chooses it.
func CheckSecret(password, secret string) bool {
	compare := compareFuncs[0].compare
	for _, candidate := range compareFuncs[1:] {
		if strings.HasPrefix(secret, candidate.prefix) {
			compare = candidate.compare
			break
		}
	}
	return compare([]byte(secret), []byte(password)) == nil
}

// RequireAuthStale answers as RequireAuth does, with stale=true added to the challenge: the client's nonce
// has expired and it may retry with the same credentials.
func (a *DigestAuth) RequireAuthStale(w http.ResponseWriter, r *http.Request) {
	a.RequireAuth(staleChallenge{ResponseWriter: w, header: a.Headers.V().Authenticate}, r)
}

// staleChallenge adds stale=true to the challenge header when the answer's status is written.
type staleChallenge struct {
	http.ResponseWriter
	header string
}

func (s staleChallenge) WriteHeader(code int) {
	if challenge := s.Header().Get(s.header); challenge != "" {
		s.Header().Set(s.header, challenge+", stale=true")
	}
	s.ResponseWriter.WriteHeader(code)
}
