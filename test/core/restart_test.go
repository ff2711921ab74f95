package core

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestRestartPolicies: no, on-failure[:N], always, unless-stopped, on exit.
// Docker backs off 100ms, 200ms, 400ms... between restarts, so a few
// restarts take about a second.
func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	settled := func(st containerState) bool { return !st.State.Running && !st.State.Restarting }

	t.Run("no", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "no", "--name", name, "busybox", "sh", "-c", "exit 1").OK(t)
		if code := e.WaitExit(t, name, 20*time.Second); code != 1 {
			t.Fatalf("exit code %d", code)
		}
		// Nothing will happen; give a restart the time it would take.
		time.Sleep(500 * time.Millisecond)
		got := e.Inspect(t, name)
		if got.RestartCount != 0 || got.State.Running || got.State.Restarting {
			t.Fatalf("restarted without a policy: %d restarts, %+v", got.RestartCount, got.State)
		}
	})
	t.Run("on-failure-2", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "on-failure:2", "--name", name, "busybox", "sh", "-c", "echo run; exit 3").OK(t)
		got := e.WaitFor(t, name, "2 restarts then stopped", 30*time.Second, func(st containerState) bool {
			return st.RestartCount == 2 && settled(st)
		})
		if got.State.ExitCode != 3 || got.State.Status != "exited" {
			t.Fatalf("final state %+v", got.State)
		}
		if n := strings.Count(e.Logs(t, name), "run"); n != 3 {
			t.Fatalf("ran %d times, want 3 (1 + 2 restarts)", n)
		}
		time.Sleep(time.Second)
		if got := e.Inspect(t, name); got.RestartCount != 2 || !settled(got) {
			t.Fatalf("restarted beyond the maximum: %d restarts, %+v", got.RestartCount, got.State)
		}
	})
	t.Run("on-failure-success", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "on-failure", "--name", name, "busybox", "true").OK(t)
		if code := e.WaitExit(t, name, 20*time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		time.Sleep(500 * time.Millisecond)
		if got := e.Inspect(t, name); got.RestartCount != 0 || !settled(got) {
			t.Fatalf("on-failure restarted a success: %d, %+v", got.RestartCount, got.State)
		}
	})
	t.Run("always", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "always", "--name", name, "busybox", "sh", "-c", "echo run; sleep 0.1").OK(t)
		e.WaitFor(t, name, "restarted twice", 30*time.Second, func(st containerState) bool {
			return st.RestartCount >= 2
		})
		// A manual stop ends it, and it stays stopped.
		c.Run(t, "stop", "-t", "1", name).OK(t)
		got := e.WaitFor(t, name, "stopped", 20*time.Second, settled)
		n := got.RestartCount
		time.Sleep(time.Second)
		if got := e.Inspect(t, name); !settled(got) || got.RestartCount != n {
			t.Fatalf("always restarted after docker stop: %+v, restarts %d -> %d", got.State, n, got.RestartCount)
		}
	})
	t.Run("unless-stopped", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "unless-stopped", "--name", name, "busybox", "sh", "-c", "echo run; sleep 0.1").OK(t)
		e.WaitFor(t, name, "restarted once", 30*time.Second, func(st containerState) bool {
			return st.RestartCount >= 1
		})
		c.Run(t, "stop", "-t", "1", name).OK(t)
		got := e.WaitFor(t, name, "stopped", 20*time.Second, settled)
		n := got.RestartCount
		time.Sleep(time.Second)
		if got := e.Inspect(t, name); !settled(got) || got.RestartCount != n {
			t.Fatalf("unless-stopped restarted after docker stop: %+v", got.State)
		}
		// Starting it again re-arms the policy.
		c.Run(t, "start", name).OK(t)
		e.WaitFor(t, name, "restarting again", 30*time.Second, func(st containerState) bool {
			return st.RestartCount > n
		})
	})
	t.Run("kill-is-a-manual-stop", func(t *testing.T) {
		t.Parallel()
		// docker kill, like docker stop, keeps the policy from restarting.
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "on-failure:1", "--name", name, "busybox", "sleep", "1000").OK(t)
		e.WaitRunning(t, name)
		c.Run(t, "kill", name).OK(t)
		if code := e.WaitExit(t, name, 20*time.Second); code != 137 {
			t.Fatalf("exit code %d", code)
		}
		time.Sleep(time.Second)
		if got := e.Inspect(t, name); got.RestartCount != 0 || !settled(got) {
			t.Fatalf("restarted after docker kill: %d, %+v", got.RestartCount, got.State)
		}
	})
	t.Run("crash-is-a-failure", func(t *testing.T) {
		t.Parallel()
		// The process killed from outside the engine (as by the OOM
		// killer) is a failure: on-failure restarts it.
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "on-failure:1", "--name", name, "busybox", "sleep", "1000").OK(t)
		first := e.WaitRunning(t, name)
		if err := syscall.Kill(first.State.Pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill pid %d: %v", first.State.Pid, err)
		}
		got := e.WaitFor(t, name, "restarted after the crash", 30*time.Second, func(st containerState) bool {
			return st.RestartCount == 1 && st.State.Running
		})
		if got.State.Pid == first.State.Pid {
			t.Fatal("same pid after restart")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "always", "--rm", "--name", name, "busybox", "true").
			Assert(t, 125, "conflicting options")
	})
}
