package storage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// docker volume create --label team=a data
// docker run --rm -v data:/data busybox sh -c 'echo hi > /data/f'
// docker run --rm --mount source=data,target=/d,readonly busybox cat /d/f
// docker volume ls -f dangling=true; docker volume rm data
func TestVolumeLifecycle(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		data := volumeName(t, e, "data")
		c.Run(t, "volume", "create", "--label", "team=a", data).OK(t).Assert(t, 0, data)
		v, ok := inspectVolume(t, e, data)
		if !ok || v.Driver != "local" || v.Labels["team"] != "a" || v.Scope != "local" || v.Mountpoint == "" {
			t.Fatalf("volume inspect: %+v", v)
		}
		// Creating it again returns the same volume.
		c.Run(t, "volume", "create", data).OK(t)

		ctr := e.Name(t)
		c.Run(t, "create", "--name", ctr, "-v", data+":/data", "--mount", "source="+data+",target=/d,readonly", e2e.Image, "true").OK(t)
		ins := e.Inspect(t, ctr)
		for _, want := range []container.MountPoint{
			{Type: mount.TypeVolume, Name: data, Source: v.Mountpoint, Destination: "/data", Driver: "local", Mode: "z", RW: true},
			{Type: mount.TypeVolume, Name: data, Source: v.Mountpoint, Destination: "/d", Driver: "local", Mode: "z", RW: false},
		} {
			if got := mountAt(t, ins, want.Destination); got != want {
				t.Errorf("mount %s: %+v, want %+v", want.Destination, got, want)
			}
		}
		c.Run(t, "rm", ctr).OK(t)

		c.Run(t, "run", "--rm", "-v", data+":/data", e2e.Image, "sh", "-c", "echo hi > /data/f").OK(t)
		if out := c.Run(t, "run", "--rm", "--mount", "source="+data+",target=/d,readonly", e2e.Image, "cat", "/d/f").OK(t).Out(); out != "hi" {
			t.Fatalf("cat /d/f: %q, want hi", out)
		}
		c.Run(t, "run", "--rm", "--mount", "source="+data+",target=/d,readonly", e2e.Image, "touch", "/d/g").
			Assert(t, 1, "Read-only file system")

		// No container uses it: it is dangling; filters find it.
		for _, f := range [][]string{
			{"dangling=true"}, {"label=team=a"}, {"label=team"}, {"driver=local"}, {"name=" + data},
			{"dangling=true", "label=team=a", "name=" + data},
		} {
			args := []string{"volume", "ls", "-q"}
			for _, x := range f {
				args = append(args, "-f", x)
			}
			if !slices.Contains(c.Run(t, args...).OK(t).Lines(), data) {
				t.Errorf("volume ls -q -f %v does not list %s", f, data)
			}
		}
		for _, f := range []string{"dangling=false", "label=team=b", "driver=other", "name=" + data + "-other"} {
			if slices.Contains(c.Run(t, "volume", "ls", "-q", "-f", f).OK(t).Lines(), data) {
				t.Errorf("volume ls -q -f %s lists %s", f, data)
			}
		}
		table := c.Run(t, "volume", "ls", "-f", "name="+data).OK(t).Lines()
		if len(table) != 2 || !strings.HasPrefix(table[0], "DRIVER") || !strings.Contains(table[0], "VOLUME NAME") ||
			strings.Join(strings.Fields(table[1]), " ") != "local "+data {
			t.Errorf("volume ls table:\n%s", strings.Join(table, "\n"))
		}
		line := c.Run(t, "volume", "ls", "-f", "name="+data, "--format", "json").OK(t).Out()
		var row map[string]string
		if err := json.Unmarshal([]byte(line), &row); err != nil || row["Name"] != data || row["Labels"] != "team=a" || row["Driver"] != "local" || row["Mountpoint"] != v.Mountpoint {
			t.Errorf("volume ls --format json: %s (%v)", line, err)
		}
		if out := c.Run(t, "volume", "inspect", "-f", "{{.Name}} {{.Labels.team}} {{.Driver}}", data).OK(t).Out(); out != data+" a local" {
			t.Errorf("volume inspect -f: %q", out)
		}

		c.Run(t, "volume", "rm", data).OK(t).Assert(t, 0, data)
		if _, ok := inspectVolume(t, e, data); ok {
			t.Fatal("volume still exists after volume rm")
		}
		c.Run(t, "volume", "inspect", data).Assert(t, 1, "no such volume")
		c.Run(t, "volume", "rm", data).Assert(t, 1, "no such volume")
		c.Run(t, "volume", "rm", "-f", data).OK(t)
	})
}

