package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// recordingSink keeps the diagnostics a test provider sends.
type recordingSink struct {
	mu      sync.Mutex
	entries []logEntry
}

type logEntry struct {
	urn       resource.URN
	sev       severity
	msg       string
	ephemeral bool
}

func (r *recordingSink) log(urn resource.URN, sev severity, msg string, ephemeral bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, logEntry{urn, sev, msg, ephemeral})
}

func (r *recordingSink) all() []logEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logEntry(nil), r.entries...)
}

func (r *recordingSink) text() string {
	var b strings.Builder
	for _, e := range r.all() {
		b.WriteString(e.msg)
		b.WriteString("\n")
	}
	return b.String()
}

// call is one run the fake runner saw.
type call struct {
	cmd                    string
	stdin                  string
	prevStdout, prevStderr string
	host                   string
}

type fakeRunner struct {
	calls  []call
	stdout string
	err    error
	emit   string // a line the fake "command" prints to the log
}

func (f *fakeRunner) run(_ context.Context, log resourceLog, in *commandInputs, cmd, prevStdout, prevStderr string) (string, string, error) {
	c := call{cmd: cmd, prevStdout: prevStdout, prevStderr: prevStderr}
	if in.stdin != nil {
		c.stdin = *in.stdin
	}
	if in.connection != nil && in.connection.host != nil {
		c.host = *in.connection.host
	}
	f.calls = append(f.calls, c)
	if f.emit != "" {
		log.status(f.emit)
	}
	if f.err != nil {
		return "", "", newCommandError(f.err, cmd, f.emit, log.red)
	}
	return f.stdout, "", nil
}

func testProvider() (*commandProvider, *fakeRunner, *recordingSink) {
	sink := &recordingSink{}
	p := newCommandProvider(semver.MustParse("1.2.1"), sink)
	f := &fakeRunner{stdout: "changed /etc/a"}
	p.remote, p.local = f.run, f.run
	return p, f, sink
}

const testURN = resource.URN("urn:pulumi:test::dso::command:remote:Command::f-write")

func TestCheckAppliesDefaultsAndSecrets(t *testing.T) {
	p, _, _ := testProvider()
	news := resource.PropertyMap{
		"create":     str("place"),
		"stdin":      str("body"),
		"update":     resource.NewNullProperty(), // null is absent
		"notAnInput": str("dropped"),
		"connection": obj(resource.PropertyMap{"host": str("h"), "privateKey": str("KEY")}),
	}
	resp, err := p.Check(context.Background(), plugin.CheckRequest{Type: remoteCommandType, News: news})
	if err != nil || len(resp.Failures) != 0 {
		t.Fatalf("check: %v %v", err, resp.Failures)
	}
	got := resp.Properties
	if _, ok := got["notAnInput"]; ok {
		t.Error("unknown property kept")
	}
	if _, ok := got["update"]; ok {
		t.Error("null property kept")
	}
	if got["stdin"].IsSecret() {
		t.Error("stdin made secret though it was not")
	}
	conn := got["connection"]
	if !conn.IsSecret() {
		t.Fatal("connection is not secret")
	}
	c := conn.SecretValue().Element.ObjectValue()
	if !c["privateKey"].IsSecret() {
		t.Error("privateKey is not secret")
	}
	want := map[resource.PropertyKey]resource.PropertyValue{
		"user": str("root"), "port": resource.NewNumberProperty(22),
		"dialErrorLimit": resource.NewNumberProperty(10), "perDialTimeout": resource.NewNumberProperty(15),
	}
	for k, v := range want {
		if !c[k].DeepEquals(v) {
			t.Errorf("default %s: got %v, want %v", k, c[k], v)
		}
	}

	// A value the program set is kept; an SDK-secret connection stays singly secret.
	news["connection"] = secret(obj(resource.PropertyMap{"host": str("h"), "port": resource.NewNumberProperty(2222), "user": str("ops")}))
	resp, _ = p.Check(context.Background(), plugin.CheckRequest{Type: remoteCommandType, News: news})
	c = resp.Properties["connection"].SecretValue().Element.ObjectValue()
	if c["port"].NumberValue() != 2222 || c["user"].StringValue() != "ops" {
		t.Errorf("program values overridden: %v", c)
	}
	if c["host"].IsSecret() {
		t.Error("host wrapped again")
	}
}

