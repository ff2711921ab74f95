package files

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// sentinel is a directory on the host, outside every container, that
// escape attempts aim at. Its path also exists as a name the container
// can hold in symlinks; nothing may ever appear in it.
type sentinel struct {
	dir    string
	marker string // a unique file name the attempts try to create
}

func newSentinel(t *testing.T) *sentinel {
	t.Helper()
	s := &sentinel{dir: t.TempDir(), marker: "escaped-" + strings.ReplaceAll(strings.ToLower(filepath.Base(t.TempDir())), "/", "")}
	writeTree(t, s.dir, map[string]string{"keep": "host\n"})
	return s
}

// check fails the test if the host changed: the sentinel dir gained
// anything or its file changed, or the marker appeared at the host's
// root or in its /tmp.
func (s *sentinel) check(t *testing.T, what string) {
	t.Helper()
	if got := listTree(t, s.dir); len(got) != 1 || got[0] != "keep" {
		t.Errorf("%s: the host's sentinel dir changed: %q", what, got)
	}
	if got := readFile(t, filepath.Join(s.dir, "keep")); got != "host\n" {
		t.Errorf("%s: the host's sentinel file changed: %q", what, got)
	}
	for _, p := range []string{"/" + s.marker, "/tmp/" + s.marker, filepath.Join(filepath.Dir(s.dir), s.marker)} {
		if _, err := os.Lstat(p); err == nil {
			os.RemoveAll(p)
			t.Errorf("%s: %s was written on the host", what, p)
		}
	}
}

// craftLinks makes the symlinks of the escape attempts in the container:
// to /, to ../../.. (as many as one likes), to the sentinel's host path,
// and a chain of absolute and relative links.
func craftLinks(t *testing.T, c e2e.CLI, name string, s *sentinel) {
	t.Helper()
	sh(t, c, name, fmt.Sprintf(`set -e
mkdir -p /deep/er
ln -s / /toroot
ln -s ../../../../../../../../ /up
ln -s ../../../../../../../.. /deep/er/up
ln -s %[1]s /hostpath
ln -s /chain2 /chain1
ln -s ../../deep/er/up/chain3 /chain2
ln -s /tmp /chain3
`, s.dir))
}

// TestCopyThroughCraftedSymlinks uses symlinks that point at /, at
// ../../.., at a host path and along chains as cp sources and
// destinations, on a running and on a stopped container: each resolves
// inside the container's root, and the host is untouched.
func TestCopyThroughCraftedSymlinks(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		s := newSentinel(t)
		app := runApp(t, e, c)
		craftLinks(t, c, app, s)
		hostname := e.Inspect(t, app).Config.Hostname
		host := t.TempDir()
		writeTree(t, host, map[string]string{s.marker: "pwned\n"})
		src := filepath.Join(host, s.marker)

		for _, state := range []string{"running", "stopped"} {
			// Into the container's root (or /tmp) through each link.
			for _, dst := range []string{"/toroot/", "/up/", "/deep/er/up/tmp/", "/chain1/", "/chain1"} {
				c.Run(t, "cp", src, app+":"+dst).OK(t)
				s.check(t, state+": cp to "+dst)
			}
			// To the host path the link names: missing in the container,
			// so refused or created inside it, never on the host.
			for _, dst := range []string{"/hostpath/", "/hostpath", "/hostpath/" + s.marker} {
				c.Run(t, "cp", src, app+":"+dst)
				s.check(t, state+": cp to "+dst)
			}
			// Reading through the links reads the container's files.
			for _, p := range []string{"/toroot/etc/hostname", "/up/etc/hostname", "/deep/er/up/etc/hostname", "/chain1/../etc/hostname"} {
				out := c.Run(t, "cp", app+":"+p, "-").OK(t)
				if entries, _ := readTar(t, out.Stdout); entries["hostname"].body != hostname+"\n" {
					t.Errorf("%s: cp %s - read %+v, want the container's hostname %q", state, p, entries, hostname)
				}
			}
			c.Run(t, "cp", app+":/hostpath/keep", "-").Assert(t, 1, "Could not find the file /hostpath/keep in container "+app)
			c.Run(t, "cp", "-L", app+":/hostpath", filepath.Join(host, "out")).Assert(t, 1, "Could not find the file")
			s.check(t, state+": reads")
			if state == "running" {
				c.Run(t, "stop", "-t", "0", app).OK(t)
			}
		}
		c.Run(t, "start", app).OK(t)
		got := sh(t, c, app, "cat /"+s.marker+" /tmp/"+s.marker)
		if got != "pwned\npwned\n" {
			t.Errorf("the copies are not in the container's root and /tmp: %q", got)
		}
	})
}

