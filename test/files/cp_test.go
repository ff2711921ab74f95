package files

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestCopyIssueExample is the issue's line: docker cp ./file app:/tmp/;
// docker cp app:/etc/hostname -.
func TestCopyIssueExample(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		app := runApp(t, e, c)
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"file": "hello\n"})
		since := time.Now()
		c.RunWith(t, e2e.RunOpts{Dir: dir}, "cp", "./file", app+":/tmp/").OK(t)
		if got := sh(t, c, app, "cat /tmp/file"); got != "hello\n" {
			t.Fatalf("copied file reads %q", got)
		}
		out := c.Run(t, "cp", app+":/etc/hostname", "-").OK(t)
		entries, names := readTar(t, out.Stdout)
		hostname := e.Inspect(t, app).Config.Hostname
		if !slices.Equal(names, []string{"hostname"}) || entries["hostname"].body != hostname+"\n" {
			t.Fatalf("cp app:/etc/hostname - gave %q, want one entry \"hostname\" with %q: %+v", names, hostname, entries)
		}
		// Each copy is an event, as in Docker (the stat before is none).
		var actions []string
		for _, m := range e.Events(t, app, since, time.Now()) {
			if a := string(m.Action); !strings.HasPrefix(a, "exec_") {
				actions = append(actions, a)
			}
		}
		if !slices.Equal(actions, []string{"extract-to-dir", "archive-path"}) {
			t.Errorf("events of the copies: %q", actions)
		}
	})
}

// TestCopyFromContainerRules follows Docker's rules for the destination
// on the host: a new name, an existing directory, "dir/." for contents,
// symlinks kept unless -L.
func TestCopyFromContainerRules(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		app := runApp(t, e, c)
		sh(t, c, app, "mkdir -p /src/dir/sub && echo a > /src/dir/a && echo b > /src/dir/sub/b && echo f > /src/file && ln -s /src/file /src/link && ln -s dir /src/dirlink")
		host := t.TempDir()
		at := func(p string) string { return filepath.Join(host, p) }
		writeTree(t, host, map[string]string{"existing/": "", "contents/": "", "afile": "x"})

		c.Run(t, "cp", app+":/src/file", at("new")).OK(t)
		if got := readFile(t, at("new")); got != "f\n" {
			t.Errorf("file to a new name: %q", got)
		}
		c.Run(t, "cp", app+":/src/file", at("existing")).OK(t)
		if got := readFile(t, at("existing/file")); got != "f\n" {
			t.Errorf("file into a directory: %q", got)
		}
		c.Run(t, "cp", app+":/src/dir", at("newdir")).OK(t)
		if got := listTree(t, at("newdir")); !slices.Equal(got, []string{"a", "sub/", "sub/b"}) {
			t.Errorf("dir to a new name: %q", got)
		}
		c.Run(t, "cp", app+":/src/dir", at("existing")).OK(t)
		if got := listTree(t, at("existing/dir")); !slices.Equal(got, []string{"a", "sub/", "sub/b"}) {
			t.Errorf("dir into a directory: %q", got)
		}
		c.Run(t, "cp", app+":/src/dir/.", at("contents")).OK(t)
		if got := listTree(t, at("contents")); !slices.Equal(got, []string{"a", "sub/", "sub/b"}) {
			t.Errorf("dir/. into a directory: %q", got)
		}
		// A symlink is copied as a symlink, or with -L as what it points to.
		c.Run(t, "cp", app+":/src/link", at("link")).OK(t)
		if target, err := os.Readlink(at("link")); err != nil || target != "/src/file" {
			t.Errorf("symlink copied as %q %v", target, err)
		}
		c.Run(t, "cp", "-L", app+":/src/link", at("followed")).OK(t)
		if fi, err := os.Lstat(at("followed")); err != nil || !fi.Mode().IsRegular() || readFile(t, at("followed")) != "f\n" {
			t.Errorf("cp -L of a symlink: %v %v", fi, err)
		}
		c.Run(t, "cp", "-L", app+":/src/dirlink", at("followeddir")).OK(t)
		if got := listTree(t, at("followeddir")); !slices.Equal(got, []string{"a", "sub/", "sub/b"}) {
			t.Errorf("cp -L of a symlink to a directory: %q", got)
		}
		// A trailing slash follows the link too.
		c.Run(t, "cp", app+":/src/dirlink/", at("slashdir")).OK(t)
		if got := listTree(t, at("slashdir")); !slices.Equal(got, []string{"a", "sub/", "sub/b"}) {
			t.Errorf("cp of link/: %q", got)
		}

		// Errors, Docker's words.
		c.Run(t, "cp", app+":/src/dir", at("afile")).Assert(t, 1, "cannot copy directory")
		c.Run(t, "cp", app+":/src/file", at("missing")+"/").Assert(t, 1, "no such directory")
		c.Run(t, "cp", app+":/nope", at("x")).Assert(t, 1, "Error response from daemon: Could not find the file /nope in container "+app)
		c.Run(t, "cp", app+":/nope", "-").Assert(t, 1, "Could not find the file /nope in container "+app)
		c.Run(t, "cp", app+":/src/file", "/nonexistent-dir-for-cp/x").Assert(t, 1, `invalid output path: directory "/nonexistent-dir-for-cp" does not exist`)
		c.Run(t, "cp", "nosuchcontainer-cp:/etc/hostname", at("y")).Assert(t, 1, "No such container: nosuchcontainer-cp")
	})
}