func TestCheckFailures(t *testing.T) {
	cases := []struct {
		name string
		typ  resource.PropertyMap
		kind string
		want string
	}{
		{"missing connection", resource.PropertyMap{"create": str("x")}, "remote", "connection"},
		{"missing host", resource.PropertyMap{"connection": obj(resource.PropertyMap{"user": str("u")})}, "remote", "connection.host"},
		{"bad logging", resource.PropertyMap{"connection": obj(resource.PropertyMap{"host": str("h")}), "logging": str("loud")}, "remote", "logging"},
		{"create not a string", resource.PropertyMap{"connection": obj(resource.PropertyMap{"host": str("h")}), "create": resource.NewNumberProperty(1)}, "remote", "create"},
		{"bad port", resource.PropertyMap{"connection": obj(resource.PropertyMap{"host": str("h"), "port": str("22")})}, "remote", "connection.port"},
		{"assetPaths unsupported", resource.PropertyMap{"assetPaths": list(str("*"))}, "local", "assetPaths"},
		{"interpreter not strings", resource.PropertyMap{"interpreter": list(resource.NewNumberProperty(1))}, "local", "interpreter"},
	}
	p, _, _ := testProvider()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ := remoteCommandType
			if tc.kind == "local" {
				typ = localCommandType
			}
			resp, err := p.Check(context.Background(), plugin.CheckRequest{Type: typ, News: tc.typ})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Failures) != 1 || string(resp.Failures[0].Property) != tc.want {
				t.Fatalf("failures: %+v, want one on %s", resp.Failures, tc.want)
			}
		})
	}
	// Unknown values (preview) pass Check.
	resp, _ := p.Check(context.Background(), plugin.CheckRequest{Type: remoteCommandType, News: resource.PropertyMap{
		"connection": obj(resource.PropertyMap{"host": unknown()}), "stdin": unknown(),
	}})
	if len(resp.Failures) != 0 {
		t.Errorf("unknowns fail check: %v", resp.Failures)
	}
	if _, err := p.Check(context.Background(), plugin.CheckRequest{Type: "command:remote:CopyToRemote"}); err == nil {
		t.Error("an unserved type was accepted")
	}
}

func checked(t *testing.T, p *commandProvider, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Check(context.Background(), plugin.CheckRequest{Type: remoteCommandType, News: news})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %v", err, resp.Failures)
	}
	return resp.Properties
}

func baseInputs() resource.PropertyMap {
	return resource.PropertyMap{
		"create":     str("place"),
		"delete":     str("remove"),
		"stdin":      secret(str("the-secret-body")),
		"connection": obj(resource.PropertyMap{"host": str("h1")}),
	}
}

func TestCreatePreviewRunsNothing(t *testing.T) {
	p, f, _ := testProvider()
	in := checked(t, p, baseInputs())
	in["triggers"] = list(unknown())
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "f-write", Type: remoteCommandType, Properties: in, Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 0 {
		t.Fatal("preview ran a command")
	}
	for _, k := range []resource.PropertyKey{"stdout", "stderr"} {
		if !resp.Properties[k].IsComputed() {
			t.Errorf("%s is not unknown in preview: %v", k, resp.Properties[k])
		}
	}
	if !resp.Properties["stdin"].IsSecret() || !resp.Properties["connection"].IsSecret() {
		t.Error("secret inputs lost their secrecy in the outputs")
	}
}

