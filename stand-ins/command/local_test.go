package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

const localURN = resource.URN("urn:pulumi:test::dso::command:local:Command::corefile")

func localProvider() (*commandProvider, *recordingSink) {
	sink := &recordingSink{}
	return newCommandProvider(semver.MustParse("1.2.1"), sink), sink
}

func checkedLocal(t *testing.T, p *commandProvider, news resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	resp, err := p.Check(context.Background(), plugin.CheckRequest{Type: localCommandType, News: news})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %v", err, resp.Failures)
	}
	return resp.Properties
}

func TestLocalLifecycle(t *testing.T) {
	p, sink := localProvider()
	dir := t.TempDir()
	t.Setenv("DSO_FROM_PROVIDER_ENV", "inherited")
	in := checkedLocal(t, p, resource.PropertyMap{
		"create":      str(`cat > block; echo "created in $(pwd) $DSO_FROM_PROVIDER_ENV $DSO_SET"; echo to-stderr >&2`),
		"update":      str(`echo "updated after [$PULUMI_COMMAND_STDOUT] [$PULUMI_COMMAND_STDERR]"`),
		"delete":      str(`echo "deleting after [$PULUMI_COMMAND_STDOUT]" > deleted; cat >> deleted`),
		"stdin":       str("server block\n"),
		"dir":         str(dir),
		"environment": obj(resource.PropertyMap{"DSO_SET": str("set")}),
		"interpreter": list(str("/bin/sh"), str("-c")),
		"logging":     str("stdout"),
	})
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: localURN, Name: "corefile", Type: localCommandType, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	state := resp.Properties
	wantStdout := "created in " + dir + " inherited set"
	if got := state["stdout"].StringValue(); got != wantStdout {
		t.Errorf("stdout %q, want %q (trailing newline trimmed)", got, wantStdout)
	}
	if got := state["stderr"].StringValue(); got != "to-stderr" {
		t.Errorf("stderr %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "block")); string(b) != "server block\n" {
		t.Errorf("stdin not piped: %q", b)
	}
	// logging "stdout": stdout lines are streamed, stderr lines are not.
	logged := sink.text()
	if !strings.Contains(logged, wantStdout) || strings.Contains(logged, "to-stderr") {
		t.Errorf("streamed: %q", logged)
	}

	// Update: the update script sees the previous output.
	news := in.Copy()
	news["stdin"] = str("server block 2\n")
	up, err := p.Update(context.Background(), plugin.UpdateRequest{URN: localURN, Type: localCommandType, OldInputs: in, OldOutputs: state, NewInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := up.Properties["stdout"].StringValue(), "updated after ["+wantStdout+"] [to-stderr]"; got != want {
		t.Errorf("update stdout %q, want %q", got, want)
	}

	// Delete: the stored delete with the stored stdin and the stored stdout.
	if _, err := p.Delete(context.Background(), plugin.DeleteRequest{URN: localURN, Type: localCommandType, Outputs: up.Properties}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "deleted"))
	if want := "deleting after [updated after [" + wantStdout + "] [to-stderr]]\nserver block 2\n"; string(b) != want {
		t.Errorf("delete wrote %q, want %q", b, want)
	}
}

func TestLocalNoPreviousOutputAndDefaults(t *testing.T) {
	p, sink := localProvider()
	dir := t.TempDir()
	t.Chdir(dir) // the default directory is the provider's working directory
	in := checkedLocal(t, p, resource.PropertyMap{
		"create":                 str(`echo "[${PULUMI_COMMAND_STDOUT-unset}] $(pwd) $0"`),
		"addPreviousOutputInEnv": resource.NewBoolProperty(false),
		"logging":                str("none"),
	})
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: localURN, Name: "c", Type: localCommandType, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := resp.Properties["stdout"].StringValue(), "[unset] "+dir+" /bin/sh"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	news := in.Copy()
	news["triggers"] = list(str("x"))
	up, err := p.Update(context.Background(), plugin.UpdateRequest{URN: localURN, Type: localCommandType, OldInputs: in, OldOutputs: resp.Properties, NewInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	if got := up.Properties["stdout"].StringValue(); !strings.HasPrefix(got, "[unset]") {
		t.Errorf("previous output passed though addPreviousOutputInEnv is false: %q", got)
	}
	if len(sink.all()) != 0 {
		t.Errorf("logging none streamed: %+v", sink.all())
	}
}

func TestLocalFailure(t *testing.T) {
	p, _ := localProvider()
	in := checkedLocal(t, p, resource.PropertyMap{
		"create": str("echo out; echo err >&2; exit 3"),
	})
	_, err := p.Create(context.Background(), plugin.CreateRequest{URN: localURN, Name: "c", Type: localCommandType, Properties: in})
	if err == nil {
		t.Fatal("non-zero exit succeeded")
	}
	// stdout and stderr arrive through two pipes, so their lines interleave in either order.
	prefix := "exit status 3: running \"echo out; echo err >&2; exit 3\":\n"
	if got := err.Error(); got != prefix+"out\nerr\n" && got != prefix+"err\nout\n" {
		t.Errorf("error %q, want %q followed by the lines out and err", got, prefix)
	}
	in["dir"] = str("/nonexistent-dir-for-test")
	if _, err := p.Create(context.Background(), plugin.CreateRequest{URN: localURN, Name: "c", Type: localCommandType, Properties: in}); err == nil {
		t.Error("a missing dir succeeded")
	}
}

func TestLocalSecretOutputNotLogged(t *testing.T) {
	p, sink := localProvider()
	in := checkedLocal(t, p, resource.PropertyMap{
		"create":  str("cat; exit 1"),
		"stdin":   secret(str("hunter2-password\n")),
		"logging": str("stdoutAndStderr"),
	})
	_, err := p.Create(context.Background(), plugin.CreateRequest{URN: localURN, Name: "c", Type: localCommandType, Properties: in})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error leaks the secret or is missing: %v", err)
	}
	if strings.Contains(sink.text(), "hunter2") || !strings.Contains(sink.text(), redacted) {
		t.Errorf("streamed: %q", sink.text())
	}
}

func TestLongLineDoesNotBlock(t *testing.T) {
	p, sink := localProvider()
	in := checkedLocal(t, p, resource.PropertyMap{
		"create": str("head -c 200000 /dev/zero | tr '\\0' a; echo; echo done"),
	})
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: localURN, Name: "c", Type: localCommandType, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(resp.Properties["stdout"].StringValue(), "\ndone") {
		t.Error("output cut")
	}
	if entries := sink.all(); len(entries) != 2 || len(entries[0].msg) != 200000 {
		t.Errorf("%d entries", len(entries))
	}
}