// A volume a container uses cannot be removed, with Docker's message,
// until the container is gone; its data outlives the container.
func TestVolumeInUse(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := volumeName(t, e, "v")
		running, stopped := e.Name(t, "running"), e.Name(t, "stopped")
		id1 := c.Run(t, "run", "-d", "--name", running, "-v", vol+":/x", e2e.Image, "sh", "-c", "echo kept > /x/f; echo ready; exec sleep 100000").OK(t).Out()
		id2 := c.Run(t, "create", "--name", stopped, "--mount", "type=volume,src="+vol+",dst=/y", e2e.Image, "true").OK(t).Out()
		e.WaitLog(t, running, "ready", 10*time.Second)
		ids := []string{id1, id2}
		slices.Sort(ids)
		// Docker lists the users in no particular order.
		inUse := func(r *e2e.Result) {
			t.Helper()
			r.Assert(t, 1, "remove "+vol+": volume is in use - [")
			if !strings.Contains(r.Stderr, ids[0]+", "+ids[1]) && !strings.Contains(r.Stderr, ids[1]+", "+ids[0]) {
				t.Fatalf("the error does not name both containers %v:\n%s", ids, r)
			}
		}
		inUse(c.Run(t, "volume", "rm", vol))
		inUse(c.Run(t, "volume", "rm", "-f", vol))
		if slices.Contains(c.Run(t, "volume", "ls", "-q", "-f", "dangling=true").OK(t).Lines(), vol) {
			t.Error("a volume in use is listed as dangling")
		}
		if !slices.Contains(c.Run(t, "volume", "ls", "-q", "-f", "dangling=false").OK(t).Lines(), vol) {
			t.Error("a volume in use is not listed with dangling=false")
		}
		if !slices.Contains(c.Run(t, "ps", "-a", "-q", "--no-trunc", "--filter", "volume="+vol).OK(t).Lines(), id2) {
			t.Error("ps --filter volume= does not list the stopped container")
		}
		if out := c.Run(t, "ps", "-q", "--no-trunc", "--filter", "volume=/x").OK(t).Out(); out != id1 {
			// Other tests' containers may mount /x too; ours must be there.
			if !slices.Contains(strings.Fields(out), id1) {
				t.Errorf("ps --filter volume=/x: %q, want %s", out, id1)
			}
		}

		c.Run(t, "rm", "-f", running).OK(t)
		c.Run(t, "volume", "rm", vol).Assert(t, 1, "volume is in use - ["+id2+"]")
		c.Run(t, "rm", stopped).OK(t)
		// Data survives its containers.
		if out := c.Run(t, "run", "--rm", "-v", vol+":/z", e2e.Image, "cat", "/z/f").OK(t).Out(); out != "kept" {
			t.Fatalf("data after the containers went: %q", out)
		}
		c.Run(t, "volume", "rm", vol).OK(t)
	})
}

// docker volume prune removes unused anonymous volumes (API 1.42 on),
// with -a unused named ones too; used ones stay. Not parallel: prune
// sees every volume of the engine.
func TestVolumePrune(t *testing.T) {
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		named := volumeName(t, e, "named")
		labelled := volumeName(t, e, "labelled")
		used := volumeName(t, e, "used")
		ctr, anonCtr := e.Name(t, "user"), e.Name(t, "anon")
		c.Run(t, "volume", "create", named).OK(t)
		c.Run(t, "volume", "create", "--label", "prune=yes", labelled).OK(t)
		c.Run(t, "create", "--name", ctr, "-v", used+":/u", e2e.Image, "true").OK(t)
		c.Run(t, "create", "--name", anonCtr, "-v", "/anon", e2e.Image, "true").OK(t)
		anon := mountAt(t, e.Inspect(t, anonCtr), "/anon").Name
		c.Run(t, "rm", anonCtr).OK(t) // without -v: the anonymous volume stays
		if _, ok := inspectVolume(t, e, anon); !ok {
			t.Fatal("rm without -v removed the anonymous volume")
		}
		t.Cleanup(func() { removeVolume(e, anon) })

		// The prompt; "n" keeps everything.
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("n\n")}, "volume", "prune").
			AssertAny(t, 0, "WARNING! This will remove anonymous local volumes not used by at least one container.",
				"WARNING! This will remove all local volumes not used by at least one container.")
		if _, ok := inspectVolume(t, e, anon); !ok {
			t.Fatal("prune answered no removed a volume")
		}

		if e.DockerOlderThan(t, 23) {
			// API 1.41 prunes named volumes too, and knows no -a.
			out := c.Run(t, "volume", "prune", "-f", "--filter", "label=prune=yes").OK(t).Stdout
			if !strings.Contains(out, "Deleted Volumes:\n"+labelled+"\n") {
				t.Fatalf("prune --filter label: %q", out)
			}
			c.Run(t, "volume", "prune", "-f").OK(t)
		} else {
			out := c.Run(t, "volume", "prune", "-f").OK(t).Stdout
			if !strings.Contains(out, anon) || strings.Contains(out, named) || strings.Contains(out, labelled) {
				t.Fatalf("prune -f removed: %q; want the anonymous volume only", out)
			}
			if !strings.Contains(out, "Total reclaimed space:") {
				t.Fatalf("prune -f: %q", out)
			}
			out = c.Run(t, "volume", "prune", "-af", "--filter", "label=prune=yes").OK(t).Stdout
			if out != fmt.Sprintf("Deleted Volumes:\n%s\n\nTotal reclaimed space: 0B\n", labelled) {
				t.Fatalf("prune -af --filter label=prune=yes: %q", out)
			}
			c.Run(t, "volume", "prune", "-a", "--filter", "all=1").Assert(t, 1, "conflicting options: cannot specify both --all and --filter all=1")
			c.Run(t, "volume", "prune", "-af").OK(t)
		}
		for _, gone := range []string{anon, named, labelled} {
			if _, ok := inspectVolume(t, e, gone); ok {
				t.Errorf("volume %s survived the prunes", gone)
			}
		}
		if _, ok := inspectVolume(t, e, used); !ok {
			t.Error("prune removed a volume a container uses")
		}
	})
}