func TestCreateRunsCreate(t *testing.T) {
	p, f, _ := testProvider()
	in := checked(t, p, baseInputs())
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "f-write", Type: remoteCommandType, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || f.calls[0].cmd != "place" || f.calls[0].stdin != "the-secret-body" || f.calls[0].prevStdout != "" {
		t.Fatalf("calls: %+v", f.calls)
	}
	if !strings.HasPrefix(string(resp.ID), "f-write") || len(resp.ID) != len("f-write")+8 {
		t.Errorf("id %q is not name plus 8 hex digits", resp.ID)
	}
	out := resp.Properties
	if out["stdout"].StringValue() != "changed /etc/a" || out["stderr"].StringValue() != "" {
		t.Errorf("stdout/stderr: %v %v", out["stdout"], out["stderr"])
	}
	// Upstream does not make stdout/stderr secret because an input is: the program asks with additionalSecretOutputs.
	if out["stdout"].IsSecret() {
		t.Error("stdout made secret")
	}
	for k, v := range in {
		if !out[k].DeepEquals(v) {
			t.Errorf("output %s does not mirror the input: %v vs %v", k, out[k], v)
		}
	}
}

func TestCreateWithoutScript(t *testing.T) {
	p, f, _ := testProvider()
	in := checked(t, p, resource.PropertyMap{"connection": obj(resource.PropertyMap{"host": str("h")})})
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "n", Type: remoteCommandType, Properties: in})
	if err != nil || len(f.calls) != 0 {
		t.Fatalf("%v %v", err, f.calls)
	}
	if resp.Properties["stdout"].StringValue() != "" || resp.Properties["stderr"].StringValue() != "" {
		t.Error("stdout/stderr not empty")
	}
}

func TestCreateFailureLeavesNoState(t *testing.T) {
	p, f, sink := testProvider()
	f.err = errors.New("Process exited with status 1")
	f.emit = "cat: the-secret-body: no such file"
	in := checked(t, p, baseInputs())
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "n", Type: remoteCommandType, Properties: in})
	if err == nil {
		t.Fatal("no error")
	}
	if resp.ID != "" || resp.Properties != nil {
		t.Errorf("partial state returned: %+v", resp)
	}
	want := "Process exited with status 1: running \"place\":\ncat: [secret]: no such file"
	if err.Error() != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if strings.Contains(sink.text(), "the-secret-body") {
		t.Errorf("secret logged: %s", sink.text())
	}
	entries := sink.all()
	if len(entries) != 1 || entries[0].urn != testURN || !entries[0].ephemeral || entries[0].sev != sevInfo {
		t.Errorf("log entries: %+v", entries)
	}
}

func stateAfterCreate(t *testing.T, p *commandProvider, in resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "n", Type: remoteCommandType, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Properties
}

func TestUpdateRunsUpdateOrCreate(t *testing.T) {
	p, f, _ := testProvider()
	olds := checked(t, p, baseInputs())
	state := stateAfterCreate(t, p, olds)
	f.calls = nil

	// No update script: create runs again, with the new inputs and the previous stdout.
	newsIn := baseInputs()
	newsIn["stdin"] = secret(str("body-2"))
	newsIn["connection"] = obj(resource.PropertyMap{"host": str("h2")})
	news := checked(t, p, newsIn)
	f.stdout = "changed again"
	resp, err := p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || f.calls[0] != (call{cmd: "place", stdin: "body-2", prevStdout: "changed /etc/a", host: "h2"}) {
		t.Fatalf("calls: %+v", f.calls)
	}
	if resp.Properties["stdout"].StringValue() != "changed again" {
		t.Errorf("stdout: %v", resp.Properties["stdout"])
	}

	// An update script wins over create.
	newsIn["update"] = str("refresh")
	news = checked(t, p, newsIn)
	f.calls = nil
	if _, err := p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || f.calls[0].cmd != "refresh" {
		t.Fatalf("calls: %+v", f.calls)
	}

	// Neither script: nothing runs, the old output stays.
	delete(newsIn, "update")
	delete(newsIn, "create")
	news = checked(t, p, newsIn)
	f.calls = nil
	resp, err = p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news})
	if err != nil || len(f.calls) != 0 || resp.Properties["stdout"].StringValue() != "changed /etc/a" {
		t.Fatalf("%v %+v %v", err, f.calls, resp.Properties["stdout"])
	}
}

