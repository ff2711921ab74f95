package core

import (
	"strconv"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// healthIs waits until the container's health status is want.
func healthIs(t *testing.T, e *e2e.Engine, name string, want containertypes.HealthStatus) *containertypes.Health {
	t.Helper()
	c := e.WaitFor(t, name, "health "+string(want), 30*time.Second, func(c containertypes.InspectResponse) bool {
		return c.State != nil && c.State.Health != nil && c.State.Health.Status == want
	})
	return c.State.Health
}

// TestHealthcheck: health checks as Docker runs them: a passing check
// makes the container healthy (its output in the log), failing ones make
// it unhealthy after --health-retries, a check that runs out of time
// fails with Docker's message, failures within the start period keep it
// starting; docker ps shows the status and filters on it, and each
// change is a health_status event.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	// A private engine: probes' exec events every second would crowd the
	// shared engine's event history that other tests read.
	e := e2e.StartPrivate(t, e2e.PrivateOptions{})
	c := e.Docker()
	good, bad, slow, early := e.Name(t, "good"), e.Name(t, "bad"), e.Name(t, "slow"), e.Name(t, "early")
	// A live stream: probes' exec events soon push the health_status one
	// out of the daemon's short history (256 events, as Docker's).
	ev := c.Start(t, "events", "--since", strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10),
		"--filter", "container="+good, "--filter", "event=health_status", "--format", "{{.Action}}")
	c.Run(t, "run", "-d", "--name", good, "--health-cmd", "echo ok", "--health-interval", "1s", "busybox", "sleep", "1000").OK(t)
	c.Run(t, "run", "-d", "--name", bad, "--health-cmd", "exit 1", "--health-interval", "1s", "--health-retries", "2", "busybox", "sleep", "1000").OK(t)
	c.Run(t, "run", "-d", "--name", slow, "--health-cmd", "sleep 10", "--health-interval", "1s", "--health-timeout", "1s",
		"--health-retries", "1", "busybox", "sleep", "1000").OK(t)
	// (Within the start period Docker ≥ 25 probes every start interval,
	// 5 s by default, 20.10 every interval.)
	c.Run(t, "run", "-d", "--name", early, "--health-cmd", "exit 1", "--health-interval", "1s", "--health-start-period", "1h",
		"busybox", "sleep", "1000").OK(t)

	h := healthIs(t, e, good, containertypes.Healthy)
	if last := h.Log[len(h.Log)-1]; last.ExitCode != 0 || last.Output != "ok\n" || h.FailingStreak != 0 || last.End.Before(last.Start) {
		t.Errorf("healthy: %+v, last %+v", h, last)
	}
	if h := healthIs(t, e, bad, containertypes.Unhealthy); h.FailingStreak < 2 || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Errorf("unhealthy: streak %d, log %+v", h.FailingStreak, h.Log)
	}
	if h := healthIs(t, e, slow, containertypes.Unhealthy); h.Log[0].ExitCode != -1 || h.Log[0].Output != "Health check exceeded timeout (1s)" {
		t.Errorf("timed out: %+v", h.Log[0])
	}
	e.WaitFor(t, early, "a failed probe", 30*time.Second, func(c containertypes.InspectResponse) bool {
		return c.State.Health != nil && len(c.State.Health.Log) >= 1
	})
	if h := e.Inspect(t, early).State.Health; h.Status != containertypes.Starting || h.FailingStreak != 0 {
		t.Errorf("failures within the start period: %s, streak %d", h.Status, h.FailingStreak)
	}

	c.Run(t, "ps", "--filter", "name="+good, "--format", "{{.Status}}").Assert(t, 0, "(healthy)")
	c.Run(t, "ps", "--filter", "name="+early, "--format", "{{.Status}}").Assert(t, 0, "(health: starting)")
	unhealthy := c.Run(t, "ps", "--filter", "health=unhealthy", "--format", "{{.Names}}").OK(t).Stdout
	if !strings.Contains(unhealthy, bad) || !strings.Contains(unhealthy, slow) || strings.Contains(unhealthy, good) {
		t.Errorf("ps --filter health=unhealthy:\n%s", unhealthy)
	}
	ev.Stdout.Expect(t, "health_status: healthy\n", 20*time.Second)
	ev.Kill()
}

// TestHealthcheckFromImage: an image's HEALTHCHECK runs in its
// containers; --no-healthcheck turns it off.
func TestHealthcheckFromImage(t *testing.T) {
	t.Parallel()
	e := e2e.StartPrivate(t, e2e.PrivateOptions{})
	img := strings.ToLower(e.Name(t)) + ":health"
	loadWithConfig(t, e, img, func(cfg map[string]any) {
		cfg["Healthcheck"] = map[string]any{"Test": []string{"CMD-SHELL", "echo from image"}, "Interval": int64(time.Second)}
	})
	c := e.Docker()
	with, without := e.Name(t, "with"), e.Name(t, "without")
	c.Run(t, "run", "-d", "--name", with, img, "sleep", "1000").OK(t)
	c.Run(t, "run", "-d", "--name", without, "--no-healthcheck", img, "sleep", "1000").OK(t)
	if h := healthIs(t, e, with, containertypes.Healthy); h.Log[len(h.Log)-1].Output != "from image\n" {
		t.Errorf("image health check: %+v", h.Log)
	}
	if h := e.Inspect(t, without).State.Health; h != nil {
		t.Errorf("--no-healthcheck: %+v", h)
	}
	c.Run(t, "ps", "--filter", "health=none", "--filter", "name="+without, "--format", "{{.Names}}").Assert(t, 0, without)
}

// TestHealthcheckAfterDaemonRestart: a running container's health checks
// go on after the daemon is killed and started again (berth only: the
// reference dockerd is not ours to kill).
func TestHealthcheckAfterDaemonRestart(t *testing.T) {
	t.Parallel()
	e2e.Current(t).BerthOnly(t)
	e := e2e.StartPrivate(t, e2e.PrivateOptions{})
	name := e.Name(t)
	e.Docker().Run(t, "run", "-d", "--name", name, "--health-cmd", "date +%s%N", "--health-interval", "1s", "busybox", "sleep", "1000").OK(t)
	healthIs(t, e, name, containertypes.Healthy)
	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	before := e.Inspect(t, name).State.Health.Log
	last := before[len(before)-1].Start
	e.WaitFor(t, name, "a probe after the restart", 30*time.Second, func(c containertypes.InspectResponse) bool {
		h := c.State.Health
		return h != nil && h.Status == containertypes.Healthy && h.Log[len(h.Log)-1].Start.After(last)
	})
}
