package files

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// Where cp meets volumes: a path under a mount point is the mount's, on
// a running container (its mount namespace) and on a stopped one (the
// engine mounts the volumes and binds for the copy, as a start does).

// newVolume creates a volume named after the test (with volume create
// options) and removes it, with any container still using it, when the
// test ends.
func newVolume(t *testing.T, e *e2e.Engine, c e2e.CLI, suffix string, opts ...string) string {
	t.Helper()
	name := strings.ToLower(e.Name(t, suffix))
	removeVolume(e, name)
	t.Cleanup(func() { removeVolume(e, name) })
	c.Run(t, append(append([]string{"volume", "create"}, opts...), name)...).OK(t)
	return name
}

func removeVolume(e *e2e.Engine, name string) {
	cl, err := client.New(client.WithHost(e.Host))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	users, _ := cl.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("volume", name)})
	for _, u := range users.Items {
		cl.ContainerRemove(ctx, u.ID, client.ContainerRemoveOptions{Force: true})
	}
	cl.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
}

// mountNamed is the name of the volume mounted at dest in the container.
func mountNamed(t *testing.T, e *e2e.Engine, name, dest string) string {
	t.Helper()
	for _, m := range e.Inspect(t, name).Mounts {
		if m.Destination == dest {
			return m.Name
		}
	}
	t.Fatalf("container %s has no mount at %s", name, dest)
	return ""
}

// catVolume reads a file of a volume from a new container, as a user
// checks it: docker run --rm -v vol:/d busybox cat /d/file.
func catVolume(t *testing.T, c e2e.CLI, vol, file string) string {
	t.Helper()
	return c.Run(t, "run", "--rm", "--network", "none", "-v", vol+":/d", "busybox", "cat", "/d/"+file).OK(t).Stdout
}

// cpOut reads one file out of the container with cp to stdout.
func cpOut(t *testing.T, c e2e.CLI, name, p string) string {
	t.Helper()
	entries, names := readTar(t, c.Run(t, "cp", name+":"+p, "-").OK(t).Stdout)
	if len(names) != 1 {
		t.Fatalf("cp %s:%s - gave %q, want one entry", name, p, names)
	}
	return entries[names[0]].body
}

// assertNotInLayer checks that none of the named files is in the
// container's own layer: not in diff, not in export, not in its upper
// directory on the host (both engines show it in inspect).
func assertNotInLayer(t *testing.T, e *e2e.Engine, c e2e.CLI, name string, files ...string) {
	t.Helper()
	in := func(p string) bool { return slices.Contains(files, filepath.Base(p)) }
	for _, line := range c.Run(t, "diff", name).OK(t).Lines() {
		if in(line) {
			t.Errorf("diff of %s lists %q: a copy into a mount went into its layer", name, line)
		}
	}
	_, names := readTar(t, c.Run(t, "export", name).OK(t).Stdout)
	for _, n := range names {
		if in(n) {
			t.Errorf("export of %s has %q", name, n)
		}
	}
	upper := e.Inspect(t, name).GraphDriver.Data["UpperDir"]
	if upper == "" {
		t.Fatalf("inspect of %s shows no UpperDir", name)
	}
	filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err == nil && in(p) {
			t.Errorf("the layer of %s holds %s", name, p)
		}
		return nil
	})
}

