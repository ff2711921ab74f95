package files

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestCopyVolumesAfterDaemonRestart: a stopped container's volumes and
// binds are reachable by cp after a daemon restart (a clean stop, then
// a kill), as they were before: a created container's named, anonymous
// and device volumes and its bind, and an exited container's volumes.
// berth only: it restarts its own daemon.
func TestCopyVolumesAfterDaemonRestart(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	c := e.Docker()
	must := func(args ...string) string { t.Helper(); return c.Run(t, args...).OK(t).Out() }
	dev, bind := t.TempDir(), t.TempDir()
	src := hostFile(t, "f", "before\n")
	must("volume", "create", "named")
	must("volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+dev, "devvol")
	must("create", "--name", "created", "--network", "none", "-v", "named:/nv", "-v", "/anon", "-v", bind+":/b",
		"-v", "devvol:/dv", e2e.Image, "sleep", "100000")
	must("run", "--name", "exited", "--network", "none", "-v", "named:/n2", "-v", "/anon2", e2e.Image,
		"sh", "-c", "echo ran > /n2/ran; echo ran > /anon2/ran")
	dirs := []string{"/nv", "/anon", "/b", "/dv"}
	for _, d := range dirs {
		must("cp", src, "created:"+d+"/before")
	}

	check := func(when string) {
		t.Helper()
		for _, d := range dirs {
			if got := cpOut(t, c, "created", d+"/before"); got != "before\n" {
				t.Errorf("%s: cp out of created:%s/before: %q", when, d, got)
			}
		}
		for _, p := range []string{"/n2/ran", "/anon2/ran", "/n2/before"} {
			want := "ran\n"
			if p == "/n2/before" {
				want = "before\n" // the named volume, shared
			}
			if got := cpOut(t, c, "exited", p); got != want {
				t.Errorf("%s: cp out of exited:%s: %q", when, p, got)
			}
		}
		// Copies in still land in the volumes.
		for _, d := range dirs {
			must("cp", src, "created:"+d+"/"+when)
		}
		if got := catVolume(t, c, "named", when); got != "before\n" {
			t.Errorf("%s: the named volume has %q", when, got)
		}
		if got := readFile(t, filepath.Join(dev, when)); got != "before\n" {
			t.Errorf("%s: the device volume's directory has %q", when, got)
		}
		if got := readFile(t, filepath.Join(bind, when)); got != "before\n" {
			t.Errorf("%s: the bind's source has %q", when, got)
		}
	}
	check("before-restart")
	if err := e.Daemon.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	check("after-stop")
	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	check("after-kill")

	must("start", "created")
	if got := must("exec", "created", "cat", "/nv/after-kill", "/anon/after-stop", "/b/before", "/dv/after-kill"); got != "before\nbefore\nbefore\nbefore" {
		t.Errorf("the started container reads %q", got)
	}
}
