// Stands in for Traefik's nested module of the same path (see ../go.mod): the module proxy does not
// serve it and Traefik's module archive leaves it out.
module github.com/traefik/traefik/dynamic/ext

go 1.24.0
