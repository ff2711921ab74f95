package core

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// TestSystemDf: the summary has Docker's four lines, and -v lists this
// test's containers with the size of what they wrote. Other tests run
// meanwhile, so counts are checked as lower bounds.
func TestSystemDf(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		running, exited := e.Name(t, "running"), e.Name(t, "exited")
		c.Run(t, "run", "-d", "--name", running, "busybox", "sleep", "1000").OK(t)
		c.Run(t, "run", "--name", exited, "busybox", "sh", "-c", "echo hello > /f").OK(t)
		e.WaitRunning(t, running)

		r := c.Run(t, "system", "df").OK(t)
		lines := r.Lines()
		if len(lines) != 5 {
			t.Fatalf("system df:\n%s", r.Stdout)
		}
		columns := regexp.MustCompile(`\s{2,}`)
		if got := strings.Join(columns.Split(lines[0], -1), "|"); got != "TYPE|TOTAL|ACTIVE|SIZE|RECLAIMABLE" {
			t.Errorf("system df header %q", got)
		}
		for i, typ := range []string{"Images", "Containers", "Local Volumes", "Build Cache"} {
			if f := columns.Split(lines[i+1], -1); len(f) != 5 || f[0] != typ {
				t.Errorf("system df line %d: %q, want 5 columns for %s", i+1, lines[i+1], typ)
			}
		}

		r = c.Run(t, "system", "df", "--format", "json").OK(t)
		totals := map[string][2]int{}
		for _, l := range r.Lines() {
			var row map[string]string
			if err := json.Unmarshal([]byte(l), &row); err != nil {
				t.Fatalf("system df --format json: %v\n%s", err, r.Stdout)
			}
			total, _ := strconv.Atoi(row["TotalCount"])
			active, _ := strconv.Atoi(row["Active"])
			totals[row["Type"]] = [2]int{total, active}
		}
		if got := totals["Containers"]; got[0] < 2 || got[1] < 1 {
			t.Errorf("containers total/active %v: this test has a running and an exited one", got)
		}
		if got := totals["Images"]; got[0] < 1 || got[1] < 1 {
			t.Errorf("images total/active %v: busybox is used", got)
		}

		r = c.Run(t, "system", "df", "-v").Assert(t, 0,
			"Images space usage:\n\nREPOSITORY", "\nContainers space usage:\n\nCONTAINER ID", "\nLocal Volumes space usage:\n\nVOLUME NAME", "\nBuild cache usage: ")
		if row := lineWith(r.Stdout, exited); !regexp.MustCompile(`^[0-9a-f]{12}\s+busybox\s+"sh -c 'echo hello >…"\s+0\s+6B\s+.+ ago\s+Exited \(0\) .+ ago\s+` + exited + `$`).MatchString(row) {
			t.Errorf("system df -v: row for %s: %q", exited, row)
		}
		if !regexp.MustCompile(`(?m)^busybox\s+latest\s+[0-9a-f]{12}\s`).MatchString(r.Stdout) {
			t.Errorf("system df -v lists no busybox image:\n%s", r.Stdout)
		}
		r = c.Run(t, "system", "df", "-v", "--format", "{{range .Containers}}{{.Names}} {{.Size}} {{.State}}\n{{end}}").OK(t)
		for _, want := range []string{exited + " 6B exited", running + " 0B running"} {
			if !contains(r.Lines(), want) {
				t.Errorf("system df -v --format: no line %q in\n%s", want, r.Stdout)
			}
		}
	})
}

const containerPruneWarning = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "

// TestContainerPrune: the prompt, label and until filters, and the report
// of what went; a running container stays. The prune tests on the shared
// engine do not run in parallel: Docker refuses a prune while another runs
// ("a prune operation is already running").
func TestContainerPrune(t *testing.T) {
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		running, exited, created := e.Name(t, "running"), e.Name(t, "exited"), e.Name(t, "created")
		label := "label=e2e.prune=" + running
		c.Run(t, "run", "-d", "--label", label[6:], "--name", running, "busybox", "sleep", "1000").OK(t)
		c.Run(t, "run", "--label", label[6:], "--name", exited, "busybox", "sh", "-c", "echo hello > /f").OK(t)
		c.Run(t, "create", "--label", label[6:], "--name", created, "busybox", "true").OK(t)
		ids := []string{e.Inspect(t, exited).ID, e.Inspect(t, created).ID}
		sort.Strings(ids)

		// "no" removes nothing, quietly.
		r := c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("n\n")}, "container", "prune", "--filter", label).OK(t)
		if r.Stdout != containerPruneWarning || r.Stderr != "" {
			t.Errorf("container prune answered no:\n%s", r)
		}
		// until=1h: only containers created more than an hour ago.
		r = c.Run(t, "container", "prune", "-f", "--filter", label, "--filter", "until=1h").OK(t)
		if r.Stdout != "Total reclaimed space: 0B\n" {
			t.Errorf("container prune --filter until=1h:\n%s", r)
		}
		if !e.Exists(t, exited) || !e.Exists(t, created) {
			t.Fatal("containers went without a yes")
		}

		until := "until=" + strconv.FormatInt(time.Now().Add(time.Minute).Unix(), 10)
		r = c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("y\n")}, "container", "prune", "--filter", label, "--filter", until).OK(t)
		report, ok := strings.CutPrefix(r.Stdout, containerPruneWarning+"Deleted Containers:\n")
		deleted, total, _ := strings.Cut(report, "\n\n")
		got := strings.Split(deleted, "\n")
		sort.Strings(got)
		if !ok || strings.Join(got, ",") != strings.Join(ids, ",") || total != "Total reclaimed space: 6B\n" {
			t.Errorf("container prune: want %v deleted and 6B reclaimed, got:\n%s", ids, r)
		}
		if e.Exists(t, exited) || e.Exists(t, created) || !e.Exists(t, running) {
			t.Errorf("after prune: exited %v, created %v, running %v", e.Exists(t, exited), e.Exists(t, created), e.Exists(t, running))
		}
	})
}

