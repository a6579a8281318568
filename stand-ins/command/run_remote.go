package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Names of the previous run's output in the environment (provider/pkg/provider/util/util.go).
const (
	envPreviousStdout = "PULUMI_COMMAND_STDOUT"
	envPreviousStderr = "PULUMI_COMMAND_STDERR"
)

// Dial defaults (remote/connection.go: dialErrorDefault 10, -1 unlimited; perDialTimeout 15; port 22; user root).
const (
	defaultDialErrorLimit = 10
	unlimitedDialErrors   = -1
	defaultPerDialTimeout = 15
	defaultPort           = 22
	defaultUser           = "root"
)

// sshConfig builds the client configuration as remote/connection.go SSHConfig does:
//   - hostKey set: only that key is accepted, and the host key algorithms offered are restricted to its type;
//     hostKey unset: any host key is accepted.
//   - auth methods in this order: privateKey (with privateKeyPassword as passphrase when set), password (also
//     answering keyboard-interactive prompts), then the agent at agentSocketPath or else $SSH_AUTH_SOCK.
func (c *connection) sshConfig() (*ssh.ClientConfig, error) {
	var hostKeyCallback ssh.HostKeyCallback
	var hostKeyAlgorithms []string
	if c.hostKey != nil {
		pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(*c.hostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		hostKeyCallback = ssh.FixedHostKey(pub)
		hostKeyAlgorithms = []string{pub.Type()}
	} else {
		hostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // upstream ignores the host key when none is pinned
	}
	user := defaultUser
	if c.user != nil {
		user = *c.user
	}
	timeout := defaultPerDialTimeout
	if c.perDialTimeout != nil {
		timeout = *c.perDialTimeout
	}
	cfg := &ssh.ClientConfig{
		User:              user,
		HostKeyCallback:   hostKeyCallback,
		HostKeyAlgorithms: hostKeyAlgorithms,
		Timeout:           time.Duration(timeout) * time.Second,
	}
	if c.privateKey != nil {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.privateKey), []byte(*c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.privateKey))
		}
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.password != nil {
		password := *c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(password),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = password
				}
				return answers, nil
			}))
	}
	socket := ""
	if c.agentSocketPath != nil {
		socket = *c.agentSocketPath
	} else {
		socket = os.Getenv("SSH_AUTH_SOCK") // remote/connection_unix.go tryGetDefaultAgentSocket
	}
	if socket != "" {
		conn, err := net.Dial("unix", socket)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	return cfg, nil
}

func (c *connection) endpoint() (string, error) {
	if c.host == nil {
		return "", errors.New("connection.host is required")
	}
	port := float64(defaultPort)
	if c.port != nil {
		port = *c.port
	}
	return net.JoinHostPort(*c.host, strconv.Itoa(int(port))), nil
}

func (c *connection) dialLimit() int {
	if c.dialErrorLimit == nil {
		return defaultDialErrorLimit
	}
	return *c.dialErrorLimit
}

// dialWithRetry retries f as remote/connection.go dialWithRetry does: the SDK's retry.Until back-off (100ms, x1.5,
// at most 5s), giving up once the number of failed dials exceeds maxAttempts (-1: never), with an ephemeral
// "<msg> n/limit failed: retrying" status per failure and "after N failed attempts: <err>" at the end.
func dialWithRetry[T any](ctx context.Context, log resourceLog, msg string, maxAttempts int, f func() (T, error)) (T, error) {
	var result T
	ok, _, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			r, userErr := f()
			if userErr == nil {
				result = r
				return true, nil, nil
			}
			dials := try + 1
			if maxAttempts > unlimitedDialErrors && dials > maxAttempts {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, userErr)
			}
			limit := "inf"
			if maxAttempts != unlimitedDialErrors {
				limit = strconv.Itoa(maxAttempts)
			}
			log.status(fmt.Sprintf("%s %d/%s failed: retrying", msg, dials, limit))
			return false, nil, nil
		},
	})
	if ok && err == nil {
		return result, nil
	}
	var zero T
	if err == nil {
		err = ctx.Err()
	}
	return zero, err
}

