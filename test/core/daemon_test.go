package core

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/client"
)

const ticker = `i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done`

// exitsOnTerm exits with code when its process gets SIGTERM (sent from the
// host while the daemon is down).
func exitsOnTerm(code int) string {
	return fmt.Sprintf(`trap 'exit %d' TERM; echo ready; while true; do sleep 0.1; done`, code)
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

// TestDaemonKillRestart is the survival scenario: SIGKILL the
// daemon; containers keep running and serving; containers that exit while
// it is down are seen with their real exit code once it is back, and
// restart policies apply to them; ps, logs -f, exec and stop all work on
// the containers that lived through it. berth-only: it kills its own
// private daemon.
func TestDaemonKillRestart(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	c := e.Docker()
	names := map[string]string{}
	for _, n := range []string{"long", "web", "exiter", "always", "onfailure", "stopped-always", "stopped-unless"} {
		names[n] = e.Name(t, n)
	}
	port := e2e.FreePort(t)
	c.Run(t, "run", "-d", "--name", names["long"], "busybox", "sh", "-c", ticker).OK(t)
	c.Run(t, "run", "-d", "--name", names["web"], "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
	c.Run(t, "run", "-d", "--name", names["exiter"], "busybox", "sh", "-c", exitsOnTerm(42)).OK(t)
	c.Run(t, "run", "-d", "--restart", "always", "--name", names["always"], "busybox", "sh", "-c", exitsOnTerm(3)).OK(t)
	c.Run(t, "run", "-d", "--restart", "on-failure:5", "--name", names["onfailure"], "busybox", "sh", "-c", exitsOnTerm(4)).OK(t)
	c.Run(t, "run", "-d", "--restart", "always", "--name", names["stopped-always"], "busybox", "sleep", "1000").OK(t)
	c.Run(t, "run", "-d", "--restart", "unless-stopped", "--name", names["stopped-unless"], "busybox", "sleep", "1000").OK(t)
	for _, n := range []string{"exiter", "always", "onfailure"} {
		e.WaitLog(t, names[n], "ready", 20*time.Second)
	}
	c.Run(t, "stop", "-t", "1", names["stopped-always"], names["stopped-unless"]).OK(t)
	e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)
	pids := map[string]int{}
	for _, n := range []string{"long", "web", "exiter", "always", "onfailure"} {
		pids[n] = e.WaitRunning(t, names[n]).State.Pid
	}
	ticksBefore := strings.Count(e.Logs(t, names["long"]), "tick")

	// Down.
	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	for n, pid := range pids {
		if !alive(pid) {
			t.Fatalf("container %s (pid %d) died with the daemon", n, pid)
		}
	}
	if r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 10*time.Second); r.Body != e2e.IndexHTML {
		t.Fatalf("published port while the daemon is down: %d %q", r.Status, r.Body)
	}
	// Three containers end while nobody watches.
	for _, n := range []string{"exiter", "always", "onfailure"} {
		syscall.Kill(pids[n], syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range []string{"exiter", "always", "onfailure"} {
		for alive(pids[n]) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pids[n]) {
			t.Fatalf("%s did not exit on SIGTERM", n)
		}
	}

	// Up again, on the same roots.
	e.Restart(t)

	r := c.Run(t, "ps", "--format", "{{.Names}} {{.Status}}").OK(t)
	for _, n := range []string{"long", "web"} {
		if l := lineWith(r.Stdout, names[n]); !strings.Contains(l, " Up ") {
			t.Errorf("ps after restart: %s: %q\n%s", n, l, r.Stdout)
		}
		if got := e.Inspect(t, names[n]); got.State.Pid != pids[n] || !got.State.Running {
			t.Errorf("%s after restart: %+v, want pid %d running", n, got.State, pids[n])
		}
	}
	got := e.Inspect(t, names["exiter"])
	if got.State.Running || got.State.Status != "exited" || got.State.ExitCode != 42 {
		t.Errorf("exiter, which exited 42 while the daemon was down: %+v", got.State)
	}
	c.Run(t, "ps", "-a", "--filter", "name="+names["exiter"], "--format", "{{.Status}}").Assert(t, 0, "Exited (42)")
	for _, n := range []string{"always", "onfailure", "stopped-always"} {
		e.WaitFor(t, names[n], "restarted by its policy after the daemon came back", 30*time.Second, func(st containerState) bool {
			return st.State.Running && st.State.Pid != pids[n]
		})
	}
	time.Sleep(500 * time.Millisecond)
	if got := e.Inspect(t, names["stopped-unless"]); got.State.Running {
		t.Errorf("unless-stopped container, stopped before the crash, was started: %+v", got.State)
	}

	// The survivors are fully usable.
	f := c.Start(t, "logs", "-f", "--tail", "1", names["long"])
	for seen := 0; seen < 3; {
		// Lines keep coming, and they are newer than the crash.
		m := f.Stdout.Expect(t, `tick (\d+)\n`, 10*time.Second)
		if n, _ := strconv.Atoi(m[1]); n > ticksBefore {
			seen++
		}
	}
	c.Run(t, "exec", names["long"], "echo", "exec-ok").Assert(t, 0, "exec-ok")
	c.Run(t, "top", names["long"]).Assert(t, 0, "sleep")
	if r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 10*time.Second); r.Body != e2e.IndexHTML {
		t.Fatalf("published port after restart: %d %q", r.Status, r.Body)
	}
	c.Run(t, "stop", "-t", "1", names["long"]).OK(t)
	if code := f.Wait(t, 20*time.Second); code != 0 {
		t.Errorf("logs -f exit %d after stop", code)
	}
	if got := e.Inspect(t, names["long"]); got.State.ExitCode != 137 || got.State.Running {
		t.Errorf("long after stop: %+v", got.State)
	}
	if alive(pids["long"]) {
		t.Errorf("pid %d of the stopped container still alive", pids["long"])
	}
	c.Run(t, "rm", "-f", names["web"]).OK(t)
	if _, err := e2e.TryHTTPGet(fmt.Sprintf("http://127.0.0.1:%d/", port), 300*time.Millisecond); err == nil {
		t.Error("published port still answers after rm -f")
	}
}

