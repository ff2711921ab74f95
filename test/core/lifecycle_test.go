package core

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// trapper handles SIGTERM with its own exit code after printing "bye".
const trapper = `trap 'echo bye; exit 7' TERM; echo ready; while true; do sleep 0.1; done`

// TestStop checks the grace period: SIGTERM, then SIGKILL after -t
// seconds (10 by default). Durations are asserted generously.
func TestStop(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	stop := func(t *testing.T, name string, args ...string) time.Duration {
		t.Helper()
		start := time.Now()
		c.RunWith(t, e2e.RunOpts{Timeout: 60 * time.Second}, append(append([]string{"stop"}, args...), name)...).Assert(t, 0, name)
		return time.Since(start)
	}
	t.Run("default-grace-then-kill", func(t *testing.T) {
		t.Parallel()
		// sleep as pid 1 has no handler, and the kernel does not deliver
		// SIGTERM's default action to a namespace's init: it ignores it.
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
		e.WaitRunning(t, name)
		d := stop(t, name)
		if d < 9*time.Second || d > 30*time.Second {
			t.Errorf("stop took %v; want the 10s default grace", d)
		}
		if st := e.Inspect(t, name).State; st.ExitCode != 137 || st.Running {
			t.Errorf("after stop: %+v, want exit 137", st)
		}
	})
	t.Run("timeout-1", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
		e.WaitRunning(t, name)
		d := stop(t, name, "-t", "1")
		if d < 900*time.Millisecond || d > 8*time.Second {
			t.Errorf("stop -t 1 took %v", d)
		}
		if st := e.Inspect(t, name).State; st.ExitCode != 137 {
			t.Errorf("exit code %d, want 137", st.ExitCode)
		}
		c.Run(t, "ps", "-a", "--filter", "name="+name, "--format", "{{.Status}}").Assert(t, 0, "Exited (137)")
	})
	t.Run("handles-term", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", trapper).OK(t)
		e.WaitLog(t, name, "ready", 20*time.Second)
		if d := stop(t, name); d > 8*time.Second {
			t.Errorf("stop of a process that exits on SIGTERM took %v", d)
		}
		if st := e.Inspect(t, name).State; st.ExitCode != 7 {
			t.Errorf("exit code %d, want the handler's 7", st.ExitCode)
		}
		if l := e.Logs(t, name); !strings.Contains(l, "bye") {
			t.Errorf("handler did not run: %q", l)
		}
	})
	t.Run("stop-signal", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "--stop-signal", "USR1", "busybox", "sh", "-c",
			`trap 'exit 9' USR1; echo ready; while true; do sleep 0.1; done`).OK(t)
		e.WaitLog(t, name, "ready", 20*time.Second)
		stop(t, name, "-t", "30")
		if st := e.Inspect(t, name).State; st.ExitCode != 9 {
			t.Errorf("exit code %d, want 9 from the USR1 handler", st.ExitCode)
		}
	})
}

func TestStartRestart(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", "echo started; "+trapper).OK(t)
		first := e.WaitRunning(t, name)
		e.WaitLog(t, name, "ready", 20*time.Second)

		c.Run(t, "stop", name).Assert(t, 0, name)
		if st := e.Inspect(t, name).State; st.Running || st.Status != "exited" || st.ExitCode != 7 {
			t.Fatalf("after stop: %+v", st)
		}
		c.Run(t, "start", name).Assert(t, 0, name)
		second := e.WaitRunning(t, name)
		if second.State.StartedAt == first.State.StartedAt || second.State.Pid == first.State.Pid {
			t.Errorf("start did not start a new process: %s/%d then %s/%d",
				first.State.StartedAt, first.State.Pid, second.State.StartedAt, second.State.Pid)
		}
		e.WaitFor(t, name, "two ready lines", 20*time.Second, func(containerState) bool {
			return strings.Count(e.Logs(t, name), "ready") == 2
		})
		// start of a running container is a no-op.
		c.Run(t, "start", name).OK(t)

		c.Run(t, "restart", "-t", "5", name).Assert(t, 0, name)
		third := e.WaitRunning(t, name)
		if third.State.Pid == second.State.Pid {
			t.Errorf("restart kept pid %d", third.State.Pid)
		}
		if third.RestartCount != 0 {
			t.Errorf("a manual restart counts as a policy restart: RestartCount %d", third.RestartCount)
		}
		logs := e.WaitLog(t, name, `(?s)(ready.*){3}`, 20*time.Second)
		if n := strings.Count(logs, "bye"); n != 2 {
			t.Errorf("want 2 graceful stops (bye) in logs, got %d:\n%s", n, logs)
		}
	})
}

