package core

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// logger prints one line on stderr, then five on stdout, waits for
// /tmp/go (touched with exec), prints "after" and exits. The pause keeps
// the order of the two streams in the log certain.
const logger = `echo err >&2; sleep 0.2; for i in 1 2 3 4 5; do echo line $i; done
while [ ! -f /tmp/go ]; do sleep 0.05; done
echo after; sleep 0.2`

func TestLogs(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", logger).OK(t)
		e.WaitLog(t, name, "line 5", 20*time.Second)

		r := c.Run(t, "logs", name).OK(t)
		if r.Stdout != "line 1\nline 2\nline 3\nline 4\nline 5\n" || r.Stderr != "err\n" {
			t.Fatalf("logs: stdout %q stderr %q", r.Stdout, r.Stderr)
		}
		r = c.Run(t, "logs", "--tail", "2", name).OK(t)
		if r.Stdout != "line 4\nline 5\n" || r.Stderr != "" {
			t.Fatalf("logs --tail 2: stdout %q stderr %q", r.Stdout, r.Stderr)
		}
		r = c.Run(t, "logs", "-n", "0", name).OK(t)
		if r.Combined() != "" {
			t.Fatalf("logs -n 0: %q", r.Combined())
		}
		r = c.Run(t, "logs", "-t", name).OK(t)
		ts := regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z) line (\d)$`)
		lines := r.Lines()
		if len(lines) != 5 {
			t.Fatalf("logs -t: %q", r.Stdout)
		}
		var last time.Time
		for _, l := range lines {
			m := ts.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("logs -t line %q", l)
			}
			tm := e2e.ParseTime(t, m[1])
			if tm.Before(last) || time.Since(tm) > 5*time.Minute || time.Until(tm) > time.Minute {
				t.Fatalf("logs -t timestamps out of order or off: %q", r.Stdout)
			}
			last = tm
		}

		// Follow: sees lines written after it started, ends with the
		// container.
		mark := time.Now()
		f := c.Start(t, "logs", "-f", name)
		f.Stdout.Expect(t, "line 5\n", 20*time.Second)
		c.Run(t, "exec", name, "touch", "/tmp/go").OK(t)
		f.Stdout.Expect(t, "after\n", 20*time.Second)
		if code := f.Wait(t, 30*time.Second); code != 0 {
			t.Fatalf("logs -f exit code %d: %s", code, f.Stderr)
		}
		if got := e.Inspect(t, name).State; got.Running {
			t.Fatalf("logs -f ended while the container runs")
		}

		// --since / --until split at a time between "line 5" and "after".
		r = c.Run(t, "logs", "--since", e2e.UnixArg(mark), name).OK(t)
		if r.Stdout != "after\n" {
			t.Errorf("logs --since: %q", r.Stdout)
		}
		r = c.Run(t, "logs", "--until", e2e.UnixArg(mark), name).OK(t)
		if !strings.HasPrefix(r.Stdout, "line 1\n") || strings.Contains(r.Stdout, "after") {
			t.Errorf("logs --until: %q", r.Stdout)
		}
		// A stopped container's logs -f returns at once.
		c.RunWith(t, e2e.RunOpts{Timeout: 20 * time.Second}, "logs", "-f", "--tail", "1", name).Assert(t, 0, "after")
	})
}

func TestLogsTTY(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-t", "--name", name, "busybox", "sh", "-c", "echo out; echo err >&2").OK(t)
		// With a tty, both streams are one and lines end in \r\n.
		r := c.Run(t, "logs", name).OK(t)
		if r.Stdout != "out\r\nerr\r\n" || r.Stderr != "" {
			t.Fatalf("logs of a tty container: %q %q", r.Stdout, r.Stderr)
		}
	})
}