// networkPruneServed reports whether the engine has POST /networks/prune;
// berth's daemon gets it with user-defined networks.
func networkPruneServed(t *testing.T, e *e2e.Engine) bool {
	_, err := e.Client(t).NetworkPrune(context.Background(), client.NetworkPruneOptions{Filters: make(client.Filters).Add("label", "e2e.no-network-has-this")})
	return !cerrdefs.IsNotFound(err) && !cerrdefs.IsNotImplemented(err)
}

// buildPruneServed reports whether the engine has POST /build/prune, the
// last prune of "system prune".
func buildPruneServed(t *testing.T, e *e2e.Engine) bool {
	_, err := e.Client(t).BuildCachePrune(context.Background(), client.BuildCachePruneOptions{Filters: make(client.Filters).Add("label", "e2e.no-cache-has-this")})
	return !cerrdefs.IsNotFound(err) && !cerrdefs.IsNotImplemented(err)
}

// TestSystemPruneFiltered runs "system prune -f" limited to this test's
// label, so that it is safe beside the other tests (not in parallel, as
// TestContainerPrune). docker 28 stops at the first prune that fails,
// after the containers; berth goes on past a kind its daemon has no
// endpoint for.
func TestSystemPruneFiltered(t *testing.T) {
	e := e2e.Current(t)
	withAll := networkPruneServed(t, e) && buildPruneServed(t, e)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		exited := e.Name(t)
		label := "e2e.prune=" + exited
		c.Run(t, "run", "--label", label, "--name", exited, "busybox", "true").OK(t)
		id := e.Inspect(t, exited).ID
		r := c.Run(t, "system", "prune", "-f", "--filter", "label="+label)
		if c.Name == "docker" && !withAll {
			r.Assert(t, 1, "Deleted Containers:\n"+id+"\n\n", "Error response from daemon: ")
		} else {
			r.Assert(t, 0, "Deleted Containers:\n"+id+"\n\n", "Total reclaimed space: ")
		}
		if e.Exists(t, exited) {
			t.Errorf("system prune left %s", exited)
		}
	})
}

// TestSystemPruneAll runs unfiltered prunes on a private daemon: stopped
// containers and dangling images go, with -a every image no container
// uses; busybox, used by a running container, stays. It does not run in
// parallel, so that starting a second daemon does not load the host while
// the timing-sensitive tests run.
func TestSystemPruneAll(t *testing.T) {
	e := e2e.StartBerth(t)
	docker, berth := e.Docker(), e.Berth(t)
	tarball, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	imageID := func(comment, tag string) string {
		return berth.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tarball)}, "import", "-m", comment, "-", tag).OK(t).Out()
	}
	dangling := imageID("first", "prunetest:1")
	imageID("second", "prunetest:1") // the tag moves: the first is dangling
	unused := imageID("third", "prunetest:2")
	berth.Run(t, "run", "-d", "--name", "running", "busybox", "sleep", "1000").OK(t)
	stopped := func(name string) string {
		return berth.Run(t, "run", "-d", "--name", name, "busybox", "true").OK(t).Out()
	}
	images := func() string { return berth.Run(t, "images", "-aq", "--no-trunc").OK(t).Out() }

	first := stopped("stopped1")
	e.WaitExit(t, "stopped1", 30*time.Second)
	r := docker.Run(t, "system", "prune", "-f")
	netOK := networkPruneServed(t, e)
	if netOK && buildPruneServed(t, e) {
		r.Assert(t, 0, "Deleted Containers:\n"+first+"\n\n", "deleted: "+dangling, "Total reclaimed space: ")
	} else {
		// Containers went; docker stopped at the first prune the engine
		// does not serve: the images (pruned after the networks, before
		// the build cache) went only if the network prune worked.
		r.Assert(t, 1, "Deleted Containers:\n"+first+"\n\n", "Error response from daemon: ")
		if pruned := !strings.Contains(images(), dangling); pruned != netOK {
			t.Errorf("dangling image pruned: %v, network prune served: %v", pruned, netOK)
		}
	}

	second := stopped("stopped2")
	e.WaitExit(t, "stopped2", 30*time.Second)
	r = berth.Run(t, "system", "prune", "-f").OK(t)
	if !strings.HasPrefix(r.Stdout, "Deleted Containers:\n"+second+"\n\n") || !strings.Contains(r.Stdout, "\nTotal reclaimed space: ") ||
		strings.Contains(images(), dangling) {
		t.Errorf("berth system prune -f:\n%s\nimages:\n%s", r, images())
	}
	if left := images(); !strings.Contains(left, unused) {
		t.Errorf("system prune without -a removed a tagged image:\n%s", left)
	}

	r = berth.Run(t, "system", "prune", "-af").Assert(t, 0, "Deleted Images:\n", "untagged: prunetest:1", "untagged: prunetest:2", "Total reclaimed space: ")
	busybox := e.Inspect(t, "running").Image
	if left := images(); left != busybox {
		t.Errorf("after system prune -af: images %q, want only busybox %s\n%s", left, busybox, r)
	}
	if r := berth.Run(t, "ps", "-aq").OK(t); len(r.Lines()) != 1 {
		t.Errorf("containers left: %q", r.Lines())
	}
}
