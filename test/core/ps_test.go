package core

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

func TestPs(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		running, exited := e.Name(t, "running"), e.Name(t, "exited")
		id := c.Run(t, "run", "-d", "--name", running, "busybox", "sleep", "1000").OK(t).Out()
		c.Run(t, "run", "--name", exited, "busybox", "sh", "-c", "exit 3").Assert(t, 3)
		e.WaitRunning(t, running)

		// The table: Docker's columns, one row per running container.
		r := c.Run(t, "ps").OK(t)
		header := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(r.Lines()[0]), -1)
		want := []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}
		if strings.Join(header, "|") != strings.Join(want, "|") {
			t.Fatalf("ps header %q, want %q", header, want)
		}
		row := lineWith(r.Stdout, running)
		if row == "" {
			t.Fatalf("ps has no row for %s:\n%s", running, r.Stdout)
		}
		for _, s := range []string{id[:12], "busybox", `"sleep 1000"`, "Up "} {
			if !strings.Contains(row, s) {
				t.Errorf("ps row %q lacks %q", row, s)
			}
		}
		if strings.Contains(r.Stdout, exited) {
			t.Errorf("ps without -a lists the exited container:\n%s", r.Stdout)
		}

		// The format, with -a.
		r = c.Run(t, "ps", "-a", "--format", "{{.Names}} {{.Status}}").OK(t)
		if l := lineWith(r.Stdout, running); !regexp.MustCompile(`^` + running + ` Up .+`).MatchString(l) {
			t.Errorf("ps -a --format: running line %q", l)
		}
		if l := lineWith(r.Stdout, exited); !regexp.MustCompile(`^` + exited + ` Exited \(3\) .+ ago$`).MatchString(l) {
			t.Errorf("ps -a --format: exited line %q", l)
		}

		// -q, --no-trunc, filters, json, container ls.
		r = c.Run(t, "ps", "-q", "--filter", "name="+running).OK(t)
		if r.Out() != id[:12] {
			t.Errorf("ps -q: %q, want %q", r.Out(), id[:12])
		}
		c.Run(t, "ps", "--no-trunc", "-q", "--filter", "id="+id[:12]).Assert(t, 0, id)
		r = c.Run(t, "ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}").OK(t)
		if !contains(r.Lines(), exited) || contains(r.Lines(), running) {
			t.Errorf("status=exited filter:\n%s", r.Stdout)
		}
		r = c.Run(t, "ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}").OK(t)
		if !contains(r.Lines(), exited) {
			t.Errorf("exited=3 filter:\n%s", r.Stdout)
		}
		// More filters, -n/-l and -s, on containers of this test only.
		labelled, created := e.Name(t, "labelled"), e.Name(t, "created")
		c.Run(t, "run", "-d", "--name", labelled, "--label", "tier=web", "busybox", "sleep", "1000").OK(t)
		c.Run(t, "create", "--name", created, "busybox", "true").OK(t)
		mine := "name=" + e.Name(t) // a prefix of all of the above
		for _, tc := range []struct {
			filter string
			want   []string
		}{
			{"label=tier=web", []string{labelled}},
			{"label=tier", []string{labelled}},
			{"ancestor=busybox", []string{running, exited, labelled, created}},
			{"status=created", []string{created}},
			{"status=running", []string{running, labelled}},
			{"before=" + labelled, []string{running, exited}},
			{"since=" + exited, []string{labelled, created}},
		} {
			r := c.Run(t, "ps", "-a", "--filter", mine, "--filter", tc.filter, "--format", "{{.Names}}").OK(t)
			got := r.Lines()
			slices.Sort(got)
			slices.Sort(tc.want)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ps -a --filter %s: %q, want %q", tc.filter, got, tc.want)
			}
		}
		c.Run(t, "ps", "-a", "-n", "1", "--filter", mine, "--format", "{{.Names}}").Assert(t, 0, created)
		c.Run(t, "ps", "-l", "--filter", mine, "--format", "{{.Names}}").Assert(t, 0, created)
		c.Run(t, "ps", "-s", "--filter", "name="+running, "--format", "{{.Size}}").Assert(t, 0, "(virtual ")
		// Docker 20.10 capitalises "Invalid filter", newer releases not.
		c.Run(t, "ps", "--filter", "bogus=1").AssertAny(t, 1, "nvalid filter 'bogus'")
		c.Run(t, "ps", "--filter", "status=bogus").AssertAny(t, 1, "nvalid filter 'status=bogus'")

		r = c.Run(t, "container", "ls", "--filter", "name="+running, "--format", "json").OK(t)
		var obj map[string]any
		if err := json.Unmarshal([]byte(r.Lines()[0]), &obj); err != nil {
			t.Fatalf("ps --format json: %v\n%s", err, r.Stdout)
		}
		if obj["Names"] != running || obj["Image"] != "busybox" || obj["State"] != "running" {
			t.Errorf("ps --format json: %v", obj)
		}
	})
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
