package core

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestRunRemove(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		r := c.Run(t, "run", "--rm", "--name", name, "busybox", "echo", "hello").OK(t)
		if r.Stdout != "hello\n" {
			t.Fatalf("stdout %q, want %q", r.Stdout, "hello\n")
		}
		if e.Exists(t, name) {
			t.Fatalf("container %s still exists after run --rm", name)
		}
		// stdout and stderr stay apart.
		r = c.Run(t, "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2").OK(t)
		if r.Stdout != "out\n" || r.Stderr != "err\n" {
			t.Fatalf("stdout %q stderr %q", r.Stdout, r.Stderr)
		}
		// stdin with -i.
		r = c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("one\ntwo\n")}, "run", "--rm", "-i", "busybox", "wc", "-l").OK(t)
		if r.Out() != "2" {
			t.Fatalf("wc -l of stdin: %q", r.Out())
		}
	})
}

func TestRunExitCodes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		c.Run(t, "run", "--rm", "busybox", "sh", "-c", "exit 3").Assert(t, 3)
		c.Run(t, "run", "--rm", "busybox", "false").Assert(t, 1)
		// 127: the command does not exist; 126: it cannot be invoked.
		c.Run(t, "run", "--rm", "busybox", "nosuchcmd").Assert(t, 127, "nosuchcmd", "executable file not found")
		c.Run(t, "run", "--rm", "busybox", "/etc/passwd").Assert(t, 126, "permission denied")
	})
}

func TestRunDetached(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		r := c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
		id := r.Out()
		if len(id) != 64 {
			t.Fatalf("run -d prints the full ID, got %q", id)
		}
		got := e.WaitRunning(t, name)
		if got.ID != id || got.Name != "/"+name {
			t.Fatalf("inspect: id %s name %s", got.ID, got.Name)
		}
		if got.State.Pid <= 0 {
			t.Fatalf("running container has pid %d", got.State.Pid)
		}
		// Short and full IDs and the name address the same container.
		for _, ref := range []string{id[:12], id, name} {
			c.Run(t, "inspect", "--format", "{{.Id}}", ref).Assert(t, 0, id)
		}
	})
}

// TestRunInteractive is `docker run -it busybox sh` at a terminal: the
// prompt shows, typed commands run, the exit code passes through.
func TestRunInteractive(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		term := c.StartPTY(t, "run", "-it", "--rm", "--name", name, "busybox", "sh")
		term.Expect(t, `/ # `, 30*time.Second)
		// (No stty size here: with API 1.41 the CLI sets the size with a
		// resize after start, which races with the first command.)
		term.Send(t, "echo hi; exit 3\r")
		term.Expect(t, `\r\nhi\r\n`, 10*time.Second)
		if code := term.Wait(t, 30*time.Second); code != 3 {
			t.Fatalf("exit code %d, want 3\n%s", code, term.Output)
		}
	})
}

// TestRunDetachKeys detaches from `run -it` with ctrl-p ctrl-q: the client
// leaves, the container keeps running, and attach finds it again.
func TestRunDetachKeys(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		term := c.StartPTY(t, "run", "-it", "--name", name, "busybox", "sh")
		term.Expect(t, `/ # `, 30*time.Second)
		term.Send(t, "\x10\x11")
		if code := term.Wait(t, 20*time.Second); code != 0 {
			t.Fatalf("detach: exit code %d\n%s", code, term.Output)
		}
		e.WaitRunning(t, name)

		att := c.StartPTY(t, "attach", name)
		att.Send(t, "\r")
		att.Expect(t, `/ # `, 20*time.Second)
		att.Send(t, "exit 5\r")
		if code := att.Wait(t, 20*time.Second); code != 5 {
			t.Fatalf("attach: exit code %d, want 5\n%s", code, att.Output)
		}
		if code := e.WaitExit(t, name, 20*time.Second); code != 5 {
			t.Fatalf("container exit code %d", code)
		}
	})
}

func TestAttachAndWait(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "-i", "--name", name, "busybox", "sh", "-c", "read x; echo got $x; exit 4").OK(t)
		e.WaitRunning(t, name)
		w := c.Start(t, "wait", name)
		// Stdin stays open until the answer came: Docker ends a non-tty
		// attach's output when the client closes stdin.
		att := c.Start(t, "attach", name)
		if err := att.Write("hello\n"); err != nil {
			t.Fatal(err)
		}
		att.Stdout.Expect(t, "got hello\n", 20*time.Second)
		if code := att.Wait(t, 20*time.Second); code != 4 {
			t.Fatalf("attach exit code %d, want 4; stderr: %s", code, att.Stderr)
		}
		if code := w.Wait(t, 20*time.Second); code != 0 {
			t.Fatalf("wait exited %d: %s", code, w.Stderr)
		}
		if got := strings.TrimSpace(w.Stdout.String()); got != "4" {
			t.Fatalf("wait prints %q, want 4", got)
		}
		c.Run(t, "wait", name).Assert(t, 0, "4")
	})
}

// TestAttachDisconnect: a client that goes away mid-attach must not hurt
// the container.
func TestAttachDisconnect(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	name := e.Name(t)
	e.Docker().Run(t, "run", "-d", "-i", "--name", name, "busybox", "sh", "-c",
		"i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done").OK(t)
	e.WaitRunning(t, name)
	cli := e.Client(t)
	for round := 0; round < 3; round++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		att, err := cli.ContainerAttach(ctx, name, client.ContainerAttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			cancel()
			t.Fatalf("attach: %v", err)
		}
		// Read a little of the multiplexed stream, then hang up without
		// a word, with stdin still open.
		br := bufio.NewReader(att.Reader)
		if _, err := br.Peek(16); err != nil {
			t.Fatalf("reading attach stream: %v", err)
		}
		att.Conn.Close()
		cancel()
	}
	// A CLI attach killed outright.
	p := e.Docker().Start(t, "attach", name)
	p.Stdout.Expect(t, `tick \d+`, 10*time.Second)
	p.Kill()

	// Still running, still producing output.
	logs := e.Logs(t, name)
	n := strings.Count(logs, "tick")
	e.WaitFor(t, name, "more output", 10*time.Second, func(container.InspectResponse) bool {
		return strings.Count(e.Logs(t, name), "tick") > n+3
	})
	if c := e.Inspect(t, name); !c.State.Running {
		t.Fatalf("container stopped after a client hung up: %+v", c.State)
	}
}