// TestCopyIntoVolumes copies into and out of a named volume, an
// anonymous one and a bind of a container that is created, running and
// exited: the data is in the volume (another container reads it, a
// container running with it sees it) or in the bind's source, never in
// the container's layer, and read-only volumes refuse it with Docker's
// message.
func TestCopyIntoVolumes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := newVolume(t, e, c, "named")
		rov := newVolume(t, e, c, "ro")
		// A -v bind's missing source is made by the first copy, as a
		// start would make it.
		bind := filepath.Join(t.TempDir(), "made-by-cp")
		src := hostFile(t, "f", "copied\n")

		peer := runApp(t, e, c, "-v", vol+":/peer")
		name := e.Name(t, "app")
		c.Run(t, "create", "--name", name, "--network", "none", "-v", vol+":/nv", "-v", "/anon", "-v", bind+":/b",
			"-v", rov+":/ro:ro", "--mount", "type=volume,src="+rov+",dst=/ro2,readonly", "busybox", "sleep", "100000").OK(t)
		anon := mountNamed(t, e, name, "/anon")
		var files []string
		for _, state := range []string{"created", "running", "exited"} {
			switch state {
			case "running":
				c.Run(t, "start", name).OK(t)
			case "exited":
				c.Run(t, "stop", "-t", "0", name).OK(t)
			}
			f := "f-" + state
			files = append(files, f)
			for _, dir := range []string{"/nv", "/anon", "/b"} {
				c.Run(t, "cp", src, name+":"+dir+"/"+f).OK(t)
				if got := cpOut(t, c, name, dir+"/"+f); got != "copied\n" {
					t.Errorf("%s: cp out of %s/%s: %q", state, dir, f, got)
				}
			}
			if got := catVolume(t, c, vol, f); got != "copied\n" {
				t.Errorf("%s: the named volume has %q", state, got)
			}
			if got := catVolume(t, c, anon, f); got != "copied\n" {
				t.Errorf("%s: the anonymous volume has %q", state, got)
			}
			if got := readFile(t, filepath.Join(bind, f)); got != "copied\n" {
				t.Errorf("%s: the bind's source has %q", state, got)
			}
			if got := sh(t, c, peer, "cat /peer/"+f); got != "copied\n" {
				t.Errorf("%s: a container running with the volume sees %q", state, got)
			}
			for _, dir := range []string{"/ro/", "/ro2/"} {
				c.Run(t, "cp", src, name+":"+dir).Assert(t, 1, "mounted volume is marked read-only")
			}
			if out := c.Run(t, "run", "--rm", "-v", rov+":/d", "busybox", "ls", "-A", "/d").OK(t).Out(); out != "" {
				t.Errorf("%s: the read-only volume got %q", state, out)
			}
		}
		assertNotInLayer(t, e, c, name, files...)
		// The mount points themselves are the container's, as in Docker.
		got := c.Run(t, "diff", name).OK(t).Lines()
		slices.Sort(got)
		if want := []string{"A /anon", "A /b", "A /nv", "A /ro", "A /ro2"}; !slices.Equal(got, want) {
			t.Errorf("diff: %q, want %q", got, want)
		}
	})
}

// TestCopyVolumesFrom: a container with --volumes-from shares the other's
// volumes for cp too; with :ro they refuse copies.
func TestCopyVolumesFrom(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := newVolume(t, e, c, "shared")
		src := hostFile(t, "f", "shared\n")
		owner := runApp(t, e, c, "-v", vol+":/nv", "-v", "/anon")
		rw, ro := e.Name(t, "rw"), e.Name(t, "ro")
		c.Run(t, "create", "--name", rw, "--network", "none", "--volumes-from", owner, "busybox", "sleep", "100000").OK(t)
		c.Run(t, "create", "--name", ro, "--network", "none", "--volumes-from", owner+":ro", "busybox", "sleep", "100000").OK(t)
		for _, state := range []string{"created", "running"} {
			if state == "running" {
				c.Run(t, "start", rw, ro).OK(t)
			}
			for _, dir := range []string{"/nv", "/anon"} {
				f := dir + "/from-" + state
				c.Run(t, "cp", src, rw+":"+f).OK(t)
				if got := sh(t, c, owner, "cat "+f); got != "shared\n" {
					t.Errorf("%s: copied through --volumes-from into %s, the owner reads %q", state, f, got)
				}
				if got := cpOut(t, c, ro, f); got != "shared\n" {
					t.Errorf("%s: cp out of the read-only sharer: %q", state, got)
				}
				c.Run(t, "cp", src, ro+":"+dir+"/").Assert(t, 1, "mounted volume is marked read-only")
			}
		}
		if got := catVolume(t, c, vol, "from-created"); got != "shared\n" {
			t.Errorf("the volume has %q", got)
		}
	})
}

