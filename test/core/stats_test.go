package core

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestStats reads a running container's resource usage: Docker's table,
// with the container's own numbers in it.
func TestStats(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t, "stats")
		id := c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t).Out()
		e.WaitRunning(t, name)

		r := c.Run(t, "stats", "--no-stream").OK(t)
		columns := regexp.MustCompile(`\s{2,}`)
		header := columns.Split(strings.TrimSpace(r.Lines()[0]), -1)
		want := []string{"CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"}
		if strings.Join(header, "|") != strings.Join(want, "|") {
			t.Fatalf("stats header %q, want %q", header, want)
		}
		row := columns.Split(lineWith(r.Stdout, name), -1)
		if len(row) != len(want) {
			t.Fatalf("stats has no row for %s:\n%s", name, r.Stdout)
		}
		if row[0] != id[:12] || row[1] != name {
			t.Errorf("stats row %q: want ID %s and name %s", row, id[:12], name)
		}
		if !regexp.MustCompile(`^\d+\.\d\d%$`).MatchString(row[2]) || !regexp.MustCompile(`^\d+\.\d\d%$`).MatchString(row[4]) {
			t.Errorf("stats row %q: CPU %% and MEM %% are not percentages", row)
		}
		usage, limit, ok := strings.Cut(row[3], " / ")
		if !ok || !regexp.MustCompile(`^[\d.]+(B|KiB|MiB|GiB)$`).MatchString(usage) || usage == "0B" || limit == "0B" {
			t.Errorf("stats row %q: MEM USAGE / LIMIT should be a non-zero usage and a limit", row)
		}
		if pids, err := strconv.Atoi(row[7]); err != nil || pids < 1 {
			t.Errorf("stats row %q: PIDS should be at least 1", row)
		}

		// Named containers, a template; an unknown name is an error.
		r = c.Run(t, "stats", "--no-stream", "--format", "{{.Container}} {{.Name}} {{.PIDs}}", id[:12]).OK(t)
		if !regexp.MustCompile(`^` + id[:12] + ` ` + name + ` [1-9]\d*$`).MatchString(r.Out()) {
			t.Errorf("stats --format: %q", r.Out())
		}
		missing := e.Name(t, "missing")
		c.Run(t, "stats", "--no-stream", name, missing).Assert(t, 1, "No such container: "+missing)
	})
}