// TestCopyToContainerRules: the destination in the container decides the
// shape, as in Docker.
func TestCopyToContainerRules(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		app := runApp(t, e, c)
		sh(t, c, app, "mkdir -p /dst/existing /dst/contents && echo old > /dst/afile && ln -s /dst/existing /dst/link")
		host := t.TempDir()
		writeTree(t, host, map[string]string{"file": "f\n", "dir/a": "a\n", "dir/sub/b": "b\n"})
		at := func(p string) string { return filepath.Join(host, p) }
		ls := func(dir string) string {
			return strings.Join(strings.Fields(sh(t, c, app, "cd "+dir+" && find . | sort")), " ")
		}

		c.Run(t, "cp", at("file"), app+":/dst/new").OK(t)
		c.Run(t, "cp", at("file"), app+":/dst/existing").OK(t)
		c.Run(t, "cp", at("file"), app+":/dst/link").OK(t)  // a symlink to a directory: into it
		c.Run(t, "cp", at("file"), app+":/dst/afile").OK(t) // overwrites
		if got := sh(t, c, app, "cat /dst/new /dst/existing/file /dst/afile"); got != "f\nf\nf\n" {
			t.Errorf("files copied: %q", got)
		}
		if got := ls("/dst/existing"); got != ". ./file" {
			t.Errorf("/dst/existing after copies into it and through a link to it: %s", got)
		}
		c.Run(t, "cp", at("dir"), app+":/dst/newdir").OK(t)
		if got := ls("/dst/newdir"); got != ". ./a ./sub ./sub/b" {
			t.Errorf("dir to a new name: %s", got)
		}
		c.Run(t, "cp", at("dir"), app+":/dst/existing").OK(t)
		if got := ls("/dst/existing/dir"); got != ". ./a ./sub ./sub/b" {
			t.Errorf("dir into a directory: %s", got)
		}
		c.Run(t, "cp", at("dir")+"/.", app+":/dst/contents").OK(t)
		if got := ls("/dst/contents"); got != ". ./a ./sub ./sub/b" {
			t.Errorf("dir/. into a directory: %s", got)
		}
		// A tar on stdin goes into a directory.
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(string(mkTar(t, tarEntrySpec{name: "streamed/x", body: "s\n"})))},
			"cp", "-", app+":/dst").OK(t)
		if got := sh(t, c, app, "cat /dst/streamed/x"); got != "s\n" {
			t.Errorf("cp - : %q", got)
		}

		// Errors, Docker's words.
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("")}, "cp", "-", app+":/dst/afile").Assert(t, 1, `destination "`+app+`:/dst/afile" must be a directory`)
		c.Run(t, "cp", at("dir"), app+":/dst/afile").Assert(t, 1, "cannot copy directory")
		c.Run(t, "cp", at("file"), app+":/nope/").Assert(t, 1, "no such directory")
		c.Run(t, "cp", at("file"), app+":/nope/x").Assert(t, 1, "Error response from daemon: Could not find the file /nope in container "+app)
		c.Run(t, "cp", at("missing"), app+":/dst").Assert(t, 1, "no such file or directory")
		c.Run(t, "cp", at("file"), "nosuchcontainer-cp:/tmp").Assert(t, 1, "No such container: nosuchcontainer-cp")
		c.Run(t, "cp", at("file"), at("other")).Assert(t, 1, "must specify at least one container source")
		c.Run(t, "cp", app+":/dst/new", app+":/tmp").Assert(t, 1, "copying between containers is not supported")
	})
}