// TestCopyVolumeOverImageContent: a volume over a directory the image
// fills (/var/www) starts with the image's content; cp reads and writes
// the volume, whatever changes it later, and the container's layer
// keeps the image's files (export shows those, as Docker's does).
func TestCopyVolumeOverImageContent(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := newVolume(t, e, c, "www")
		newFile := hostFile(t, "new", "new\n")
		name := e.Name(t)
		c.Run(t, "create", "--name", name, "--network", "none", "-v", vol+":/var/www", "busybox", "sleep", "100000").OK(t)
		if got := cpOut(t, c, name, "/var/www/index.html"); got != e2e.IndexHTML {
			t.Errorf("cp out of the populated volume of a created container: %q", got)
		}
		c.Run(t, "cp", newFile, name+":/var/www/").OK(t)
		if got := c.Run(t, "run", "--rm", "-v", vol+":/d", "busybox", "ls", "/d").OK(t).Lines(); !slices.Equal(got, []string{"index.html", "new"}) {
			t.Errorf("the volume holds %q", got)
		}
		c.Run(t, "run", "--rm", "-v", vol+":/d", "busybox", "sh", "-c", "echo changed > /d/index.html").OK(t)
		if got := cpOut(t, c, name, "/var/www/index.html"); got != "changed\n" {
			t.Errorf("cp out after another container changed the volume: %q", got)
		}
		c.Run(t, "start", name).OK(t)
		if got := cpOut(t, c, name, "/var/www/index.html"); got != "changed\n" {
			t.Errorf("cp out of the running container: %q", got)
		}
		c.Run(t, "stop", "-t", "0", name).OK(t)
		if got := cpOut(t, c, name, "/var/www/new"); got != "new\n" {
			t.Errorf("cp out of the exited container: %q", got)
		}
		if out := c.Run(t, "diff", name).OK(t).Out(); out != "" {
			t.Errorf("diff: %q", out)
		}
		entries, _ := readTar(t, c.Run(t, "export", name).OK(t).Stdout)
		if entries["var/www/index.html"].body != e2e.IndexHTML {
			t.Errorf("export has /var/www/index.html %q, want the image's", entries["var/www/index.html"].body)
		}
		if _, ok := entries["var/www/new"]; ok {
			t.Errorf("export has the volume's /var/www/new")
		}
	})
}

// TestCopyVolumeDriverOptions: a volume whose options name a filesystem
// (a bind of a host directory, a tmpfs) is mounted for a copy into a
// stopped container, as Docker mounts it (with its volume mount and
// unmount events): the data is in the device, or in the tmpfs, which
// keeps it only while a container runs with it.
func TestCopyVolumeDriverOptions(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		dev := t.TempDir()
		devvol := newVolume(t, e, c, "dev", "-o", "type=none", "-o", "o=bind", "-o", "device="+dev)
		mem := newVolume(t, e, c, "mem", "-o", "type=tmpfs", "-o", "device=tmpfs")
		src := hostFile(t, "f", "f\n")
		name := e.Name(t, "ctr")
		id := c.Run(t, "create", "--name", name, "--network", "none", "-v", devvol+":/dv", "-v", mem+":/mem", "busybox", "sleep", "100000").OK(t).Out()

		since := time.Now()
		c.Run(t, "cp", src, name+":/dv/").OK(t)
		until := time.Now()
		if got := listTree(t, dev); !slices.Equal(got, []string{"f"}) {
			t.Errorf("the volume's device holds %q", got)
		}
		if v := c.Run(t, "volume", "inspect", "-f", "{{.Mountpoint}}", devvol).OK(t).Out(); v != "" {
			if entries, err := os.ReadDir(v); err != nil || len(entries) != 0 {
				t.Errorf("the volume's own directory %s holds %v %v: the device was not mounted", v, entries, err)
			}
		}
		if got := catVolume(t, c, devvol, "f"); got != "f\n" {
			t.Errorf("the volume read by another container: %q", got)
		}
		// Each request of the copy (stat, extract) mounts and unmounts.
		mounts, unmounts := volumeEvents(t, e, devvol, since, until)
		if len(mounts) == 0 || !slices.Equal(mounts, unmounts) || slices.ContainsFunc(mounts, func(c string) bool { return c != id }) {
			t.Errorf("volume events of the copy: mounts by %q, unmounts by %q; want as many of each, by %s", mounts, unmounts, id)
		}

		// A tmpfs volume nobody runs with is a new tmpfs for each copy.
		c.Run(t, "cp", src, name+":/mem/").OK(t)
		c.Run(t, "cp", name+":/mem/f", "-").Assert(t, 1, "Could not find the file /mem/f in container "+name)
		// While a container runs with it, the copy goes into that tmpfs.
		peer := runApp(t, e, c, "-v", mem+":/m")
		c.Run(t, "cp", src, name+":/mem/g").OK(t)
		if got := sh(t, c, peer, "cat /m/g"); got != "f\n" {
			t.Errorf("a container running with the tmpfs volume reads %q", got)
		}
		if got := cpOut(t, c, name, "/mem/g"); got != "f\n" {
			t.Errorf("cp out of the tmpfs volume: %q", got)
		}
	})
}

