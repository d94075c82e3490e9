// Package clitest runs the example commands in their tests as a user
// does: it builds the binary, checks a bad flag's exit status, and stops a
// run with SIGINT at a line of its output. It is internal to the examples.
package clitest

import (
	"bufio"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Build compiles the command in the test's folder and returns the binary's
// path. It skips the test under -short.
func Build(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := t.TempDir() + "/" + name
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// UsageFails runs cmd and checks it exits with status 2 (a usage error)
// and that its output contains want.
func UsageFails(t *testing.T, cmd *exec.Cmd, want string) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("%v: want exit status 2, got %v\n%s", cmd.Args, err, out)
	}
	if ee.ExitCode() != 2 {
		t.Errorf("%v: exit status %d, want 2\n%s", cmd.Args, ee.ExitCode(), out)
	}
	if !strings.Contains(string(out), want) {
		t.Errorf("%v: output does not name %q:\n%s", cmd.Args, want, out)
	}
}

// InterruptAt starts cmd, sends it SIGINT when a line of its standard
// output contains marker, and waits for it. It returns the output and
// whether the signal was sent; an exit other than status 0 fails the test.
// A process still running after a minute is killed (a hang guard, not a
// timing assertion). The caller sets cmd.Stderr if it wants it.
func InterruptAt(t *testing.T, cmd *exec.Cmd, marker string, stderr func() string) (string, bool) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	guard := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()
	sc := bufio.NewScanner(stdout)
	var lines []string
	signaled := false
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !signaled && strings.Contains(sc.Text(), marker) {
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			signaled = true
		}
	}
	all := strings.Join(lines, "\n")
	if err := cmd.Wait(); err != nil {
		extra := ""
		if stderr != nil {
			extra = stderr()
		}
		t.Fatalf("%v: %v\n%s\n%s", cmd.Args, err, all, extra)
	}
	return all, signaled
}
