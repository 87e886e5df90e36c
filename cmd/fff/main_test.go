package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for fff when bench re-executes
// itself for the per-stage memory figures (fff bench-stage ...).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "bench-stage" {
		os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// run runs fff with args as a user would (stdin empty, within timeout) and
// returns what it printed on stdout and on stderr, the message it ended with
// taken off stderr. A non-zero exit status comes back as an exitError with
// that status and message.
func run(t *testing.T, timeout time.Duration, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errb bytes.Buffer
	code := execute(ctx, args, strings.NewReader(""), &out, &errb)
	stderr = errb.String()
	if code == 0 {
		return out.String(), stderr, nil
	}
	i := strings.LastIndex(stderr, "fff: ")
	if i < 0 || (i > 0 && stderr[i-1] != '\n') {
		t.Fatalf("fff %s: exit status %d without a message on stderr:\n%s", strings.Join(args, " "), code, stderr)
	}
	msg := strings.TrimSuffix(stderr[i+len("fff: "):], "\n")
	return out.String(), stderr[:i], exitError{code: code, err: errors.New(msg)}
}

// runFFF runs fff with args and returns all it printed (stdout, then
// stderr) and, as run does, an exitError when it failed.
func runFFF(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, errOut, err := run(t, 2*time.Minute, args...)
	return out + errOut, err
}

// exitCode is the exit status err stands for.
func exitCode(err error) int {
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return -1
	}
	return 0
}
