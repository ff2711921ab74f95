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
	// staysDown gives a policy restart the time it would take, then fails
	// the test, saying what should not have restarted, unless the
	// container is still down after the given number of restarts.
	staysDown := func(t *testing.T, name string, wait time.Duration, restarts int, what string) {
		t.Helper()
		time.Sleep(wait)
		if got := e.Inspect(t, name); got.RestartCount != restarts || !settled(got) {
			t.Fatalf("%s: %d restarts (want %d), %+v", what, got.RestartCount, restarts, got.State)
		}
	}

	t.Run("no", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "no", "--name", name, "busybox", "sh", "-c", "exit 1").OK(t)
		if code := e.WaitExit(t, name, 20*time.Second); code != 1 {
			t.Fatalf("exit code %d", code)
		}
		staysDown(t, name, 500*time.Millisecond, 0, "restarted without a policy")
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
		staysDown(t, name, time.Second, 2, "restarted beyond the maximum")
	})
	t.Run("on-failure-success", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "on-failure", "--name", name, "busybox", "true").OK(t)
		if code := e.WaitExit(t, name, 20*time.Second); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		staysDown(t, name, 500*time.Millisecond, 0, "on-failure restarted a success")
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
		n := e.WaitFor(t, name, "stopped", 20*time.Second, settled).RestartCount
		staysDown(t, name, time.Second, n, "always restarted after docker stop")
	})
	t.Run("unless-stopped", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "unless-stopped", "--name", name, "busybox", "sh", "-c", "echo run; sleep 0.1").OK(t)
		e.WaitFor(t, name, "restarted once", 30*time.Second, func(st containerState) bool {
			return st.RestartCount >= 1
		})
		c.Run(t, "stop", "-t", "1", name).OK(t)
		n := e.WaitFor(t, name, "stopped", 20*time.Second, settled).RestartCount
		staysDown(t, name, time.Second, n, "unless-stopped restarted after docker stop")
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
		staysDown(t, name, time.Second, 0, "restarted after docker kill")
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
	t.Run("backoff", func(t *testing.T) {
		t.Parallel()
		// Docker waits 100 ms before the first restart, then twice as
		// long each time: die → start gaps of at least 100, 200, 400 ms.
		name := e.Name(t)
		since := time.Now().Add(-time.Second)
		c.Run(t, "run", "-d", "--restart", "always", "--name", name, "busybox", "false").OK(t)
		// (Docker counts a restart when it schedules it: wait for the
		// fourth so that the third start is in the events.)
		e.WaitFor(t, name, "restarting after 4 restarts", 30*time.Second, func(st containerState) bool {
			return st.RestartCount >= 4 && st.State.Restarting && st.State.Status == "restarting"
		})
		var lastDie int64
		var gaps []time.Duration
		for _, m := range e.Events(t, name, since, time.Now()) {
			switch m.Action {
			case "die":
				lastDie = m.TimeNano
			case "start":
				if lastDie != 0 {
					gaps = append(gaps, time.Duration(m.TimeNano-lastDie))
				}
			}
		}
		if len(gaps) < 3 {
			t.Fatalf("want 3 restarts in the events, got gaps %v", gaps)
		}
		for i, want := range []time.Duration{100, 200, 400} {
			if want *= time.Millisecond; gaps[i] < want*9/10 {
				t.Errorf("restart %d came %v after the exit, want at least %v (gaps %v)", i+1, gaps[i], want, gaps)
			}
		}
		c.Run(t, "rm", "-f", name).OK(t)
	})
	t.Run("rm-f-while-restarting", func(t *testing.T) {
		t.Parallel()
		// rm -f wins over the policy at any moment: while the container
		// waits out its back-off, and whenever it happens to run.
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "always", "--name", name, "busybox", "false").OK(t)
		e.WaitFor(t, name, "restarting", 30*time.Second, func(st containerState) bool { return st.State.Restarting })
		c.Run(t, "rm", "-f", name).Assert(t, 0, name)
		if e.Kind != e2e.KindBerth {
			// Docker 20.10 loses the race below now and then: "Could not
			// kill running container …, cannot remove - Container … is
			// not running". berth must not.
			return
		}
		for i := 0; i < 10; i++ {
			c.Run(t, "run", "-d", "--restart", "always", "--name", name, "busybox", "false").OK(t)
			time.Sleep(time.Duration(i) * 60 * time.Millisecond)
			c.Run(t, "rm", "-f", name).Assert(t, 0, name)
		}
		if e.Exists(t, name) {
			t.Fatal("container exists after rm -f")
		}
	})
	t.Run("invalid", func(t *testing.T) {
		t.Parallel()
		name := e.Name(t)
		c.Run(t, "run", "-d", "--restart", "always", "--rm", "--name", name, "busybox", "true").
			Assert(t, 125, "conflicting options")
	})
}
