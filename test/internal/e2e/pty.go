package e2e

import (
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Term is a CLI command running on a pseudo-terminal, as a user at a
// terminal would run `docker run -it` or `docker exec -it`.
type Term struct {
	Args   []string
	Output *Buffer
	pty    *os.File
	proc   *os.Process
	done   chan struct{}
	code   int
	err    error
}

// StartPTY runs the CLI with a pty as its stdin, stdout and stderr
// (80x24). The process is killed at the end of the test if still running.
func (c CLI) StartPTY(t testing.TB, args ...string) *Term {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := c.command(ctx, args...)
	// pty.Start makes the child a session leader with the pty as its
	// controlling terminal; it must not also be a process group leader.
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	cmd.Env = append(cmd.Env, "TERM=xterm")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 24, Cols: 80})
	if err != nil {
		cancel()
		t.Fatalf("start %v on a pty: %v", args, err)
	}
	tm := &Term{Args: append([]string{c.Name}, args...), Output: newBuffer(), pty: f, proc: cmd.Process, done: make(chan struct{})}
	readDone := make(chan struct{})
	go func() {
		// Reading ends with EIO once the process and its children closed
		// the terminal.
		io.Copy(tm.Output, f)
		close(readDone)
	}()
	go func() {
		tm.code, tm.err = exitCode(cmd.Wait(), context.Background())
		// Drain what the process wrote before exiting, but do not hang on
		// a descendant that keeps the terminal open.
		select {
		case <-readDone:
		case <-time.After(2 * time.Second):
		}
		tm.Output.close()
		close(tm.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-tm.done
		f.Close()
	})
	return tm
}

// Send types s on the terminal (use "\r" for Enter, "\x10\x11" for the
// ctrl-p ctrl-q detach sequence).
func (tm *Term) Send(t testing.TB, s string) {
	t.Helper()
	if _, err := tm.pty.Write([]byte(s)); err != nil {
		t.Fatalf("typing %q: %v", s, err)
	}
}

// Resize changes the terminal's size, as a user resizing the window: the
// CLI gets SIGWINCH.
func (tm *Term) Resize(t testing.TB, rows, cols uint16) {
	t.Helper()
	if err := pty.Setsize(tm.pty, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		t.Fatalf("resizing the terminal: %v", err)
	}
}

// Expect waits for a regexp in the terminal's output (see Buffer.Expect).
func (tm *Term) Expect(t testing.TB, pattern string, timeout time.Duration) []string {
	t.Helper()
	return tm.Output.Expect(t, pattern, timeout)
}

// Wait waits for the command to exit and returns its exit code.
func (tm *Term) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-tm.done:
		if tm.err != nil && tm.code == -1 {
			t.Fatalf("%v: %v\n--- terminal ---\n%s", tm.Args, tm.err, tm.Output)
		}
		return tm.code
	case <-time.After(timeout):
		t.Fatalf("%v still running after %v\n--- terminal ---\n%s", tm.Args, timeout, printable(tm.Output.String()))
		return -1
	}
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 32 && r != '\n' && r != '\r' && r != '\t' {
			return '·'
		}
		return r
	}, s)
}
