package core

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// expectSize types `stty size` until the shell on the terminal reports
// rows x cols: the CLI passes a window change on asynchronously (SIGWINCH,
// then a resize request), so the first answer may still be the old size.
//
// again, when not nil, changes the window once more after a while: the
// stock CLI now and then misses a window change (a SIGWINCH that comes
// before it watches for them: no resize request reaches the engine, the
// terminal keeps its old size for good), against either engine.
func expectSize(t *testing.T, term *e2e.Term, rows, cols int, again func()) {
	t.Helper()
	want := fmt.Sprintf(`\r\n%d %d\r\n`, rows, cols)
	start := time.Now()
	for tries := 0; ; tries++ {
		term.Send(t, "stty size\r")
		if _, err := term.Output.TryExpect(want, 500*time.Millisecond); err == nil {
			return
		}
		if again != nil && tries%6 == 5 {
			again()
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("the terminal never became %dx%d; received:\n%s", rows, cols, term.Output)
		}
	}
}

// resizer changes a terminal's size; its retry (see expectSize) goes
// through another size, since only a change sends SIGWINCH.
func resizer(t *testing.T, term *e2e.Term, rows, cols uint16) func() {
	term.Resize(t, rows, cols)
	return func() {
		term.Resize(t, rows+1, cols)
		term.Resize(t, rows, cols)
	}
}

// TestResize: the container's and an exec's terminal follow the size of
// the user's terminal, at start and when the window changes (the resize
// endpoints of containers and execs).
func TestResize(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		run := c.StartPTY(t, "run", "-it", "--name", name, "busybox", "sh")
		run.Expect(t, `/ # `, 30*time.Second)
		expectSize(t, run, 24, 80, nil) // StartPTY's size
		expectSize(t, run, 30, 100, resizer(t, run, 30, 100))

		exec := c.StartPTY(t, "exec", "-it", name, "sh")
		exec.Expect(t, `/ # `, 30*time.Second)
		expectSize(t, exec, 24, 80, nil)
		expectSize(t, exec, 40, 120, resizer(t, exec, 40, 120))
		exec.Send(t, "exit\r")
		if code := exec.Wait(t, 20*time.Second); code != 0 {
			t.Fatalf("exec -it exit code %d", code)
		}
		// The exec's size is its own: the container's terminal kept 30x100.
		expectSize(t, run, 30, 100, nil)
		run.Send(t, "exit 2\r")
		if code := run.Wait(t, 20*time.Second); code != 2 {
			t.Fatalf("run -it exit code %d", code)
		}
	})
}

// TestResizeAPI drives POST /containers/{id}/resize with the SDK and
// checks what it refuses.
func TestResizeAPI(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	name, created := e.Name(t), e.Name(t, "created")
	e.Docker().Run(t, "run", "-d", "-t", "--name", name, "busybox", "sh", "-c",
		`while true; do stty size; sleep 0.1; done`).OK(t)
	e.Docker().Run(t, "create", "-t", "--name", created, "busybox", "sh").OK(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := e.Client(t)
	if _, err := cli.ContainerResize(ctx, name, client.ContainerResizeOptions{Height: 33, Width: 77}); err != nil {
		t.Fatal(err)
	}
	e.WaitLog(t, name, `\b33 77\r\n`, 20*time.Second)

	if _, err := cli.ContainerResize(ctx, created, client.ContainerResizeOptions{Height: 10, Width: 10}); !cerrdefs.IsConflict(err) {
		t.Errorf("resize of a container not running: %v, want 409 not running", err)
	}
	if _, err := cli.ContainerResize(ctx, "e2e-no-such-container", client.ContainerResizeOptions{Height: 10, Width: 10}); !cerrdefs.IsNotFound(err) {
		t.Errorf("resize of an unknown container: %v, want 404", err)
	}
	// Malformed sizes are refused and change nothing.
	hc := e2e.HTTPClient(e.Host)
	for _, q := range []string{"h=x&w=10", "h=10", ""} {
		resp, body := request(t, hc, http.MethodPost, "/containers/"+name+"/resize?"+q)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("resize?%s: %s %s, want 400", q, resp.Status, body)
		}
	}
	if resp, body := request(t, hc, http.MethodPost, "/exec/e2e-no-such-exec/resize?h=10&w=10"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("resize of an unknown exec: %s %s, want 404", resp.Status, body)
	}
	// Still 33x77, the lines written since say (the loop prints every
	// 0.1 s).
	time.Sleep(300 * time.Millisecond)
	logs := e.Logs(t, name)
	if tail := logs[max(0, len(logs)-14):]; tail != "33 77\r\n33 77\r\n" {
		t.Errorf("terminal size after bad resizes: %q", tail)
	}
}
