package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// sshdBinary finds OpenSSH's sshd ($SSHD, else on $PATH, else Debian's place); sshd insists on an absolute path.
func sshdBinary() string {
	if p := os.Getenv("SSHD"); p != "" {
		return p
	}
	if p, err := exec.LookPath("sshd"); err == nil && filepath.IsAbs(p) {
		return p
	}
	return "/usr/sbin/sshd"
}

// testSSHD is an OpenSSH sshd on 127.0.0.1, with keys made for the test, that accepts the env names DSO_OK and
// PULUMI_COMMAND_STDOUT only.
type testSSHD struct {
	dir       string
	port      int
	user      string
	hostKey   string // authorized_keys form, as the program pins it
	clientKey ed25519.PrivateKey
	clientPEM string
}

func newKey(t *testing.T) (ed25519.PrivateKey, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func pemOf(t *testing.T, key ed25519.PrivateKey, passphrase string) string {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(key, "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() //nolint:errcheck
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD starts sshd in the foreground in a temporary directory; the test's cleanup kills that process (by its
// PID, through exec.Cmd) and the directory goes with the test.
func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	sshdPath := sshdBinary()
	if _, err := os.Stat(sshdPath); err != nil {
		// DSO_REQUIRE_SSHD=1 (a tier that must prove the remote path) turns the skip into a failure.
		if os.Getenv("DSO_REQUIRE_SSHD") == "1" {
			t.Fatalf("OpenSSH server (package openssh-server) not found: %v", err)
		}
		t.Skipf("OpenSSH server (package openssh-server) not found, remote tests skipped: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd running as root needs its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &testSSHD{dir: t.TempDir(), user: u.Username}
	hostPriv, hostPub := newKey(t)
	s.hostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub)))
	var clientPub ssh.PublicKey
	s.clientKey, clientPub = newKey(t)
	s.clientPEM = pemOf(t, s.clientKey, "")
	write := func(name, content string) string {
		p := filepath.Join(s.dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostKeyFile := write("host_ed25519", pemOf(t, hostPriv, ""))
	authKeys := write("authorized_keys", string(ssh.MarshalAuthorizedKey(clientPub)))

	for attempt := 0; attempt < 5; attempt++ {
		s.port = freePort(t)
		cfg := write("sshd_config", strings.Join([]string{
			fmt.Sprintf("ListenAddress 127.0.0.1:%d", s.port),
			"HostKey " + hostKeyFile,
			"PidFile " + filepath.Join(s.dir, "sshd.pid"),
			"AuthorizedKeysFile " + authKeys,
			"StrictModes no",
			"UsePAM no",
			"PermitRootLogin prohibit-password",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"AllowTcpForwarding yes",
			"AcceptEnv DSO_OK PULUMI_COMMAND_STDOUT",
			"LogLevel ERROR",
			"",
		}, "\n"))
		cmd := exec.Command(sshdPath, "-D", "-e", "-f", cfg)
		logFile, err := os.Create(filepath.Join(s.dir, "sshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if waitListening(s.port, exited) {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
				_ = logFile.Close()
			})
			return s
		}
		_ = cmd.Process.Kill()
		<-exited
		_ = logFile.Close()
	}
	log, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log"))
	t.Fatalf("sshd did not start: %s", log)
	return nil
}

func waitListening(port int, exited <-chan error) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// conn is the connection input the program would pass, pinned to the server's host key.
func (s *testSSHD) conn(extra resource.PropertyMap) resource.PropertyValue {
	m := resource.PropertyMap{
		"host":       str("127.0.0.1"),
		"port":       resource.NewNumberProperty(float64(s.port)),
		"user":       str(s.user),
		"privateKey": secret(str(s.clientPEM)),
		"hostKey":    str(s.hostKey),
	}
	for k, v := range extra {
		if v.IsNull() {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return secret(obj(m))
}

func (s *testSSHD) path(name string) string { return filepath.Join(s.dir, name) }

func remoteProvider(t *testing.T) (*commandProvider, *recordingSink) {
	t.Setenv("SSH_AUTH_SOCK", "") // no ambient agent: auth is what each test sets
	p, sink := localProvider()
	return p, sink
}

func createRemote(t *testing.T, p *commandProvider, news resource.PropertyMap) (resource.PropertyMap, resource.PropertyMap, error) {
	t.Helper()
	resp, err := p.Check(context.Background(), plugin.CheckRequest{Type: remoteCommandType, News: news})
	if err != nil || len(resp.Failures) > 0 {
		t.Fatalf("check: %v %v", err, resp.Failures)
	}
	created, err := p.Create(context.Background(), plugin.CreateRequest{URN: testURN, Name: "f-write", Type: remoteCommandType, Properties: resp.Properties})
	return resp.Properties, created.Properties, err
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return string(b)
}

func TestRemote(t *testing.T) {
	s := startSSHD(t)

	t.Run("create runs with stdin, delete runs the stored script with the stored stdin", func(t *testing.T) {
		p, sink := remoteProvider(t)
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create":     str(fmt.Sprintf("cat > %s; echo placed", s.path("placed"))),
			"delete":     str(fmt.Sprintf("cat > %s; echo removed", s.path("deleted-old"))),
			"stdin":      secret(str("old body\n")),
			"logging":    str("stdoutAndStderr"),
			"connection": s.conn(nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, s.path("placed")); got != "old body\n" {
			t.Errorf("stdin: %q", got)
		}
		if got := state["stdout"].StringValue(); got != "placed" {
			t.Errorf("stdout %q", got)
		}
		if !strings.Contains(sink.text(), "placed") {
			t.Errorf("output not streamed: %q", sink.text())
		}

		// The program's inputs have moved on (new script, new stdin); the delete is the stored one.
		newInputs := resource.PropertyMap{
			"create": str("true"), "delete": str(fmt.Sprintf("cat > %s", s.path("deleted-new"))),
			"stdin": str("new body"), "connection": s.conn(nil),
		}
		if _, err := p.Delete(context.Background(), plugin.DeleteRequest{URN: testURN, Type: remoteCommandType, Inputs: newInputs, Outputs: state}); err != nil {
			t.Fatal(err)
		}
		if got := readFile(t, s.path("deleted-old")); got != "old body\n" {
			t.Errorf("delete stdin: %q", got)
		}
		if _, err := os.Stat(s.path("deleted-new")); !errors.Is(err, os.ErrNotExist) {
			t.Error("the new delete script ran")
		}
	})

	t.Run("a wrong pinned host key is refused", func(t *testing.T) {
		p, _ := remoteProvider(t)
		_, otherPub := newKey(t)
		wrong := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherPub)))
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create":     str("touch " + s.path("must-not-exist")),
			"connection": s.conn(resource.PropertyMap{"hostKey": str(wrong), "dialErrorLimit": resource.NewNumberProperty(1)}),
		})
		if err == nil || !strings.Contains(err.Error(), "host key mismatch") || !strings.Contains(err.Error(), "after 1 failed attempts") {
			t.Fatalf("err %v", err)
		}
		if state != nil {
			t.Error("state returned for a failed create")
		}
		if _, err := os.Stat(s.path("must-not-exist")); !errors.Is(err, os.ErrNotExist) {
			t.Error("the command ran")
		}
		// A key that does not parse is an error before dialing.
		_, _, err = createRemote(t, p, resource.PropertyMap{"create": str("true"), "connection": s.conn(resource.PropertyMap{"hostKey": str("not a key")})})
		if err == nil || !strings.Contains(err.Error(), "failed to parse host key") {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("no pinned host key accepts the server", func(t *testing.T) {
		p, _ := remoteProvider(t)
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create": str("echo ok"), "connection": s.conn(resource.PropertyMap{"hostKey": resource.NewNullProperty()}),
		})
		if err != nil || state["stdout"].StringValue() != "ok" {
			t.Fatalf("%v %v", err, state)
		}
	})

	t.Run("a non-zero exit fails with the output", func(t *testing.T) {
		p, _ := remoteProvider(t)
		script := "echo out; echo err >&2; exit 3"
		_, state, err := createRemote(t, p, resource.PropertyMap{"create": str(script), "connection": s.conn(nil)})
		if err == nil {
			t.Fatal("succeeded")
		}
		prefix := fmt.Sprintf("Process exited with status 3: running %q:\n", script)
		if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), "out\n") || !strings.Contains(err.Error(), "err\n") {
			t.Errorf("error %q", err)
		}
		var exitErr *ssh.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
			t.Errorf("exit status not kept: %v", err)
		}
		if state != nil {
			t.Error("state returned for a failed create")
		}
	})

	t.Run("environment goes as env requests; a refused one fails", func(t *testing.T) {
		p, sink := remoteProvider(t)
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create": str(`echo "[$DSO_OK]"`), "environment": obj(resource.PropertyMap{"DSO_OK": str("yes")}),
			"connection": s.conn(nil),
		})
		if err != nil || state["stdout"].StringValue() != "[yes]" {
			t.Fatalf("%v %v", err, state)
		}
		_, _, err = createRemote(t, p, resource.PropertyMap{
			"create":      str("touch " + s.path("refused-ran")),
			"environment": obj(resource.PropertyMap{"DSO_REFUSED": str("no")}),
			"connection":  s.conn(nil),
		})
		if err == nil || !strings.Contains(err.Error(), `could not set environment variable "DSO_REFUSED"`) {
			t.Fatalf("err %v", err)
		}
		if _, err := os.Stat(s.path("refused-ran")); !errors.Is(err, os.ErrNotExist) {
			t.Error("the command ran")
		}
		found := false
		for _, e := range sink.all() {
			if e.sev == sevError && strings.Contains(e.msg, "Unable to set 'DSO_REFUSED'") {
				found = true
			}
		}
		if !found {
			t.Errorf("refusal not logged as an error: %+v", sink.all())
		}
	})

	t.Run("previous output as env requests on update; a refused one only warns", func(t *testing.T) {
		p, sink := remoteProvider(t)
		olds, state, err := createRemote(t, p, resource.PropertyMap{
			"create":     str("echo first; echo first-err >&2"),
			"update":     str(`echo "[$PULUMI_COMMAND_STDOUT] [${PULUMI_COMMAND_STDERR-refused}]"`),
			"connection": s.conn(nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		news := olds.Copy()
		news["stdin"] = str("changed")
		up, err := p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news})
		if err != nil {
			t.Fatal(err)
		}
		if got := up.Properties["stdout"].StringValue(); got != "[first] [refused]" {
			t.Errorf("stdout %q", got)
		}
		warned := false
		for _, e := range sink.all() {
			if e.sev == sevWarning && strings.Contains(e.msg, "Unable to set 'PULUMI_COMMAND_STDERR'") {
				warned = true
			}
			if strings.Contains(e.msg, "PULUMI_COMMAND_STDOUT'") {
				t.Errorf("accepted variable reported: %q", e.msg)
			}
		}
		if !warned {
			t.Errorf("no warning: %+v", sink.all())
		}

		// With addPreviousOutputInEnv false nothing is asked for, so nothing is refused.
		sink.entries = nil
		news["addPreviousOutputInEnv"] = resource.NewBoolProperty(false)
		up, err = p.Update(context.Background(), plugin.UpdateRequest{URN: testURN, Type: remoteCommandType, OldInputs: olds, OldOutputs: state, NewInputs: news})
		if err != nil {
			t.Fatal(err)
		}
		if got := up.Properties["stdout"].StringValue(); got != "[] [refused]" {
			t.Errorf("stdout %q", got)
		}
		for _, e := range sink.all() {
			if e.sev == sevWarning {
				t.Errorf("warning: %q", e.msg)
			}
		}
	})

	t.Run("encrypted private key with its passphrase", func(t *testing.T) {
		p, _ := remoteProvider(t)
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create": str("echo ok"),
			"connection": s.conn(resource.PropertyMap{
				"privateKey":         secret(str(pemOf(t, s.clientKey, "pass phrase"))),
				"privateKeyPassword": secret(str("pass phrase")),
			}),
		})
		if err != nil || state["stdout"].StringValue() != "ok" {
			t.Fatalf("%v %v", err, state)
		}
	})

	t.Run("agent socket", func(t *testing.T) {
		p, _ := remoteProvider(t)
		keyring := agent.NewKeyring()
		if err := keyring.Add(agent.AddedKey{PrivateKey: s.clientKey}); err != nil {
			t.Fatal(err)
		}
		sock := filepath.Join(t.TempDir(), "agent.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() //nolint:errcheck
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() { _ = agent.ServeAgent(keyring, c); _ = c.Close() }()
			}
		}()
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create":     str("echo via-agent"),
			"connection": s.conn(resource.PropertyMap{"privateKey": resource.NewNullProperty(), "agentSocketPath": str(sock)}),
		})
		if err != nil || state["stdout"].StringValue() != "via-agent" {
			t.Fatalf("%v %v", err, state)
		}
	})

	t.Run("through a proxy", func(t *testing.T) {
		p, _ := remoteProvider(t)
		proxy := s.conn(nil).SecretValue().Element.ObjectValue().Copy()
		_, state, err := createRemote(t, p, resource.PropertyMap{
			"create":     str("echo via-proxy"),
			"connection": s.conn(resource.PropertyMap{"proxy": obj(proxy)}),
		})
		if err != nil || state["stdout"].StringValue() != "via-proxy" {
			t.Fatalf("%v %v", err, state)
		}
	})

	t.Run("an unauthorized key is refused", func(t *testing.T) {
		p, _ := remoteProvider(t)
		other, _ := newKey(t)
		_, _, err := createRemote(t, p, resource.PropertyMap{
			"create":     str("true"),
			"connection": s.conn(resource.PropertyMap{"privateKey": secret(str(pemOf(t, other, ""))), "dialErrorLimit": resource.NewNumberProperty(0)}),
		})
		if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestDialRetriesThenGivesUp(t *testing.T) {
	p, sink := remoteProvider(t)
	port := freePort(t) // nothing listens there
	start := time.Now()
	_, _, err := createRemote(t, p, resource.PropertyMap{
		"create": str("true"),
		"connection": obj(resource.PropertyMap{
			"host": str("127.0.0.1"), "port": resource.NewNumberProperty(float64(port)),
			"dialErrorLimit": resource.NewNumberProperty(2), "perDialTimeout": resource.NewNumberProperty(1),
		}),
	})
	if err == nil || !strings.HasPrefix(err.Error(), "after 2 failed attempts: ") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err %v", err)
	}
	var statuses []string
	for _, e := range sink.all() {
		if e.ephemeral {
			statuses = append(statuses, e.msg)
		}
	}
	if strings.Join(statuses, "|") != "Dial 1/2 failed: retrying|Dial 2/2 failed: retrying" {
		t.Errorf("statuses %q", statuses)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("retries too slow")
	}
}