// TestArchivePutHostileTars sends crafted tars straight to PUT
// /containers/{id}/archive (the CLIs never produce them): ../ entries,
// absolute names, a symlink to a host path followed by a file through
// it, hard links that leave the destination. Each is refused (400 or
// 500, a message) or kept inside the container; the host never changes.
func TestArchivePutHostileTars(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	s := newSentinel(t)
	app := runApp(t, e, c)
	craftLinks(t, c, app, s)
	rel := strings.Repeat("../", 12) + strings.TrimPrefix(s.dir, "/")
	hc := e2e.HTTPClient(e.Host)
	put := func(path string, body []byte) (int, string) {
		t.Helper()
		u := "http://engine/containers/" + app + "/archive?path=" + url.QueryEscape(path)
		req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-tar")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(msg)
	}
	for _, tc := range []struct {
		name string
		tar  []byte
	}{
		{"dotdot", mkTar(t, tarEntrySpec{name: rel + "/" + s.marker, body: "x"})},
		{"dotdot inside", mkTar(t, tarEntrySpec{name: "a/../../../../" + s.marker, body: "x"})},
		{"absolute", mkTar(t, tarEntrySpec{name: s.dir + "/" + s.marker, body: "x"})},
		{"symlink to host path, then through it", mkTar(t,
			tarEntrySpec{name: "esc", link: s.dir},
			tarEntrySpec{name: "esc/" + s.marker, body: "x"})},
		{"relative symlink out, then through it", mkTar(t,
			tarEntrySpec{name: "esc2", link: rel},
			tarEntrySpec{name: "esc2/" + s.marker, body: "x"})},
		{"hard link out", mkTar(t, tarEntrySpec{name: "hl", link: "hard:" + rel + "/keep"})},
		{"hard link absolute", mkTar(t, tarEntrySpec{name: "hl2", link: "hard:" + s.dir + "/keep"})},
	} {
		for _, dest := range []string{"/tmp", "/up", "/hostpath/..", "/chain1"} {
			code, msg := put(dest, tc.tar)
			switch {
			case code == http.StatusOK:
				// Accepted: contained, which the checks below see.
			case code >= 400 && code < 600 && strings.Contains(msg, "message"):
			default:
				t.Errorf("%s into %s: status %d %s", tc.name, dest, code, msg)
			}
			s.check(t, tc.name+" into "+dest)
		}
	}
	// Whatever was accepted stayed in the container: nothing there reads
	// the host's sentinel file.
	out := sh(t, c, app, "cat /tmp/hl /tmp/hl2 "+s.dir+"/keep 2>/dev/null; true")
	if strings.Contains(out, "host") {
		t.Errorf("a link in the container reaches the host's file: %q", out)
	}
	// The path parameter is required, as in Docker.
	if code, msg := put("", mkTar(t)); code != http.StatusBadRequest || !strings.Contains(msg, "path") {
		t.Errorf("PUT without path: %d %s", code, msg)
	}
	if code, msg := put("/etc/hostname", mkTar(t)); code < 400 || !strings.Contains(msg, "extraction point is not a directory") {
		t.Errorf("PUT into a file: %d %s", code, msg)
	}
	if code, msg := put("/nope", mkTar(t)); code != http.StatusNotFound || !strings.Contains(msg, "Could not find the file /nope in container "+app) {
		t.Errorf("PUT into a missing dir: %d %s", code, msg)
	}
}