// TestDaemonRestartTwice: a graceful restart (SIGTERM) keeps containers
// too, and a second crash right after a restore is survived as well.
func TestDaemonRestartTwice(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	c := e.Docker()
	name := e.Name(t)
	c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", ticker).OK(t)
	pid := e.WaitRunning(t, name).State.Pid
	if err := e.Daemon.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	if got := e.Inspect(t, name); !got.State.Running || got.State.Pid != pid {
		t.Fatalf("after a stop and a crash: %+v, want pid %d", got.State, pid)
	}
	c.Run(t, "exec", name, "true").OK(t)
	c.Run(t, "rm", "-f", name).OK(t)
	if alive(pid) {
		t.Fatalf("pid %d alive after rm -f", pid)
	}
}

// TestDataRootInUse: a second daemon on the same data root refuses to
// start, and the first is unharmed.
func TestDataRootInUse(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	name := e.Name(t)
	e.Docker().Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)

	d2, err := e2e.NewBerthDaemon(e.Daemon.Bin, filepath.Join(t.TempDir(), "d2"))
	if err != nil {
		t.Fatal(err)
	}
	d2.DataRoot = e.DataRoot
	t.Cleanup(func() { d2.Cleanup() })
	exited, err := d2.StartNoWait()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("second daemon on the same data root still running\n%s", d2.LogTail(20))
	}
	if d2.ExitErr() == nil {
		t.Errorf("second daemon exited 0")
	}
	if log := d2.LogTail(20); !strings.Contains(log, e.DataRoot) {
		t.Errorf("second daemon's error does not name the data root:\n%s", log)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Client(t).Ping(ctx, client.PingOptions{}); err != nil {
		t.Fatalf("first daemon after the attempt: %v", err)
	}
	if !e.Inspect(t, name).State.Running {
		t.Fatal("container of the first daemon stopped")
	}
}
