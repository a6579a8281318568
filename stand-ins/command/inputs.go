package main

import (
	"fmt"
	"math"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// The two resource types this stand-in serves.
const (
	remoteCommandType tokens.Type = "command:remote:Command"
	localCommandType  tokens.Type = "command:local:Command"
)

type resourceKind int

const (
	kindRemote resourceKind = iota
	kindLocal
)

func kindOf(t tokens.Type) (resourceKind, error) {
	switch t {
	case remoteCommandType:
		return kindRemote, nil
	case localCommandType:
		return kindLocal, nil
	}
	return 0, fmt.Errorf("this stand-in command provider serves only %s and %s, not %s",
		remoteCommandType, localCommandType, t)
}

// propKind is the wire shape expected of an input property.
type propKind int

const (
	propString propKind = iota
	propBool
	propNumber
	propStringList
	propStringMap
	propAnyList
	propObject
)

// Input properties of each resource type, named as in the schema of pulumi-command v1.2.1:
// provider/pkg/provider/common/inputs.go (triggers, create, update, delete),
// provider/pkg/provider/remote/command.go (stdin, logging, connection, environment, addPreviousOutputInEnv),
// provider/pkg/provider/local/base.go (stdin, logging, interpreter, dir, environment, assetPaths, archivePaths,
// addPreviousOutputInEnv).
var commonProps = map[string]propKind{
	"triggers":               propAnyList,
	"create":                 propString,
	"update":                 propString,
	"delete":                 propString,
	"stdin":                  propString,
	"logging":                propString,
	"environment":            propStringMap,
	"addPreviousOutputInEnv": propBool,
}

var remoteOnlyProps = map[string]propKind{
	"connection": propObject,
}

var localOnlyProps = map[string]propKind{
	"interpreter":  propStringList,
	"dir":          propString,
	"assetPaths":   propStringList,
	"archivePaths": propStringList,
}

// Fields of connection and proxy: provider/pkg/provider/remote/connection.go (connectionBase, Connection.Proxy).
var connectionProps = map[string]propKind{
	"user":               propString,
	"password":           propString,
	"host":               propString,
	"port":               propNumber,
	"privateKey":         propString,
	"privateKeyPassword": propString,
	"agentSocketPath":    propString,
	"dialErrorLimit":     propNumber,
	"perDialTimeout":     propNumber,
	"hostKey":            propString,
	"proxy":              propObject,
}

// Connection fields tagged provider:"secret" upstream (remote/connection.go).
var secretConnectionFields = []string{"password", "privateKey", "privateKeyPassword"}

// Logging values: provider/pkg/provider/remote/logging.go and local/logging.go.
var loggingValues = map[string]bool{"stdout": true, "stderr": true, "stdoutAndStderr": true, "none": true}

func inputProps(k resourceKind) map[string]propKind {
	out := map[string]propKind{}
	for n, p := range commonProps {
		out[n] = p
	}
	extra := remoteOnlyProps
	if k == kindLocal {
		extra = localOnlyProps
	}
	for n, p := range extra {
		out[n] = p
	}
	return out
}

// unwrap strips secret and output wrappers; unknown reports a value not known yet (preview).
func unwrap(v resource.PropertyValue) (inner resource.PropertyValue, secret, unknown bool) {
	for {
		switch {
		case v.IsSecret():
			secret = true
			v = v.SecretValue().Element
		case v.IsOutput():
			o := v.OutputValue()
			secret = secret || o.Secret
			if !o.Known {
				return v, secret, true
			}
			v = o.Element
		case v.IsComputed():
			return v, secret, true
		default:
			return v, secret, false
		}
	}
}

// rewrap puts inner back under the secret marker when the original value had one.
func rewrap(orig, inner resource.PropertyValue) resource.PropertyValue {
	if orig.IsSecret() {
		return resource.MakeSecret(rewrap(orig.SecretValue().Element, inner))
	}
	return inner
}

func shapeOK(v resource.PropertyValue, k propKind) bool {
	switch k {
	case propString:
		return v.IsString()
	case propBool:
		return v.IsBool()
	case propNumber:
		return v.IsNumber()
	case propObject:
		return v.IsObject()
	case propAnyList:
		return v.IsArray()
	case propStringList:
		if !v.IsArray() {
			return false
		}
		for _, e := range v.ArrayValue() {
			if e, _, unknown := unwrap(e); !unknown && !e.IsString() {
				return false
			}
		}
		return true
	case propStringMap:
		if !v.IsObject() {
			return false
		}
		for _, e := range v.ObjectValue() {
			if e, _, unknown := unwrap(e); !unknown && !e.IsString() {
				return false
			}
		}
		return true
	}
	return false
}

var kindNames = map[propKind]string{
	propString: "a string", propBool: "a boolean", propNumber: "a number", propStringList: "a list of strings",
	propStringMap: "a map of strings", propAnyList: "a list", propObject: "an object",
}

// checkInputs validates inputs the way the upstream infer layer decodes them into the typed input struct, applies
// the defaults the upstream schema declares, and marks the upstream secret fields secret (pulumi-go-provider
// infer/resource.go Check: decode, applyDefaults, applySecrets). Unknown property names are dropped (the upstream
// re-encodes from its struct), nulls count as absent (optional pointer fields).
func checkInputs(kind resourceKind, news resource.PropertyMap) (resource.PropertyMap, []plugin.CheckFailure) {
	props := inputProps(kind)
	out := resource.PropertyMap{}
	var failures []plugin.CheckFailure
	fail := func(prop, format string, args ...any) {
		failures = append(failures, plugin.CheckFailure{Property: resource.PropertyKey(prop), Reason: fmt.Sprintf(format, args...)})
	}
	keys := make([]string, 0, len(news))
	for k := range news {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	for _, name := range keys {
		v := news[resource.PropertyKey(name)]
		pk, known := props[name]
		if !known {
			continue
		}
		inner, _, unknown := unwrap(v)
		if !unknown && inner.IsNull() {
			continue
		}
		if !unknown && !shapeOK(inner, pk) {
			fail(name, "%s must be %s", name, kindNames[pk])
			continue
		}
		if !unknown && name == "logging" && !loggingValues[inner.StringValue()] {
			fail(name, "logging must be one of stdout, stderr, stdoutAndStderr, none; got %q", inner.StringValue())
			continue
		}
		if (name == "assetPaths" || name == "archivePaths") && kind == kindLocal {
			fail(name, "%s is not supported by this stand-in command provider", name)
			continue
		}
		if name == "connection" && !unknown {
			conn, connFailures := checkConnection("connection", inner)
			failures = append(failures, connFailures...)
			v = rewrap(v, conn)
		}
		if name == "connection" && !v.IsSecret() && !v.IsComputed() {
			// remote/command.go: Connection is tagged provider:"secret".
			v = resource.MakeSecret(v)
		}
		out[resource.PropertyKey(name)] = v
	}
	if kind == kindRemote {
		if _, ok := out["connection"]; !ok {
			fail("connection", "missing required property connection")
		}
	}
	return out, failures
}

// checkConnection validates a connection (or proxy) object and applies the upstream defaults
// (remote/connection.go Annotate: user "root", port 22, dialErrorLimit 10, perDialTimeout 15).
func checkConnection(path string, v resource.PropertyValue) (resource.PropertyValue, []plugin.CheckFailure) {
	var failures []plugin.CheckFailure
	fail := func(prop, format string, args ...any) {
		failures = append(failures, plugin.CheckFailure{Property: resource.PropertyKey(prop), Reason: fmt.Sprintf(format, args...)})
	}
	obj := resource.PropertyMap{}
	for k, fv := range v.ObjectValue() {
		name := string(k)
		pk, known := connectionProps[name]
		if !known {
			continue
		}
		inner, _, unknown := unwrap(fv)
		if !unknown && inner.IsNull() {
			continue
		}
		if !unknown && !shapeOK(inner, pk) {
			fail(path+"."+name, "%s.%s must be %s", path, name, kindNames[pk])
			continue
		}
		if !unknown && (name == "dialErrorLimit" || name == "perDialTimeout") {
			n := inner.NumberValue()
			if n != math.Trunc(n) {
				fail(path+"."+name, "%s.%s must be a whole number", path, name)
				continue
			}
		}
		if name == "proxy" && !unknown {
			proxy, proxyFailures := checkConnection(path+".proxy", inner)
			failures = append(failures, proxyFailures...)
			// The proxy has no proxy of its own (remote/proxyConnection.go).
			if p := proxy.ObjectValue(); p != nil {
				delete(p, "proxy")
			}
			fv = rewrap(fv, proxy)
		}
		for _, s := range secretConnectionFields {
			if name == s && !fv.IsSecret() && !fv.IsComputed() {
				fv = resource.MakeSecret(fv)
			}
		}
		obj[k] = fv
	}
	if _, ok := obj["host"]; !ok {
		fail(path+".host", "missing required property %s.host", path)
	}
	defaults := map[resource.PropertyKey]resource.PropertyValue{
		"user":           resource.NewStringProperty("root"),
		"port":           resource.NewNumberProperty(22),
		"dialErrorLimit": resource.NewNumberProperty(10),
		"perDialTimeout": resource.NewNumberProperty(15),
	}
	for k, d := range defaults {
		if _, ok := obj[k]; !ok {
			obj[k] = d
		}
	}
	return resource.NewObjectProperty(obj), failures
}

// connection holds the settings of remote/connection.go connectionBase plus the proxy.
type connection struct {
	user, password, host, privateKey, privateKeyPassword, agentSocketPath, hostKey *string
	port                                                                           *float64
	dialErrorLimit, perDialTimeout                                                 *int
	proxy                                                                          *connection
}

// commandInputs are the decoded inputs (or stored state) of either resource type.
type commandInputs struct {
	create, update, delete, stdin, logging, dir *string
	environment                                 map[string]string
	addPreviousOutputInEnv                      *bool
	interpreter                                 []string
	connection                                  *connection
}

func (c *commandInputs) addPreviousOutput() bool {
	return c.addPreviousOutputInEnv == nil || *c.addPreviousOutputInEnv
}

// Logging switches, as remote/logging.go and local/logging.go: unset logs both streams; an unknown value logs none.
func (c *commandInputs) logStdout() bool {
	return c.logging == nil || *c.logging == "stdout" || *c.logging == "stdoutAndStderr"
}

func (c *commandInputs) logStderr() bool {
	return c.logging == nil || *c.logging == "stderr" || *c.logging == "stdoutAndStderr"
}

// decodeInputs reads known inputs or state into commandInputs; it fails on any unknown value, which the engine
// never sends outside previews.
func decodeInputs(kind resourceKind, m resource.PropertyMap) (*commandInputs, error) {
	d := decoder{}
	in := &commandInputs{
		create:                 d.str(m, "create"),
		update:                 d.str(m, "update"),
		delete:                 d.str(m, "delete"),
		stdin:                  d.str(m, "stdin"),
		logging:                d.str(m, "logging"),
		environment:            d.strMap(m, "environment"),
		addPreviousOutputInEnv: d.boolean(m, "addPreviousOutputInEnv"),
	}
	if kind == kindLocal {
		in.dir = d.str(m, "dir")
		in.interpreter = d.strList(m, "interpreter")
	} else {
		in.connection = d.conn(m, "connection")
		if in.connection == nil && d.err == nil {
			d.err = fmt.Errorf("connection is required")
		}
	}
	return in, d.err
}

type decoder struct{ err error }

func (d *decoder) get(m resource.PropertyMap, name string) (resource.PropertyValue, bool) {
	v, ok := m[resource.PropertyKey(name)]
	if !ok {
		return v, false
	}
	inner, _, unknown := unwrap(v)
	if unknown {
		if d.err == nil {
			d.err = fmt.Errorf("%s is not known yet", name)
		}
		return inner, false
	}
	if inner.IsNull() {
		return inner, false
	}
	return inner, true
}

func (d *decoder) typeErr(name, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s must be %s", name, want)
	}
}

func (d *decoder) str(m resource.PropertyMap, name string) *string {
	v, ok := d.get(m, name)
	if !ok {
		return nil
	}
	if !v.IsString() {
		d.typeErr(name, "a string")
		return nil
	}
	s := v.StringValue()
	return &s
}

func (d *decoder) boolean(m resource.PropertyMap, name string) *bool {
	v, ok := d.get(m, name)
	if !ok {
		return nil
	}
	if !v.IsBool() {
		d.typeErr(name, "a boolean")
		return nil
	}
	b := v.BoolValue()
	return &b
}

func (d *decoder) number(m resource.PropertyMap, name string) *float64 {
	v, ok := d.get(m, name)
	if !ok {
		return nil
	}
	if !v.IsNumber() {
		d.typeErr(name, "a number")
		return nil
	}
	n := v.NumberValue()
	return &n
}

func (d *decoder) integer(m resource.PropertyMap, name string) *int {
	n := d.number(m, name)
	if n == nil {
		return nil
	}
	i := int(*n)
	return &i
}

func (d *decoder) strList(m resource.PropertyMap, name string) []string {
	v, ok := d.get(m, name)
	if !ok {
		return nil
	}
	if !v.IsArray() {
		d.typeErr(name, "a list of strings")
		return nil
	}
	out := []string{}
	for i, e := range v.ArrayValue() {
		s := d.str(resource.PropertyMap{"e": e}, fmt.Sprintf("%s[%d]", name, i))
		if s != nil {
			out = append(out, *s)
		}
	}
	return out
}

func (d *decoder) strMap(m resource.PropertyMap, name string) map[string]string {
	v, ok := d.get(m, name)
	if !ok {
		return nil
	}
	if !v.IsObject() {
		d.typeErr(name, "a map of strings")
		return nil
	}
	out := map[string]string{}
	for k, e := range v.ObjectValue() {
		inner, _, unknown := unwrap(e)
		switch {
		case unknown:
			d.typeErr(name+"."+string(k), "known")
		case inner.IsString():
			out[string(k)] = inner.StringValue()
		default:
			d.typeErr(name+"."+string(k), "a string")
		}
	}
	return out
}

func (d *decoder) conn(m resource.PropertyMap, name string) *connection {
	v, ok := d.get(m, name)
	if !ok {
		return nil
	}
	if !v.IsObject() {
		d.typeErr(name, "an object")
		return nil
	}
	o := v.ObjectValue()
	return &connection{
		user:               d.str(o, "user"),
		password:           d.str(o, "password"),
		host:               d.str(o, "host"),
		port:               d.number(o, "port"),
		privateKey:         d.str(o, "privateKey"),
		privateKeyPassword: d.str(o, "privateKeyPassword"),
		agentSocketPath:    d.str(o, "agentSocketPath"),
		dialErrorLimit:     d.integer(o, "dialErrorLimit"),
		perDialTimeout:     d.integer(o, "perDialTimeout"),
		hostKey:            d.str(o, "hostKey"),
		proxy:              d.conn(o, "proxy"),
	}
}

// previousOutput reads stdout and stderr from stored state (possibly secret when the program asked for it).
func previousOutput(state resource.PropertyMap) (stdout, stderr string) {
	get := func(k resource.PropertyKey) string {
		v, _, unknown := unwrap(state[k])
		if unknown || !v.IsString() {
			return ""
		}
		return v.StringValue()
	}
	return get("stdout"), get("stderr")
}