// TestCopyOwnership: the tar's owners are kept; -a gives the files to the
// container's user.
func TestCopyOwnership(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		// nobody is 65534:65534 in the test image and on the host: Docker
		// 20.10 looks the user up on the host, berth in the container.
		app := runApp(t, e, c, "-u", "nobody")
		host := t.TempDir()
		writeTree(t, host, map[string]string{"owned": "o\n"})
		if err := os.Chown(filepath.Join(host, "owned"), 1234, 5678); err != nil {
			t.Fatal(err)
		}
		c.Run(t, "cp", filepath.Join(host, "owned"), app+":/tmp/kept").OK(t)
		c.Run(t, "cp", "-a", filepath.Join(host, "owned"), app+":/tmp/archived").OK(t)
		if got := sh(t, c, app, "stat -c '%u:%g' /tmp/kept /tmp/archived"); got != "1234:5678\n65534:65534\n" {
			t.Errorf("owners (kept, -a): %q", got)
		}
	})
}

// TestCopyStoppedContainer copies into a container that never ran (its
// bind mount included) and out of one that stopped.
func TestCopyStoppedContainer(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		bind := t.TempDir()
		host := t.TempDir()
		writeTree(t, host, map[string]string{"file": "f\n", "dir/a": "a\n"})
		c.Run(t, "create", "--name", name, "-v", bind+":/data", "busybox", "sleep", "100000").OK(t)
		c.Run(t, "cp", filepath.Join(host, "file"), name+":/tmp/").OK(t)
		c.Run(t, "cp", filepath.Join(host, "dir"), name+":/data/").OK(t)
		if got := listTree(t, bind); !slices.Equal(got, []string{"dir/", "dir/a"}) {
			t.Errorf("copy into a bind of a created container: the bind's source has %q", got)
		}
		c.Run(t, "start", name).OK(t)
		if got := sh(t, c, name, "cat /tmp/file /data/dir/a"); got != "f\na\n" {
			t.Errorf("files copied before start: %q", got)
		}
		sh(t, c, name, "echo later > /tmp/later")
		hostname := e.Inspect(t, name).Config.Hostname
		c.Run(t, "stop", "-t", "0", name).OK(t)
		out := c.Run(t, "cp", name+":/tmp/later", "-").OK(t)
		if entries, _ := readTar(t, out.Stdout); entries["later"].body != "later\n" {
			t.Errorf("cp out of a stopped container: %+v", entries)
		}
		out = c.Run(t, "cp", name+":/etc/hostname", "-").OK(t)
		if entries, _ := readTar(t, out.Stdout); entries["hostname"].body != hostname+"\n" {
			t.Errorf("/etc/hostname of a stopped container: %+v, want %q", entries, hostname)
		}
		c.Run(t, "cp", filepath.Join(host, "file"), name+":/tmp/again").OK(t)
		// The copies left nothing mounted: the container starts again.
		c.Run(t, "start", name).OK(t)
		if got := sh(t, c, name, "cat /tmp/again"); got != "f\n" {
			t.Errorf("file copied into the stopped container: %q", got)
		}
	})
}

