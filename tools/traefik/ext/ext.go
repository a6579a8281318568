// Package ext holds the extension points Traefik's dynamic configuration embeds in its HTTP and Router
// types. The open-source build leaves them empty, and so does this one.
package ext

// HTTP is embedded in Traefik's dynamic HTTP configuration.
type HTTP struct{}

// Router is embedded in Traefik's HTTP router configuration.
type Router struct{}