// TestCopyThroughSymlinksInVolume: symlinks that a container leaves in a
// volume (to /, to ../../.., to a host path) resolve inside the
// container's root when cp goes through them, on a running and on a
// stopped container (whose view mounts the volume): the copies land in
// the container's root, reads read the container's files, and the host
// is untouched.
func TestCopyThroughSymlinksInVolume(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		s := newSentinel(t)
		vol := newVolume(t, e, c, "links")
		// Another container crafts the links: the volume is all they share.
		c.Run(t, "run", "--rm", "--network", "none", "-v", vol+":/v", "busybox", "sh", "-c", fmt.Sprintf(`set -e
mkdir -p /v/d/e
ln -s / /v/toroot
ln -s ../../../../../../.. /v/up
ln -s .. /v/dotdot
ln -s ../../../.. /v/d/e/up
ln -s %[1]s /v/hostpath
ln -s ../../../../../../..%[1]s /v/hostrel
`, s.dir)).OK(t)
		app := runApp(t, e, c, "-v", vol+":/nv")
		hostname := e.Inspect(t, app).Config.Hostname
		src := hostFile(t, s.marker, "pwned\n")
		hostile := mkTar(t,
			tarEntrySpec{name: "esc", link: s.dir},
			tarEntrySpec{name: "esc/" + s.marker, body: "x"},
			tarEntrySpec{name: "hl", link: "hard:" + strings.Repeat("../", 12) + strings.TrimPrefix(s.dir, "/") + "/keep"})

		for _, state := range []string{"running", "stopped"} {
			for _, dst := range []string{"/nv/toroot/", "/nv/up/", "/nv/dotdot/tmp/", "/nv/d/e/up/"} {
				c.Run(t, "cp", src, app+":"+dst).OK(t)
				s.check(t, state+": cp to "+dst)
			}
			for _, dst := range []string{"/nv/hostpath/", "/nv/hostpath", "/nv/hostrel/", "/nv/hostrel/" + s.marker} {
				c.Run(t, "cp", src, app+":"+dst)
				s.check(t, state+": cp to "+dst)
			}
			for _, dst := range []string{"/nv", "/nv/toroot/tmp", "/nv/up"} {
				c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(hostile)}, "cp", "-", app+":"+dst)
				s.check(t, state+": a hostile tar into "+dst)
			}
			for _, p := range []string{"/nv/toroot/etc/hostname", "/nv/up/etc/hostname", "/nv/d/e/up/etc/hostname"} {
				if got := cpOut(t, c, app, p); got != hostname+"\n" {
					t.Errorf("%s: cp %s - read %q, want the container's hostname %q", state, p, got, hostname)
				}
			}
			c.Run(t, "cp", app+":/nv/hostpath/keep", "-").Assert(t, 1, "Could not find the file /nv/hostpath/keep in container "+app)
			c.Run(t, "cp", "-L", app+":/nv/hostrel", filepath.Join(t.TempDir(), "out")).Assert(t, 1, "Could not find the file")
			s.check(t, state+": reads")
			if state == "running" {
				c.Run(t, "stop", "-t", "0", app).OK(t)
			}
		}
		c.Run(t, "start", app).OK(t)
		if got := sh(t, c, app, "cat /"+s.marker+" /tmp/"+s.marker); got != "pwned\npwned\n" {
			t.Errorf("the copies are not in the container's root and /tmp: %q", got)
		}
		if out := sh(t, c, app, "cat /nv/hl /tmp/hl /hl 2>/dev/null; true"); strings.Contains(out, "host") {
			t.Errorf("a hard link in the container reaches the host's file: %q", out)
		}
	})
}

// TestCopyMountTargetSymlink: mount targets that are symlinks in the
// image, to a host path (absolute, and relative through ".."), resolve inside the
// container's root for cp too, created, running or exited: the copies
// land in the volume and the bind, and the host's path is untouched. A
// target that resolves to the root itself would cover the container's
// root; berth refuses the copy as it refuses the start (Docker mounts
// the bind over the root for the copy: nothing of the host is reached
// either).
func TestCopyMountTargetSymlink(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		s, s2 := newSentinel(t), newSentinel(t)
		img := imageName(t, e, "links")
		maker := e.Name(t, "maker")
		c.Run(t, "run", "--name", maker, "--network", "none", "busybox", "sh", "-c", fmt.Sprintf(`set -e
ln -s %[1]s /abs
ln -s ../../../../../../..%[2]s /rel
ln -s / /rootlink
ln -s .. /uplink
`, s.dir, s2.dir)).OK(t)
		c.Run(t, "commit", maker, img).OK(t)
		vol := newVolume(t, e, c, "target")
		bind := t.TempDir()
		src := hostFile(t, s.marker, "pwned\n")

		name := e.Name(t, "ctr")
		c.Run(t, "create", "--name", name, "--network", "none", "-v", vol+":/abs", "-v", bind+":/rel", img, "sleep", "100000").OK(t)
		for _, state := range []string{"created", "running", "exited"} {
			switch state {
			case "running":
				c.Run(t, "start", name).OK(t)
			case "exited":
				c.Run(t, "stop", "-t", "0", name).OK(t)
			}
			c.Run(t, "cp", src, name+":/abs/"+state).OK(t)
			c.Run(t, "cp", src, name+":/rel/"+state).OK(t)
			s.check(t, state+": cp through a mount target that is an absolute symlink")
			s2.check(t, state+": cp through a mount target that is a relative symlink")
			if got := catVolume(t, c, vol, state); got != "pwned\n" {
				t.Errorf("%s: the volume at /abs has %q", state, got)
			}
			if got := readFile(t, filepath.Join(bind, state)); got != "pwned\n" {
				t.Errorf("%s: the bind at /rel has %q", state, got)
			}
			for _, p := range []string{s.dir, s2.dir} {
				if got := cpOut(t, c, name, p+"/"+state); got != "pwned\n" {
					t.Errorf("%s: the container's own %s has %q", state, p, got)
				}
			}
		}

		for _, target := range []string{"/rootlink", "/uplink"} {
			covered := e.Name(t, "covered", target[1:])
			c.Run(t, "create", "--name", covered, "--network", "none", "-v", t.TempDir()+":"+target, img, "sleep", "100000").OK(t)
			c.Run(t, "cp", src, covered+":/tmp/")
			r := c.Run(t, "cp", covered+":/etc/passwd", "-")
			if e.Kind == e2e.KindBerth {
				r.Assert(t, 1, "the destination resolves to the container's root directory")
			}
			s.check(t, "cp with a mount at "+target)
		}
	})
}