func TestKill(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c",
			`trap 'echo got HUP' HUP; trap 'echo got USR2' USR2; echo ready; while true; do sleep 0.1; done`).OK(t)
		e.WaitLog(t, name, "ready", 20*time.Second)
		c.Run(t, "kill", "-s", "HUP", name).Assert(t, 0, name)
		e.WaitLog(t, name, "got HUP", 10*time.Second)
		c.Run(t, "kill", "--signal", "SIGUSR2", name).OK(t)
		e.WaitLog(t, name, "got USR2", 10*time.Second)
		c.Run(t, "kill", "-s", "1", name).OK(t)
		e.WaitLog(t, name, "(?s)got HUP.*got HUP", 10*time.Second)
		if !e.Inspect(t, name).State.Running {
			t.Fatal("container died of a handled signal")
		}
		c.Run(t, "kill", name).Assert(t, 0, name)
		if code := e.WaitExit(t, name, 20*time.Second); code != 137 {
			t.Fatalf("exit code after kill: %d", code)
		}
		c.Run(t, "kill", name).Assert(t, 1, "is not running")
	})
}

func TestRemove(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		id := c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t).Out()
		e.WaitRunning(t, name)
		// Docker 20.10: "You cannot remove a running container <id>. ...";
		// Docker 25+: `cannot remove container "/x": container is running: ...`.
		c.Run(t, "rm", name).AssertAny(t, 1, "cannot remove a running container", "container is running")
		if !e.Inspect(t, name).State.Running {
			t.Fatal("refused rm stopped the container")
		}
		c.Run(t, "rm", "-f", name).Assert(t, 0, name)
		if e.Exists(t, name) || e.Exists(t, id) {
			t.Fatal("container still exists after rm -f")
		}
		c.Run(t, "ps", "-a", "--filter", "id="+id, "-q").Assert(t, 0)
		// rm of a stopped container by short ID; several at once.
		a, b := e.Name(t, "a"), e.Name(t, "b")
		ida := c.Run(t, "create", "--name", a, "busybox", "true").OK(t).Out()
		c.Run(t, "run", "--name", b, "busybox", "true").OK(t)
		c.Run(t, "rm", ida[:12], b).Assert(t, 0, ida[:12], b)
		if e.Exists(t, a) || e.Exists(t, b) {
			t.Fatal("containers still exist after rm")
		}
	})
}

func TestPauseUnpause(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done").OK(t)
		e.WaitLog(t, name, "\n5\n", 20*time.Second)
		c.Run(t, "pause", name).Assert(t, 0, name)
		st := e.Inspect(t, name).State
		if !st.Paused || st.Status != "paused" || !st.Running {
			t.Fatalf("after pause: %+v", st)
		}
		c.Run(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}").Assert(t, 0, "(Paused)")
		c.Run(t, "exec", name, "true").Assert(t, 1, "paused")
		// Frozen: no output while paused. This needs a little wall time.
		n := len(e.Logs(t, name))
		time.Sleep(400 * time.Millisecond)
		if m := len(e.Logs(t, name)); m != n {
			t.Fatalf("paused container wrote %d bytes", m-n)
		}
		c.Run(t, "unpause", name).Assert(t, 0, name)
		if st := e.Inspect(t, name).State; st.Paused || st.Status != "running" {
			t.Fatalf("after unpause: %+v", st)
		}
		e.WaitFor(t, name, "output after unpause", 10*time.Second, func(containerState) bool {
			return len(e.Logs(t, name)) > n+10
		})
		c.Run(t, "unpause", name).Assert(t, 1, "not paused")
	})
}

func TestRename(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		old, nu, other := e.Name(t, "old"), e.Name(t, "new"), e.Name(t, "other")
		id := c.Run(t, "run", "-d", "--name", old, "busybox", "sleep", "1000").OK(t).Out()
		c.Run(t, "create", "--name", other, "busybox", "true").OK(t)
		c.Run(t, "rename", old, nu).OK(t)
		if got := e.Inspect(t, nu); got.ID != id || got.Name != "/"+nu {
			t.Fatalf("after rename: %s %s", got.ID, got.Name)
		}
		if e.Exists(t, old) {
			t.Fatal("old name still resolves")
		}
		c.Run(t, "rename", nu, other).Assert(t, 1, `Conflict. The container name "/`+other+`" is already in use`)
		c.Run(t, "ps", "--filter", "name="+nu, "--format", "{{.Names}}").Assert(t, 0, nu)
		// The old name is free again.
		c.Run(t, "create", "--name", old, "busybox", "true").OK(t)
	})
}

func TestUpdateRestartPolicy(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
		c.Run(t, "update", "--restart", "on-failure:3", name).Assert(t, 0, name)
		if p := e.Inspect(t, name).HostConfig.RestartPolicy; p.Name != "on-failure" || p.MaximumRetryCount != 3 {
			t.Fatalf("restart policy %+v", p)
		}
		c.Run(t, "update", "--restart", "always", name).OK(t)
		if p := e.Inspect(t, name).HostConfig.RestartPolicy; p.Name != "always" {
			t.Fatalf("restart policy %+v", p)
		}
		c.Run(t, "inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", name).Assert(t, 0, "always")
		c.Run(t, "update", "--restart", "bogus", name).Assert(t, 1, "invalid restart policy")
	})
}

