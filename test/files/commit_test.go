package files

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// imageName is an image name for the test (lower case, no slashes),
// removed when the test ends.
func imageName(t *testing.T, e *e2e.Engine, suffix string) string {
	t.Helper()
	n := strings.ToLower(e.Name(t, suffix))
	t.Cleanup(func() { e.Docker().Run(t, "rmi", "-f", n+":1", n+":2", n+":latest") })
	return n
}

// TestDiff: docker diff shows the container's own changes, A/C/D, and
// none of the engine's mount points (/etc/hosts, /etc/resolv.conf,
// /etc/hostname, /dev, /proc, /sys).
func TestDiff(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		app := runApp(t, e, c)
		if out := c.Run(t, "diff", app).OK(t).Out(); out != "" {
			t.Errorf("diff of a fresh container: %q", out)
		}
		sh(t, c, app, "echo x > /tmp/f; rm /etc/group; mkdir -p /a/b; touch /a/b/c; echo more >> /etc/passwd")
		got := c.Run(t, "diff", app).OK(t).Lines()
		slices.Sort(got)
		want := []string{"A /a", "A /a/b", "A /a/b/c", "A /tmp/f", "C /etc", "C /etc/passwd", "C /tmp", "D /etc/group"}
		if !slices.Equal(got, want) {
			t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		c.Run(t, "diff", "nosuchcontainer-diff").Assert(t, 1, "No such container: nosuchcontainer-diff")
	})
}

// TestCommit is the line: docker commit -c 'CMD ["sh"]' -m note
// app snap:1; the image runs with its CMD, history shows the commit, and
// it tags, saves and pushes like any other.
func TestCommit(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		app := runApp(t, e, c, "-e", "FROM_RUN=1")
		sh(t, c, app, "echo data > /data.txt; rm /etc/group")
		snap := imageName(t, e, "snap")
		out := c.Run(t, "commit", "-c", `CMD ["sh"]`, "-m", "note", "-a", "Ann <ann@example.com>", app, snap+":1").OK(t).Out()
		if !strings.HasPrefix(out, "sha256:") || len(out) != 71 {
			t.Fatalf("commit printed %q, want the image ID", out)
		}
		if st := e.Inspect(t, app).State; !st.Running || st.Paused {
			t.Errorf("container after commit: running %v paused %v", st.Running, st.Paused)
		}
		got := c.Run(t, "image", "inspect", "--format", `{{json .Config.Cmd}}|{{.Comment}}|{{.Author}}|{{range .Config.Env}}{{.}},{{end}}`, snap+":1").OK(t).Out()
		if !strings.HasPrefix(got, `["sh"]|note|Ann <ann@example.com>|`) || !strings.Contains(got, "FROM_RUN=1,") {
			t.Errorf("committed config: %s", got)
		}
		hist := c.Run(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", snap+":1").OK(t).Lines()
		if len(hist) < 2 || hist[0] != "sleep 100000|note" {
			t.Errorf("history: %q", hist)
		}
		if got := c.Run(t, "run", "--rm", snap+":1", "sh", "-c", "cat /data.txt; test -e /etc/group || echo gone").OK(t).Stdout; got != "data\ngone\n" {
			t.Errorf("committed image runs with %q", got)
		}
		// Its CMD runs sh, which reads stdin.
		if got := c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("echo from-cmd\n")}, "run", "--rm", "-i", snap+":1").OK(t).Stdout; got != "from-cmd\n" {
			t.Errorf("CMD of the committed image: %q", got)
		}
		c.Run(t, "tag", snap+":1", snap+":2").OK(t)
		save := c.Run(t, "save", snap+":2").OK(t)
		if entries, _ := readTar(t, save.Stdout); entries["manifest.json"].body == "" {
			t.Errorf("save of a committed image has no manifest.json")
		}
		// No pause, a stopped container, no changes: still images.
		c.Run(t, "commit", "--pause=false", app).OK(t)
		c.Run(t, "stop", "-t", "0", app).OK(t)
		c.Run(t, "commit", app, snap+":2").OK(t)
		if got := c.Run(t, "run", "--rm", snap+":2", "cat", "/data.txt").OK(t).Stdout; got != "data\n" {
			t.Errorf("commit of a stopped container: %q", got)
		}
		// Bad input, Docker's words.
		c.Run(t, "commit", "-c", "BOGUS x", app).Assert(t, 1, "bogus is not a valid change command")
		c.Run(t, "commit", "nosuchcontainer-commit").Assert(t, 1, "No such container: nosuchcontainer-commit")
		c.Run(t, "commit", app, "Bad:x").Assert(t, 1, "invalid reference format")
	})
}

// TestCommitPush: a committed image pushes to a registry and pulls back.
func TestCommitPush(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr := strings.Replace(registrytest.DockerRegistry(t, registrytest.Config{}), "127.0.0.1", "localhost", 1)
	c := e.Docker()
	app := runApp(t, e, c)
	sh(t, c, app, "echo pushed > /pushed.txt")
	ref := addr + "/files/" + strings.ToLower(e.Name(t, "img")) + ":1"
	t.Cleanup(func() { c.Run(t, "rmi", "-f", ref) })
	c.Run(t, "commit", app, ref).OK(t)
	c.Run(t, "push", ref).Assert(t, 0, ": Pushed")
	c.Run(t, "rmi", ref).OK(t)
	c.Run(t, "pull", ref).OK(t)
	if got := c.Run(t, "run", "--rm", ref, "cat", "/pushed.txt").OK(t).Stdout; got != "pushed\n" {
		t.Errorf("pulled image: %q", got)
	}
}

// TestExportImport is the line: docker export app | tar -t |
// head; docker import --change 'ENV A=1' export.tar img.
func TestExportImport(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		app := runApp(t, e, c)
		sh(t, c, app, "echo exported > /exported.txt; rm /etc/group")
		out := c.Run(t, "export", app).OK(t)
		entries, names := readTar(t, out.Stdout)
		if entries["exported.txt"].body != "exported\n" || entries["bin/busybox"].typ == 0 {
			t.Errorf("export lacks the container's files: %d entries", len(names))
		}
		if _, ok := entries["etc/group"]; ok {
			t.Errorf("export has a file the container deleted")
		}
		file := filepath.Join(t.TempDir(), "export.tar")
		c.Run(t, "export", "-o", file, app).OK(t)
		if fi, err := os.Stat(file); err != nil || fi.Size() < int64(len(out.Stdout))/2 {
			t.Fatalf("export -o: %v %v", fi, err)
		}
		img := imageName(t, e, "img")
		c.Run(t, "import", "--change", "ENV A=1", file, img).OK(t)
		if got := c.Run(t, "run", "--rm", img, "sh", "-c", "echo A=$A; cat /exported.txt").OK(t).Stdout; got != "A=1\nexported\n" {
			t.Errorf("imported image: %q", got)
		}
		c.Run(t, "export", "nosuchcontainer-export").Assert(t, 1, "No such container: nosuchcontainer-export")
	})
}
