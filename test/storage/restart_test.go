package storage

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// Volumes, their data and their users survive a daemon restart (a
// clean stop, then a kill): the references are counted again from the
// containers, so a volume in use still cannot be removed; a tmpfs
// volume mounted for a running container stays the same mount; rm -v
// and --rm still remove anonymous volumes. berth only: it restarts its
// own daemon.
func TestVolumesSurviveDaemonRestart(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	c := e.Docker()
	must := func(args ...string) string { t.Helper(); return c.Run(t, args...).OK(t).Out() }
	must("volume", "create", "--label", "keep=1", "named")
	must("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "mem")
	runningID := must("run", "-d", "--name", "running", "-v", "named:/n", "-v", "/anon", "-v", "mem:/mem",
		e2e.Image, "sh", "-c", "echo data > /n/f; echo anon > /anon/f; echo mem > /mem/f; echo ready; exec sleep 100000")
	e.WaitLog(t, "running", "ready", 10*time.Second)
	stoppedID := must("create", "--name", "stopped", "-v", "named:/m", "-v", "/anon2", e2e.Image, "true")
	must("run", "-d", "--rm", "--name", "autorm", "-v", "/anon3", e2e.Image, "sleep", "100000")
	anon := mountAt(t, e.Inspect(t, "running"), "/anon").Name
	anon2 := mountAt(t, e.Inspect(t, "stopped"), "/anon2").Name
	anon3 := mountAt(t, e.Inspect(t, "autorm"), "/anon3").Name

	check := func(when string) {
		t.Helper()
		ids := []string{runningID, stoppedID}
		slices.Sort(ids)
		r := c.Run(t, "volume", "rm", "named")
		if r.Code != 1 || !(strings.Contains(r.Stderr, ids[0]+", "+ids[1]) || strings.Contains(r.Stderr, ids[1]+", "+ids[0])) {
			t.Fatalf("%s: volume rm of a volume two containers use:\n%s", when, r)
		}
		c.Run(t, "volume", "rm", anon).Assert(t, 1, "volume is in use - ["+runningID+"]")
		c.Run(t, "volume", "rm", anon2).Assert(t, 1, "volume is in use - ["+stoppedID+"]")
		for _, v := range []string{"named", anon, anon2, anon3, "mem"} {
			if slices.Contains(c.Run(t, "volume", "ls", "-q", "-f", "dangling=true").OK(t).Lines(), v) {
				t.Errorf("%s: %s is dangling", when, v)
			}
		}
		if out := must("exec", "running", "cat", "/n/f", "/anon/f", "/mem/f"); out != "data\nanon\nmem" {
			t.Errorf("%s: data in the running container: %q", when, out)
		}
		// A second container sees the same tmpfs volume, not a new one.
		if out := must("run", "--rm", "-v", "mem:/x", e2e.Image, "cat", "/x/f"); out != "mem" {
			t.Errorf("%s: the tmpfs volume from another container: %q", when, out)
		}
		if v, ok := inspectVolume(t, e, "named"); !ok || v.Labels["keep"] != "1" {
			t.Errorf("%s: volume named: %+v", when, v)
		}
	}
	check("before the restart")
	if err := e.Daemon.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	check("after a stop and start")
	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	check("after a kill and start")

	// The run survived; stopped and started again, it mounts its
	// volumes again.
	must("restart", "-t", "0", "running")
	if out := must("exec", "running", "cat", "/n/f", "/anon/f"); out != "data\nanon" {
		t.Errorf("after docker restart: %q", out)
	}
	start := time.Now()
	must("stop", "-t", "0", "autorm")
	waitVolumeGone(t, e, anon3, start)
	must("rm", "-f", "-v", "running")
	waitVolumeGone(t, e, anon, start)
	c.Run(t, "volume", "rm", "named").Assert(t, 1, "volume is in use - ["+stoppedID+"]")
	must("rm", "-v", "stopped")
	waitVolumeGone(t, e, anon2, start)
	// Named volumes and their data outlive every container.
	if out := must("run", "--rm", "-v", "named:/n", e2e.Image, "cat", "/n/f"); out != "data" {
		t.Errorf("named volume after its containers: %q", out)
	}
	// The tmpfs volume was unmounted with its last container.
	c.Run(t, "run", "--rm", "-v", "mem:/x", e2e.Image, "cat", "/x/f").Assert(t, 1, "No such file or directory")
	must("volume", "rm", "named", "mem")
}