// TestStopSignals: the exit codes of a process killed by a signal (143 for
// SIGTERM, 137 for SIGKILL), the image's STOPSIGNAL, and --stop-timeout
// as the default grace. A container's pid 1 ignores signals it has no
// handler for, so the SIGTERM case runs in the host's PID namespace,
// where sleep is not an init.
func TestStopSignals(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	img := strings.ToLower(e.Name(t)) + ":usr1"
	loadWithConfig(t, e, img, func(cfg map[string]any) { cfg["StopSignal"] = "SIGUSR1" })
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		t.Parallel()
		stop := func(name string, args ...string) time.Duration {
			t.Helper()
			start := time.Now()
			c.RunWith(t, e2e.RunOpts{Timeout: 60 * time.Second}, append(append([]string{"stop"}, args...), name)...).Assert(t, 0, name)
			return time.Since(start)
		}
		term := e.Name(t, "term")
		c.Run(t, "run", "-d", "--name", term, "--pid", "host", "busybox", "sleep", "1000").OK(t)
		e.WaitRunning(t, term)
		if d := stop(term); d > 8*time.Second {
			t.Errorf("stop of a process that dies of SIGTERM took %v", d)
		}
		c.Run(t, "ps", "-a", "--filter", "name="+term, "--format", "{{.Status}}").Assert(t, 0, "Exited (143)")
		c.Run(t, "start", term).OK(t)
		e.WaitRunning(t, term)
		c.Run(t, "kill", "-s", "TERM", term).OK(t)
		if code := e.WaitExit(t, term, 20*time.Second); code != 143 {
			t.Errorf("kill -s TERM: exit code %d, want 143", code)
		}

		usr1 := e.Name(t, "usr1")
		c.Run(t, "run", "-d", "--name", usr1, img, "sh", "-c", `trap 'exit 9' USR1; echo ready; while true; do sleep 0.1; done`).OK(t)
		e.WaitLog(t, usr1, "ready", 20*time.Second)
		c.Run(t, "inspect", "--format", "{{.Config.StopSignal}}", usr1).Assert(t, 0, "SIGUSR1")
		if d := stop(usr1); d > 8*time.Second {
			t.Errorf("stop with the image's STOPSIGNAL took %v: not sent?", d)
		}
		c.Run(t, "inspect", "--format", "{{.State.ExitCode}}", usr1).Assert(t, 0, "9")

		grace := e.Name(t, "grace")
		c.Run(t, "run", "-d", "--name", grace, "--stop-timeout", "1", "busybox", "sleep", "1000").OK(t)
		e.WaitRunning(t, grace)
		c.Run(t, "inspect", "--format", "{{.Config.StopTimeout}}", grace).Assert(t, 0, "1")
		if d := stop(grace); d < 900*time.Millisecond || d > 8*time.Second {
			t.Errorf("stop with --stop-timeout 1 took %v", d)
		}
		c.Run(t, "inspect", "--format", "{{.State.ExitCode}}", grace).Assert(t, 0, "137")
	})
}

// TestRunInit: with --init, an init (docker-init) is the container's pid
// 1 and the command its child, which gets the stop signal (a shell as pid
// 1 would ignore SIGTERM and be killed after the grace period: 137).
func TestRunInit(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ps := c.Run(t, "run", "--rm", "--init", "busybox", "ps", "-o", "pid,args").OK(t).Stdout
		if !regexp.MustCompile(`(?m)^\s*1\s+/sbin/docker-init -- ps -o pid,args$`).MatchString(ps) {
			t.Errorf("ps in a container with --init:\n%s", ps)
		}
		name := e.Name(t)
		c.Run(t, "run", "-d", "--init", "--name", name, "busybox", "sleep", "1000").OK(t)
		// A signal that comes while the init is still starting its child
		// has no child to go to: wait for sleep to run.
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(c.Run(t, "top", name).Stdout, "sleep 1000") {
			if time.Now().After(deadline) {
				t.Fatal("sleep never ran under the init")
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Run(t, "stop", "-t", "30", name).OK(t)
		if code := e.Inspect(t, name).State.ExitCode; code != 143 {
			t.Errorf("exit code after stop: %d, want 143 (SIGTERM reached sleep)", code)
		}
		if init := e.Inspect(t, name).HostConfig.Init; init == nil || !*init {
			t.Errorf("HostConfig.Init %v", init)
		}
	})
}

// TestDiscardedLimits: a limit the host's cgroups cannot apply (block I/O
// weight without the CFQ/BFQ scheduler's files) is discarded at create
// with Docker's warning, and the container runs.
func TestDiscardedLimits(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.bfq.weight", "/sys/fs/cgroup/cgroup.controllers"} {
		if _, err := os.Stat(f); err == nil {
			t.Skip("this host can weigh block I/O")
		}
	}
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		r := c.Run(t, "run", "--name", name, "--blkio-weight", "300", "busybox", "echo", "ran").Assert(t, 0, "ran")
		if !strings.Contains(r.Stderr, "WARNING: Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.") {
			t.Errorf("stderr %q", r.Stderr)
		}
		if w := e.Inspect(t, name).HostConfig.BlkioWeight; w != 0 {
			t.Errorf("BlkioWeight %d", w)
		}
	})
}
