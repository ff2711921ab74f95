package core

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/client"
)

func TestExec(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
		e.WaitRunning(t, name)

		if r := c.Run(t, "exec", name, "echo", "hi").OK(t); r.Stdout != "hi\n" {
			t.Fatalf("exec stdout %q", r.Stdout)
		}
		c.Run(t, "exec", name, "sh", "-c", "exit 5").Assert(t, 5)
		c.Run(t, "exec", name, "sh", "-c", "echo oops >&2; exit 2").Assert(t, 2, "oops")
		// Docker answers 126 (20.10) or 127 (newer) for a missing command.
		r := c.Run(t, "exec", name, "nosuchcmd")
		if r.Code != 126 && r.Code != 127 || !strings.Contains(r.Combined(), "executable file not found") {
			t.Fatalf("exec of a missing command:\n%s", r)
		}
		c.Run(t, "exec", "-e", "A=1", "-w", "/tmp", "-u", "nobody", name, "sh", "-c", `echo "$A $(pwd) $(id -u)"`).Assert(t, 0, "1 /tmp 65534")
		if r := c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("a\nb\n")}, "exec", "-i", name, "wc", "-l").OK(t); r.Out() != "2" {
			t.Fatalf("exec -i: %q", r.Out())
		}
		c.Run(t, "exec", "-d", name, "sh", "-c", "echo bg > /tmp/bg").OK(t)
		e.WaitFor(t, name, "detached exec wrote /tmp/bg", 10*time.Second, func(_ containerState) bool {
			return c.Run(t, "exec", name, "cat", "/tmp/bg").Stdout == "bg\n"
		})
		// The exec shares the container's PID namespace.
		if r := c.Run(t, "exec", name, "ps", "-o", "pid,comm").OK(t); !strings.Contains(r.Stdout, "1 sleep") {
			t.Fatalf("exec ps does not see the container's pid 1:\n%s", r.Stdout)
		}

		c.Run(t, "stop", "-t", "0", name).OK(t)
		c.Run(t, "exec", name, "true").Assert(t, 1, "is not running")
	})
}

// TestExecInteractive is `docker exec -it web sh` at a terminal.
func TestExecInteractive(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "httpd", "-f", "-p", "80").OK(t)
		e.WaitRunning(t, name)
		term := c.StartPTY(t, "exec", "-it", name, "sh")
		term.Expect(t, `/ # `, 30*time.Second)
		term.Send(t, "tty; echo $((6*7)); exit 4\r")
		term.Expect(t, `/dev/pts/\d+\r\n42\r\n`, 10*time.Second)
		if code := term.Wait(t, 30*time.Second); code != 4 {
			t.Fatalf("exec -it exit code %d, want 4\n%s", code, term.Output)
		}
		if !e.Inspect(t, name).State.Running {
			t.Fatal("container stopped when the exec ended")
		}
	})
}

func TestExecSDK(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	name := e.Name(t)
	e.Docker().Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
	e.WaitRunning(t, name)
	cli := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ex, err := cli.ExecCreate(ctx, name, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "exit 6"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	var got client.ExecInspectResult
	deadline := time.Now().Add(20 * time.Second)
	for {
		if got, err = cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{}); err != nil {
			t.Fatal(err)
		}
		if !got.Running || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Running || got.ExitCode != 6 {
		t.Fatalf("exec inspect: %+v", got)
	}
	if c := e.Inspect(t, name); !slices.Contains(c.ExecIDs, ex.ID) {
		t.Logf("note: ExecIDs %v lacks the finished exec %s (Docker keeps it until the container stops)", c.ExecIDs, ex.ID)
	}
}

func TestTop(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", "sleep 1001 & sleep 1000").OK(t)
		e.WaitRunning(t, name)
		var r *e2e.Result
		e.WaitFor(t, name, "both sleeps in top", 10*time.Second, func(_ containerState) bool {
			r = c.Run(t, "top", name).OK(t)
			return strings.Contains(r.Stdout, "sleep 1001") && strings.Contains(r.Stdout, "sleep 1000")
		})
		hdr := strings.Fields(r.Lines()[0])
		for _, col := range []string{"UID", "PID", "PPID", "CMD"} {
			if !slices.Contains(hdr, col) {
				t.Errorf("top header %q lacks %s", hdr, col)
			}
		}
		// top shows host pids: the container's init is among them.
		pid := strconv.Itoa(e.Inspect(t, name).State.Pid)
		found := false
		for _, l := range r.Lines()[1:] {
			found = found || slices.Contains(strings.Fields(l), pid)
		}
		if !found {
			t.Errorf("top does not show the init's host pid %s:\n%s", pid, r.Stdout)
		}
		c.Run(t, "top", name, "-o", "pid,args").Assert(t, 0, "PID", "sleep 1001")
	})
}