// docker system df counts volumes, and -v lists them with their users
// and size.
func TestSystemDfVolumes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := volumeName(t, e, "df")
		name := e.Name(t)
		c.Run(t, "create", "--name", name, "-v", vol+":/v", e2e.Image, "true").OK(t)
		c.Run(t, "run", "--rm", "-v", vol+":/v", e2e.Image, "dd", "if=/dev/zero", "of=/v/blob", "bs=1024", "count=1024").OK(t)
		rows := c.Run(t, "system", "df", "-v", "--format", "{{range .Volumes}}{{.Name}} {{.Links}} {{.Size}}\n{{end}}").OK(t).Lines()
		if !slices.Contains(rows, vol+" 1 1.049MB") {
			t.Errorf("system df -v volumes: %q, want %q", rows, vol+" 1 1.049MB")
		}
		table := c.Run(t, "system", "df").OK(t).Stdout
		if !strings.Contains(table, "Local Volumes") {
			t.Fatalf("system df:\n%s", table)
		}
		for _, l := range strings.Split(table, "\n") {
			if f := strings.Fields(l); strings.HasPrefix(l, "Local Volumes") && (len(f) < 4 || f[2] == "0") {
				t.Errorf("system df counts no volume: %q", l)
			}
		}
		verbose := c.Run(t, "system", "df", "-v").OK(t).Stdout
		if !strings.Contains(verbose, "Local Volumes space usage:") || !strings.Contains(verbose, vol) {
			t.Errorf("system df -v:\n%s", verbose)
		}
	})
}

// Volume events: create, mount and unmount around each run (with the
// container, destination and mode), destroy.
func TestVolumeEvents(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := volumeName(t, e, "ev")
		since := time.Now()
		c.Run(t, "volume", "create", vol).OK(t)
		name := e.Name(t)
		id := c.Run(t, "run", "-d", "--name", name, "-v", vol+":/x:ro", "-v", "/anon", e2e.Image, "true").OK(t).Out()
		e.WaitExit(t, name, 30*time.Second)
		anon := mountAt(t, e.Inspect(t, name), "/anon").Name
		c.Run(t, "rm", "-v", name).OK(t)
		c.Run(t, "volume", "rm", vol).OK(t)
		until := time.Now().Add(time.Second)
		lines := c.Run(t, "events", "--since", e2e.UnixArg(since), "--until", e2e.UnixArg(until), "--filter", "type=volume",
			"--filter", "volume="+vol, "--filter", "volume="+anon,
			"--format", `{{.Action}} {{.Actor.ID}} {{index .Actor.Attributes "container"}} {{index .Actor.Attributes "destination"}} {{index .Actor.Attributes "read/write"}} {{.Actor.Attributes.driver}}`).OK(t).Lines()
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		for _, want := range []string{
			"create " + vol + " local",
			"create " + anon + " local",
			"mount " + vol + " " + id + " /x false local",
			"mount " + anon + " " + id + " /anon true local",
			"unmount " + vol + " " + id + " local",
			"unmount " + anon + " " + id + " local",
			"destroy " + anon + " local",
			"destroy " + vol + " local",
		} {
			if !slices.Contains(lines, want) {
				t.Errorf("no event %q in:\n%s", want, strings.Join(lines, "\n"))
			}
		}
	})
}