// dial opens the SSH client, through the proxy when one is set (remote/connection.go Dial).
func (c *connection) dial(ctx context.Context, log resourceLog) (*ssh.Client, error) {
	cfg, err := c.sshConfig()
	if err != nil {
		return nil, err
	}
	endpoint, err := c.endpoint()
	if err != nil {
		return nil, err
	}
	tries := c.dialLimit()
	if c.proxy == nil {
		return dialWithRetry(ctx, log, "Dial", tries, func() (*ssh.Client, error) {
			return ssh.Dial("tcp", endpoint, cfg)
		})
	}
	proxyCfg, err := c.proxy.sshConfig()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	proxyEndpoint, err := c.proxy.endpoint()
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	proxyClient, err := dialWithRetry(ctx, log, "Dial proxy", c.proxy.dialLimit(), func() (*ssh.Client, error) {
		return ssh.Dial("tcp", proxyEndpoint, proxyCfg)
	})
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	netConn, err := dialWithRetry(ctx, log, "Dial from proxy", tries, func() (net.Conn, error) {
		return proxyClient.Dial("tcp", endpoint)
	})
	if err != nil {
		_ = proxyClient.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	var chans <-chan ssh.NewChannel
	var reqs <-chan *ssh.Request
	sshConn, err := dialWithRetry(ctx, log, "Dial", tries, func() (ssh.Conn, error) {
		conn, ch, rq, err := ssh.NewClientConn(netConn, endpoint, cfg)
		chans, reqs = ch, rq
		return conn, err
	})
	if err != nil {
		_ = proxyClient.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return ssh.NewClient(sshConn, chans, reqs), nil
}

// setenvFailure logs a refused SSH env request with upstream's wording (remote/commandOutputs.go
// logAndWrapSetenvErr) and returns the wrapped error.
func setenvFailure(log resourceLog, sev severity, key string, err error) error {
	log.emit(sev, fmt.Sprintf(`Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`, key), false)
	return fmt.Errorf("could not set environment variable %q: %w", key, err)
}

// runRemote runs cmd over SSH as remote/commandOutputs.go run does:
//   - `environment` is sent as SSH env requests; a refused one (sshd without a matching AcceptEnv) is logged as an
//     error and fails the command before it runs;
//   - with addPreviousOutputInEnv (default true) the previous stdout/stderr, when not empty, go as
//     PULUMI_COMMAND_STDOUT/PULUMI_COMMAND_STDERR env requests; a refusal is only a warning;
//   - stdin, when not empty, is piped to the command;
//   - a failure (non-zero exit included) returns "<err>: running <cmd>:\n<output>" and no new outputs.
func runRemote(ctx context.Context, log resourceLog, in *commandInputs, cmd string, prevStdout, prevStderr string) (string, string, error) {
	client, err := in.connection.dial(ctx, log)
	if err != nil {
		return "", "", err
	}
	defer client.Close() //nolint:errcheck

	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close() //nolint:errcheck

	for k, v := range in.environment {
		if err := session.Setenv(k, v); err != nil {
			return "", "", setenvFailure(log, sevError, k, err)
		}
	}
	if in.addPreviousOutput() {
		if prevStdout != "" {
			if err := session.Setenv(envPreviousStdout, prevStdout); err != nil {
				_ = setenvFailure(log, sevWarning, envPreviousStdout, err)
			}
		}
		if prevStderr != "" {
			if err := session.Setenv(envPreviousStderr, prevStderr); err != nil {
				_ = setenvFailure(log, sevWarning, envPreviousStderr, err)
			}
		}
	}
	if in.stdin != nil && len(*in.stdin) > 0 {
		session.Stdin = strings.NewReader(*in.stdin)
	}

	c := newCapture(in.logStdout(), in.logStderr(), log.status)
	session.Stdout = c.stdoutW
	session.Stderr = c.stderrW
	err = session.Run(cmd)
	stdout, stderr, both := c.finish()
	if err != nil {
		return "", "", newCommandError(err, cmd, both, log.red)
	}
	return stdout, stderr, nil
}