func TestUpdatePreviewAndFailure(t *testing.T) {
	p, f, _ := testProvider()
	olds := checked(t, p, baseInputs())
	state := stateAfterCreate(t, p, olds)
	f.calls = nil
	newsIn := baseInputs()
	newsIn["create"] = str("place2")
	news := checked(t, p, newsIn)

	resp, err := p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news, Preview: true})
	if err != nil || len(f.calls) != 0 {
		t.Fatalf("%v %+v", err, f.calls)
	}
	if !resp.Properties["stdout"].IsComputed() || !resp.Properties["stderr"].IsComputed() {
		t.Errorf("stdout/stderr known in an update preview: %v", resp.Properties)
	}
	if resp.Properties["create"].StringValue() != "place2" {
		t.Error("new inputs not in the preview outputs")
	}

	f.err = errors.New("Process exited with status 2")
	resp, err = p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news})
	if err == nil || resp.Properties != nil {
		t.Fatalf("failed update: %v %+v", err, resp)
	}
}

func TestDeleteRunsStoredScript(t *testing.T) {
	p, f, _ := testProvider()
	olds := checked(t, p, baseInputs())
	state := stateAfterCreate(t, p, olds)
	f.calls = nil

	// The engine's new inputs do not matter: delete works on the stored state.
	other := checked(t, p, resource.PropertyMap{"delete": str("other"), "stdin": str("x"), "connection": obj(resource.PropertyMap{"host": str("h9")})})
	if _, err := p.Delete(context.Background(), plugin.DeleteRequest{URN: testURN, Type: remoteCommandType, Inputs: other, Outputs: state}); err != nil {
		t.Fatal(err)
	}
	want := call{cmd: "remove", stdin: "the-secret-body", prevStdout: "changed /etc/a", host: "h1"}
	if len(f.calls) != 1 || f.calls[0] != want {
		t.Fatalf("calls: %+v, want %+v", f.calls, want)
	}

	// No delete script: nothing runs.
	in := baseInputs()
	delete(in, "delete")
	state = stateAfterCreate(t, p, checked(t, p, in))
	f.calls = nil
	if _, err := p.Delete(context.Background(), plugin.DeleteRequest{URN: testURN, Type: remoteCommandType, Outputs: state}); err != nil || len(f.calls) != 0 {
		t.Fatalf("%v %+v", err, f.calls)
	}

	// A failing delete fails.
	state = stateAfterCreate(t, p, olds)
	f.err = errors.New("Process exited with status 1")
	if _, err := p.Delete(context.Background(), plugin.DeleteRequest{URN: testURN, Type: remoteCommandType, Outputs: state}); err == nil {
		t.Fatal("failed delete succeeded")
	}
}

func TestReadReturnsStateUnchanged(t *testing.T) {
	p, _, _ := testProvider()
	state := resource.PropertyMap{"create": str("x"), "stdout": str("y")}
	resp, err := p.Read(context.Background(), plugin.ReadRequest{Type: localCommandType, ID: "id1", Inputs: resource.PropertyMap{"create": str("x")}, State: state})
	if err != nil || resp.ID != "id1" || !resp.Outputs.DeepEquals(state) {
		t.Fatalf("%v %+v", err, resp)
	}
}

func TestRedactor(t *testing.T) {
	r := newRedactor(resource.PropertyMap{
		"stdin":  secret(str("line one is long\nuser:$2y$05$hash\nx\n")),
		"create": str("public script"),
		"environment": obj(resource.PropertyMap{
			"TOKEN": secret(str("tok")),
		}),
		"connection": secret(obj(resource.PropertyMap{"host": str("10.0.0.1"), "user": str("root"), "password": secret(str("pw-123"))})),
	})
	in := "user:$2y$05$hash from 10.0.0.1 as root with pw-123 and tok; public script; x"
	got := r.mask(in)
	want := "[secret] from 10.0.0.1 as root with [secret] and [secret]; public script; x"
	if got != want {
		t.Errorf("mask:\n%s\nwant:\n%s", got, want)
	}
}
