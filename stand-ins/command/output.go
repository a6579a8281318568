package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// redactor hides the values of secret inputs in what the provider logs and in its error messages. Upstream
// (pulumi-command v1.2.1) streams output lines and formats errors without looking at secrets; this stand-in masks
// them so that a secret on stdin that a command echoes never reaches the engine's log.
type redactor struct{ secrets []string }

const redacted = "[secret]"

// newRedactor collects every string under a secret marker in the inputs. Of the connection it takes only the
// credential fields: the connection as a whole is secret (the SDK and the schema mark it), but masking its host
// name or user in every log line would hide nothing worth hiding.
func newRedactor(inputs resource.PropertyMap) *redactor {
	seen := map[string]bool{}
	add := func(s string) {
		for _, cand := range append([]string{s}, strings.Split(s, "\n")...) {
			t := strings.TrimSpace(cand)
			minLen := 8 // single lines of a multi-line secret: only distinctive ones
			if cand == s {
				minLen = 3
			}
			if len(t) >= minLen && !seen[t] {
				seen[t] = true
			}
		}
	}
	var walk func(v resource.PropertyValue, secret bool)
	walk = func(v resource.PropertyValue, secret bool) {
		inner, s, _ := unwrap(v)
		secret = secret || s
		switch {
		case inner.IsString():
			if secret {
				add(inner.StringValue())
			}
		case inner.IsArray():
			for _, e := range inner.ArrayValue() {
				walk(e, secret)
			}
		case inner.IsObject():
			for _, e := range inner.ObjectValue() {
				walk(e, secret)
			}
		}
	}
	var walkConn func(v resource.PropertyValue)
	walkConn = func(v resource.PropertyValue) {
		inner, _, _ := unwrap(v)
		if !inner.IsObject() {
			return
		}
		o := inner.ObjectValue()
		for _, f := range secretConnectionFields {
			if fv, ok := o[resource.PropertyKey(f)]; ok {
				walk(fv, true)
			}
		}
		if p, ok := o["proxy"]; ok {
			walkConn(p)
		}
	}
	for k, v := range inputs {
		if k == "connection" {
			walkConn(v)
			continue
		}
		walk(v, false)
	}
	r := &redactor{}
	for s := range seen {
		r.secrets = append(r.secrets, s)
	}
	// Longest first, so that a value containing a shorter one is masked whole.
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

func (r *redactor) mask(s string) string {
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, redacted)
	}
	return s
}

// commandError is the failure of a command, worded as upstream words it
// (remote/commandOutputs.go and local/commandOutputs.go: "%w: running %q:\n%s" with stdout and stderr interleaved),
// with secret values masked.
type commandError struct {
	msg string
	err error
}

func (e *commandError) Error() string { return e.msg }
func (e *commandError) Unwrap() error { return e.err }

func newCommandError(err error, cmd, output string, r *redactor) error {
	return &commandError{msg: r.mask(fmt.Sprintf("%v: running %q:\n%s", err, cmd, output)), err: err}
}

// lockedWriter serializes writes from the stdout and stderr copiers.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// capture collects a command's stdout, stderr and both interleaved, and streams the lines that `logging` selects
// to the engine as ephemeral info messages (util/util.go LogOutput: InfoStatus per line).
type capture struct {
	mu                   sync.Mutex
	stdout, stderr, both bytes.Buffer
	stdoutW, stderrW     io.Writer
	logW                 *io.PipeWriter
	logDone              chan struct{}
}

func newCapture(logStdout, logStderr bool, emit func(line string)) *capture {
	c := &capture{logDone: make(chan struct{})}
	pr, pw := io.Pipe()
	c.logW = pw
	both := lockedWriter{&c.mu, &c.both}
	out := []io.Writer{lockedWriter{&c.mu, &c.stdout}, both}
	errw := []io.Writer{lockedWriter{&c.mu, &c.stderr}, both}
	if logStdout {
		out = append(out, pw)
	}
	if logStderr {
		errw = append(errw, pw)
	}
	c.stdoutW = io.MultiWriter(out...)
	c.stderrW = io.MultiWriter(errw...)
	go func() {
		defer close(c.logDone)
		// A reader (not a Scanner) so that a very long line cannot stop the reading and block the command.
		br := bufio.NewReader(pr)
		for {
			line, err := br.ReadString('\n')
			line = strings.TrimSuffix(line, "\n")
			if line != "" || err == nil {
				emit(line)
			}
			if err != nil {
				_, _ = io.Copy(io.Discard, pr)
				return
			}
		}
	}()
	return c
}

// finish closes the log stream and waits for it to drain; it returns stdout and stderr trimmed of one trailing
// newline (strings.TrimSuffix(..., "\n") upstream) and the interleaved output.
func (c *capture) finish() (stdout, stderr, both string) {
	_ = c.logW.Close()
	<-c.logDone
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSuffix(c.stdout.String(), "\n"), strings.TrimSuffix(c.stderr.String(), "\n"), c.both.String()
}