// volumeEvents lists the containers of the volume's mount and unmount
// events between since and until.
func volumeEvents(t *testing.T, e *e2e.Engine, vol string, since, until time.Time) (mounts, unmounts []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := e.Client(t).Events(ctx, client.EventsListOptions{
		Since:   e2e.UnixArg(since),
		Until:   e2e.UnixArg(until),
		Filters: client.Filters{}.Add("type", "volume").Add("volume", vol),
	})
	for {
		select {
		case m := <-res.Messages:
			switch m.Action {
			case events.ActionMount:
				mounts = append(mounts, m.Actor.Attributes["container"])
			case events.ActionUnmount:
				unmounts = append(unmounts, m.Actor.Attributes["container"])
			}
		case <-res.Err:
			return mounts, unmounts
		}
	}
}

// TestVolumesLeftOutOfDiffCommitExport: diff lists a container's mount
// points but nothing inside its volumes and binds (Docker lists every
// directory above a mount point it made, C /var for /var/www/b); commit
// and export take the container's layer, so they hold the mount points,
// empty, and none of the mounts' content, as Docker's do.
func TestVolumesLeftOutOfDiffCommitExport(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := newVolume(t, e, c, "named")
		www := newVolume(t, e, c, "www")
		bind := t.TempDir()
		writeTree(t, bind, map[string]string{"hostfile": "host\n"})
		fileBind := filepath.Join(t.TempDir(), "motd")
		writeTree(t, filepath.Dir(fileBind), map[string]string{"motd": "motd\n"})
		app := runApp(t, e, c, "-v", vol+":/nv", "-v", "/anon", "-v", bind+":/b", "-v", bind+":/var/www/b",
			"-v", fileBind+":/etc/motd", "-v", www+":/srv/www")
		sh(t, c, app, "echo v > /nv/in-vol; echo a > /anon/in-anon; echo b > /b/in-bind; mkdir /nv/sub; echo s > /nv/sub/in-sub; "+
			"echo w > /srv/www/in-www; echo top > /top")

		got := c.Run(t, "diff", app).OK(t).Lines()
		slices.Sort(got)
		want := []string{"A /anon", "A /b", "A /etc/motd", "A /nv", "A /srv", "A /srv/www", "A /top", "A /var/www/b", "C /etc", "C /var", "C /var/www"}
		if !slices.Equal(got, want) {
			t.Errorf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		entries, names := readTar(t, c.Run(t, "export", app).OK(t).Stdout)
		for _, n := range names {
			if strings.Contains(n, "in-") || n == "b/hostfile" || n == "var/www/b/hostfile" {
				t.Errorf("export has %s, a mount's content", n)
			}
		}
		for _, n := range []string{"nv/", "anon/", "b/", "var/www/b/", "srv/www/"} {
			if entries[n].typ != tar.TypeDir {
				t.Errorf("export lacks the mount point %s", n)
			}
		}
		if m := entries["etc/motd"]; m.typ != tar.TypeReg || m.body != "" {
			t.Errorf("export's etc/motd (a file bind's mount point): %+v", m)
		}
		if entries["top"].body != "top\n" {
			t.Errorf("export lacks the container's /top")
		}

		img := imageName(t, e, "img")
		c.Run(t, "commit", app, img).OK(t)
		out := c.Run(t, "run", "--rm", "--network", "none", img, "sh", "-c",
			"cat /top; ls -A /nv /anon /b /var/www/b /srv/www; wc -c < /etc/motd").OK(t).Stdout
		if want := "top\n/anon:\n\n/b:\n\n/nv:\n\n/srv/www:\n\n/var/www/b:\n0\n"; out != want {
			t.Errorf("the committed image has:\n%s\nwant:\n%s", out, want)
		}
		// The anonymous volume (in the container's config) stays a VOLUME.
		if got := c.Run(t, "image", "inspect", "-f", "{{json .Config.Volumes}}", img).OK(t).Out(); got != `{"/anon":{}}` {
			t.Errorf("volumes of the committed image: %s", got)
		}
	})
}