// TestCopyReadOnly: Docker's refusals for a read-only root filesystem and
// read-only mounts, running or stopped.
func TestCopyReadOnly(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ro, rw := t.TempDir(), t.TempDir()
		host := t.TempDir()
		writeTree(t, host, map[string]string{"file": "f\n"})
		file := filepath.Join(host, "file")
		app := runApp(t, e, c, "--read-only", "-v", ro+":/ro:ro", "-v", rw+":/rw")
		for _, state := range []string{"running", "stopped"} {
			c.Run(t, "cp", file, app+":/tmp/").Assert(t, 1, "container rootfs is marked read-only")
			c.Run(t, "cp", file, app+":/ro/").Assert(t, 1, "mounted volume is marked read-only")
			c.Run(t, "cp", file, app+":/rw/"+state).OK(t)
			if got := readFile(t, filepath.Join(rw, state)); got != "f\n" {
				t.Errorf("%s: copy into a writable bind: %q", state, got)
			}
			if entries, err := os.ReadDir(ro); err != nil || len(entries) != 0 {
				t.Errorf("%s: the read-only bind's source changed: %v %v", state, entries, err)
			}
			c.Run(t, "stop", "-t", "0", app).OK(t)
		}
	})
}

// TestCopyLeavesNothing: copies in and out of a stopped container mount
// its filesystem privately, and its volumes for the time of the copy:
// once the container is gone, the engine holds no mount, file or process
// of it (a volume's device is mounted no more). Not parallel: it
// compares the engine's resources before and after.
func TestCopyLeavesNothing(t *testing.T) {
	e := e2e.Current(t)
	c := e.Docker()
	dev := t.TempDir()
	devvol := newVolume(t, e, c, "dev", "-o", "type=none", "-o", "o=bind", "-o", "device="+dev)
	c.Run(t, "run", "--rm", "busybox", "true").OK(t) // the engine is warm: see TakeSnapshot
	before := e.TakeSnapshot(t)
	name := e.Name(t)
	bind := t.TempDir()
	host := t.TempDir()
	writeTree(t, host, map[string]string{"file": "f\n"})
	id := c.Run(t, "create", "--name", name, "-v", bind+":/data", "-v", devvol+":/dv", "busybox", "true").OK(t).Out()
	c.Run(t, "cp", filepath.Join(host, "file"), name+":/data/").OK(t)
	c.Run(t, "cp", filepath.Join(host, "file"), name+":/tmp/").OK(t)
	c.Run(t, "cp", filepath.Join(host, "file"), name+":/dv/").OK(t)
	c.Run(t, "cp", name+":/tmp/file", filepath.Join(host, "back")).OK(t)
	c.Run(t, "start", "-a", name).OK(t)
	c.Run(t, "cp", name+":/data/file", "-").OK(t)
	c.Run(t, "cp", name+":/dv/file", "-").OK(t)
	// Given back after each copy, not only when the container goes.
	if mp := c.Run(t, "volume", "inspect", "-f", "{{.Mountpoint}}", devvol).OK(t).Out(); isMountPoint(t, mp) {
		t.Errorf("the volume's device is still mounted on %s after the copies", mp)
	}
	c.Run(t, "rm", name).OK(t)
	e.AssertNoLeaks(t, before, 10*time.Second, id)
	if got := listTree(t, dev); !slices.Equal(got, []string{"file"}) {
		t.Errorf("the volume's device holds %q", got)
	}
}
