package container

import (
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// Health checks run as Docker runs them: the HEALTHCHECK command is
// exec'd in the running container every interval (every start interval
// while starting within the start period); exit 0 is healthy, anything
// else (or running out of time) a failure; Retries failures in a row make
// the container unhealthy, except failures within the start period
// before any success. The last five results stay in State.Health, and
// every change of status is a "health_status: <status>" event.
const (
	defaultProbeInterval = 30 * time.Second
	defaultProbeTimeout  = 30 * time.Second
	defaultStartInterval = 5 * time.Second
	defaultProbeRetries  = 3
	healthLogEntries     = 5
	probeOutputLimit     = 4096
)

// healthTest is the command a health check runs, nil when the container
// has none (or HEALTHCHECK NONE).
func healthTest(cfg *containertypes.Config) []string {
	if cfg == nil || cfg.Healthcheck == nil || len(cfg.Healthcheck.Test) == 0 {
		return nil
	}
	t := cfg.Healthcheck.Test
	switch t[0] {
	case "CMD":
		if len(t) > 1 {
			return t[1:]
		}
	case "CMD-SHELL":
		shell := cfg.Shell
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string(nil), shell...), t[1:]...)
	}
	return nil // NONE, or nothing to run
}

func orDefault[T ~int | ~int64](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

// checkHealth runs the container's health checks for the run that
// started at startedAt, until it ends (exit, or the daemon's shutdown).
// A container without a health check has no Health.
func (m *monitor) checkHealth(c *Container) {
	c.mu.Lock()
	cfg := c.Config
	test := healthTest(cfg)
	startedAt, exit := c.State.StartedAt, c.exit
	if test == nil {
		c.State.Health = nil
		c.mu.Unlock()
		return
	}
	// Health is replaced, never changed in place: copies of the record
	// (list, inspect) keep a consistent one.
	h := cloneHealth(c.State.Health)
	if h == nil {
		h = &containertypes.Health{}
	}
	h.Status, h.FailingStreak = containertypes.Starting, 0
	c.State.Health = h
	hc := *cfg.Healthcheck
	c.mu.Unlock()

	interval := orDefault(hc.Interval, defaultProbeInterval)
	startInterval := orDefault(hc.StartInterval, defaultStartInterval)
	nextInterval := func() time.Duration {
		c.mu.Lock()
		defer c.mu.Unlock()
		if time.Since(startedAt) < hc.StartPeriod && c.State.Health != nil && c.State.Health.Status == containertypes.Starting {
			return startInterval
		}
		return interval
	}
	var ended <-chan struct{}
	if exit != nil {
		ended = exit.done
	}
	m.life.wg.Add(1)
	go func() {
		defer m.life.wg.Done()
		timer := time.NewTimer(nextInterval())
		defer timer.Stop()
		for {
			select {
			case <-m.life.ctx.Done():
				return
			case <-ended:
				return
			case <-timer.C:
			}
			c.mu.Lock()
			current := c.State.Running && c.State.StartedAt.Equal(startedAt)
			paused := c.State.Paused
			c.mu.Unlock()
			if !current {
				return
			}
			if !paused {
				r := m.probe(c, test, orDefault(hc.Timeout, defaultProbeTimeout))
				m.recordHealth(c, r, startedAt, hc.StartPeriod, orDefault(hc.Retries, defaultProbeRetries))
			}
			timer.Reset(nextInterval())
		}
	}()
}

// probe runs the check once as an exec session, its output (stdout and
// stderr, the first 4 KiB) and exit code the result; one that runs out of
// time is killed.
func (m *monitor) probe(c *Container, cmd []string, timeout time.Duration) *containertypes.HealthcheckResult {
	ctx := m.life.ctx
	r := &containertypes.HealthcheckResult{Start: time.Now()}
	failed := func(msg string) *containertypes.HealthcheckResult {
		r.End, r.ExitCode, r.Output = time.Now(), -1, msg
		return r
	}
	id, err := m.execs.Create(ctx, c.ID, containertypes.ExecCreateRequest{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return failed(err.Error())
	}
	defer m.execs.drop(id)
	out := newProbeOutput()
	defer out.Close() // also when the exec never took the stream
	done := make(chan error, 1)
	go func() {
		done <- m.execs.Start(ctx, id, ExecStartOptions{GetStream: func(bool) (io.ReadWriteCloser, error) { return out, nil }})
	}()
	select {
	case err := <-done:
		if err != nil {
			return failed(err.Error())
		}
	case <-time.After(timeout):
		if insp, err := m.execs.Inspect(ctx, id); err == nil && insp.Pid > 0 {
			_ = syscall.Kill(insp.Pid, syscall.SIGKILL)
		}
		return failed(fmt.Sprintf("Health check exceeded timeout (%v)", timeout))
	}
	insp, err := m.execs.Inspect(ctx, id)
	if err != nil {
		return failed(err.Error())
	}
	if insp.ExitCode == nil {
		return failed("health check ended without an exit code")
	}
	r.End, r.ExitCode, r.Output = time.Now(), *insp.ExitCode, out.String()
	return r
}

// recordHealth adds a result to the container's health, by Docker's rules.
func (m *monitor) recordHealth(c *Container, r *containertypes.HealthcheckResult, startedAt time.Time, startPeriod time.Duration, retries int) {
	c.mu.Lock()
	h := cloneHealth(c.State.Health)
	if h == nil || !c.State.StartedAt.Equal(startedAt) {
		c.mu.Unlock()
		return
	}
	c.State.Health = h
	old := h.Status
	h.Log = append(h.Log, r)
	if n := len(h.Log); n > healthLogEntries {
		h.Log = append([]*containertypes.HealthcheckResult(nil), h.Log[n-healthLogEntries:]...)
	}
	switch {
	case r.ExitCode == 0:
		h.FailingStreak = 0
		h.Status = containertypes.Healthy
	case h.Status == containertypes.Starting && r.Start.Sub(startedAt) < startPeriod:
		// Still starting: failures do not count yet.
	default:
		h.FailingStreak++
		if h.FailingStreak >= retries {
			h.Status = containertypes.Unhealthy
		}
	}
	status := h.Status
	c.mu.Unlock()
	c.saveOrLog()
	if status != old {
		publishEvent(m.events, c, events.Action(string(events.ActionHealthStatus)+": "+string(status)), nil)
	}
}

// probeOutput is the stream a probe's exec writes to: its stdcopy frames
// are read back (stdout and stderr together) into the first
// probeOutputLimit bytes.
type probeOutput struct {
	w    *io.PipeWriter
	done chan struct{}
	out  limitedBuffer
}

func newProbeOutput() *probeOutput {
	r, w := io.Pipe()
	p := &probeOutput{w: w, done: make(chan struct{})}
	go func() {
		_, _ = stdcopy.StdCopy(&p.out, &p.out, r)
		_, _ = io.Copy(io.Discard, r) // a malformed stream: do not block the writer
		close(p.done)
	}()
	return p
}

func (p *probeOutput) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *probeOutput) Read([]byte) (int, error)    { return 0, io.EOF }
func (p *probeOutput) Close() error                { return p.w.Close() }

// String is the output, once the stream was closed.
func (p *probeOutput) String() string {
	<-p.done
	return string(p.out)
}

// limitedBuffer keeps the first probeOutputLimit bytes written to it.
type limitedBuffer []byte

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := probeOutputLimit - len(*b); room > 0 {
		*b = append(*b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
