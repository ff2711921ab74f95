package e2e

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// Name returns a container name derived from the test's name (plus an
// optional suffix), removes a stale container of that name left by an
// aborted earlier run, and removes the container when the test ends.
func (e *Engine) Name(t testing.TB, suffix ...string) string {
	t.Helper()
	n := strings.Trim(nameUnsafe.ReplaceAllString(strings.ReplaceAll(t.Name(), "/", "-"), "_"), "_.-")
	if len(suffix) > 0 {
		n += "-" + strings.Join(suffix, "-")
	}
	e.forceRemove(n)
	t.Cleanup(func() { e.forceRemove(n) })
	return n
}

func (e *Engine) forceRemove(name string) {
	c, err := e.sdk()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
}

// Inspect returns the container's inspect data, failing the test if it
// does not exist.
func (e *Engine) Inspect(t testing.TB, name string) container.InspectResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := e.Client(t).ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return r.Container
}

// Exists reports whether a container of that name or ID exists.
func (e *Engine) Exists(t testing.TB, name string) bool {
	t.Helper()
	_, err := e.Client(t).ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
	if err != nil && !cerrdefs.IsNotFound(err) {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return err == nil
}

// WaitFor polls the container's state through the API until cond holds.
// Use it only where no event marks the change; the backoff is short.
func (e *Engine) WaitFor(t testing.TB, name, what string, timeout time.Duration, cond func(c container.InspectResponse) bool) container.InspectResponse {
	t.Helper()
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	var last container.InspectResponse
	for {
		last = e.Inspect(t, name)
		if cond(last) {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s: %s not reached within %v; state: %s", name, what, timeout, stateString(last))
		}
		time.Sleep(delay)
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
}

func stateString(c container.InspectResponse) string {
	if c.State == nil {
		return "<no state>"
	}
	s := c.State
	return fmt.Sprintf("status=%s running=%v restarting=%v paused=%v exit=%d pid=%d restarts=%d error=%q",
		s.Status, s.Running, s.Restarting, s.Paused, s.ExitCode, s.Pid, c.RestartCount, s.Error)
}

// WaitRunning waits until the container runs.
func (e *Engine) WaitRunning(t testing.TB, name string) container.InspectResponse {
	t.Helper()
	return e.WaitFor(t, name, "running", 30*time.Second, func(c container.InspectResponse) bool {
		return c.State != nil && c.State.Running && !c.State.Restarting
	})
}

// WaitExit waits (POST /containers/{id}/wait) until the container is not
// running and returns its exit code.
func (e *Engine) WaitExit(t testing.TB, name string, timeout time.Duration) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	w := e.Client(t).ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.Error != nil && r.Error.Message != "" {
			t.Fatalf("wait %s: %s", name, r.Error.Message)
		}
		return int(r.StatusCode)
	case err := <-w.Error:
		t.Fatalf("wait %s: %v", name, err)
	}
	return -1
}

// WaitLog follows the container's logs (stdout and stderr) until the
// regexp matches, and returns everything read. Following is the engine's
// job: no polling here.
func (e *Engine) WaitLog(t testing.TB, name, pattern string, timeout time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tty := false
	if c := e.Inspect(t, name); c.Config != nil {
		tty = c.Config.Tty
	}
	rc, err := e.Client(t).ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		t.Fatalf("logs %s: %v", name, err)
	}
	defer rc.Close()
	buf := newBuffer()
	go func() {
		if tty {
			io.Copy(buf, rc)
		} else {
			stdcopy.StdCopy(buf, buf, rc)
		}
		buf.close()
	}()
	m, err := buf.expect(regexp.MustCompile(pattern), timeout)
	if err != nil {
		t.Fatalf("logs of %s: waiting for /%s/: %v; got:\n%s", name, pattern, err, buf.String())
	}
	_ = m
	return buf.String()
}

// Logs returns the container's whole log (stdout+stderr interleaved as the
// engine returns them).
func (e *Engine) Logs(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := e.Client(t).ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("logs %s: %v", name, err)
	}
	defer rc.Close()
	var sb strings.Builder
	tty := false
	if c := e.Inspect(t, name); c.Config != nil {
		tty = c.Config.Tty
	}
	if tty {
		io.Copy(&sb, rc)
	} else if _, err := stdcopy.StdCopy(&sb, &sb, rc); err != nil {
		t.Fatalf("logs %s: %v", name, err)
	}
	return sb.String()
}

// ParseTime parses an engine timestamp (RFC 3339 with nanoseconds).
func ParseTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("bad timestamp %q: %v", s, err)
	}
	return ts
}

// UnixArg formats a time as the CLI's --since/--until accept it
// (seconds.nanoseconds).
func UnixArg(ts time.Time) string {
	return fmt.Sprintf("%d.%09d", ts.Unix(), ts.Nanosecond())
}

// Events returns the engine's container events for one container between
// since and until (both required: the stream ends at until).
func (e *Engine) Events(t testing.TB, name string, since, until time.Time) []events.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := e.Client(t).Events(ctx, client.EventsListOptions{
		Since:   UnixArg(since),
		Until:   UnixArg(until),
		Filters: client.Filters{}.Add("container", name).Add("type", "container"),
	})
	var out []events.Message
	for {
		select {
		case m := <-res.Messages:
			out = append(out, m)
		case err := <-res.Err:
			if err != nil && err != io.EOF {
				t.Fatalf("events: %v", err)
			}
			return out
		}
	}
}

// IDFromEvents finds the ID of a container (by name) that may already be
// gone, from its create event.
func (e *Engine) IDFromEvents(t testing.TB, name string, since time.Time) string {
	t.Helper()
	for _, m := range e.Events(t, name, since, time.Now()) {
		if m.Action == events.ActionCreate {
			return m.Actor.ID
		}
	}
	t.Fatalf("no create event for container %s since %v", name, since)
	return ""
}
