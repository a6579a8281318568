package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
)

// runLocal runs cmd on this machine as local/commandOutputs.go run does:
//   - the program is `interpreter` (default ["/bin/sh", "-c"]) with cmd appended as the last argument;
//   - the working directory is `dir`, or else the provider's own working directory;
//   - the environment is the provider's environment, then `environment`, then (addPreviousOutputInEnv, default
//     true) PULUMI_COMMAND_STDOUT/PULUMI_COMMAND_STDERR when the previous output is not empty;
//   - stdin, when not empty, is piped to the command; the command dies with the request's context;
//   - a failure (non-zero exit included) returns "<err>: running <cmd>:\n<output>" and no new outputs.
func runLocal(ctx context.Context, log resourceLog, in *commandInputs, cmd string, prevStdout, prevStderr string) (string, string, error) {
	args := []string{"/bin/sh", "-c"}
	if len(in.interpreter) > 0 {
		args = append([]string{}, in.interpreter...)
	}
	args = append(args, cmd)

	proc := exec.CommandContext(ctx, args[0], args[1:]...) //nolint:gosec // running the user's command is the point
	if in.dir != nil {
		proc.Dir = *in.dir
	} else {
		wd, err := os.Getwd()
		if err != nil {
			return "", "", err
		}
		proc.Dir = wd
	}
	proc.Env = os.Environ()
	for k, v := range in.environment {
		proc.Env = append(proc.Env, k+"="+v)
	}
	if in.addPreviousOutput() {
		if prevStdout != "" {
			proc.Env = append(proc.Env, envPreviousStdout+"="+prevStdout)
		}
		if prevStderr != "" {
			proc.Env = append(proc.Env, envPreviousStderr+"="+prevStderr)
		}
	}
	if in.stdin != nil && len(*in.stdin) > 0 {
		proc.Stdin = strings.NewReader(*in.stdin)
	}

	c := newCapture(in.logStdout(), in.logStderr(), log.status)
	proc.Stdout = c.stdoutW
	proc.Stderr = c.stderrW
	err := proc.Start()
	if err == nil {
		err = proc.Wait()
	}
	stdout, stderr, both := c.finish()
	if err != nil {
		return "", "", newCommandError(err, cmd, both, log.red)
	}
	return stdout, stderr, nil
}
