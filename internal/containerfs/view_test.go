package containerfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/layer"
)

// fixture is a stopped container's view over a root directory with
// crafted symlinks, a bind from the host, and a sentinel directory on the
// host that nothing may touch.
type fixture struct {
	root, bindSrc, sentinel string
	v                       *View
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mount namespaces)")
	}
	base := t.TempDir()
	f := &fixture{
		root:     filepath.Join(base, "root"),
		bindSrc:  filepath.Join(base, "bindsrc"),
		sentinel: filepath.Join(base, "sentinel"),
	}
	target := filepath.Join(base, "merged")
	for _, d := range []string{f.root, f.bindSrc, f.sentinel, target,
		filepath.Join(f.root, "etc"), filepath.Join(f.root, "tmp"), filepath.Join(f.root, "d/sub")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	must(t, os.WriteFile(filepath.Join(f.root, "etc/hostname"), []byte("container\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "d/sub/f"), []byte("a\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.sentinel, "keep"), []byte("host\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.bindSrc, "b"), []byte("bound\n"), 0o644))
	for name, target := range map[string]string{
		"rootlnk":  "/",
		"dotlnk":   "../../../../../../../../",
		"etclnk":   "/etc",
		"chain1":   "/chain2",
		"chain2":   "../../chain3/",
		"chain3":   "/etc",
		"host":     f.sentinel, // absolute host path: means a path in the container
		"broken":   "/nonexistent/x",
		"loop":     "/loop",
		"d/up":     "../../../..",
		"datalink": "/data",
	} {
		must(t, os.Symlink(target, filepath.Join(f.root, name)))
	}
	v, err := OpenRootfs(target,
		[]layer.Mount{{Type: "bind", Source: f.root, Options: []string{"rbind"}}},
		[]Bind{{Source: f.bindSrc, Destination: "/data"}, {Source: f.bindSrc, Destination: "/ro", ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	t.Cleanup(func() {
		v.Close()
		if m, _ := layer.IsMountpoint(target); m {
			t.Error("the view left a mount on the host")
		}
		assertSentinel(t, f.sentinel)
	})
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// assertSentinel fails when the host directory changed: anything added,
// or its file rewritten.
func assertSentinel(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	if len(entries) != 1 || entries[0].Name() != "keep" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host sentinel dir changed: %v", names)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "keep")); string(data) != "host\n" {
		t.Errorf("host sentinel file changed: %q", data)
	}
}

func tarNames(t *testing.T, r io.Reader) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

type entry struct{ name, body, link string }

func mkTar(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		switch {
		case strings.HasSuffix(e.name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case strings.HasPrefix(e.link, "hard:"):
			h.Typeflag, h.Linkname = tar.TypeLink, strings.TrimPrefix(e.link, "hard:")
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		}
		must(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := tw.Write([]byte(e.body))
			must(t, err)
		}
	}
	must(t, tw.Close())
	return &buf
}

func TestStatResolvesSymlinksInsideTheRoot(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ path, name, link string }{
		{"/rootlnk", "rootlnk", "/"},
		{"/dotlnk", "dotlnk", "/"},
		{"/chain1", "chain1", "/etc"},
		{"/host", "host", f.sentinel}, // not followed to the host: missing in the container
		{"/broken", "broken", "/nonexistent/x"},
		{"d/up", "up", "/"},
	} {
		st, err := f.v.Stat(tc.path)
		if err != nil {
			t.Fatalf("stat %s: %v", tc.path, err)
		}
		if st.Name != tc.name || st.LinkTarget != tc.link || st.Mode&fs.ModeSymlink == 0 {
			t.Errorf("stat %s: %+v, want name %q link %q", tc.path, st, tc.name, tc.link)
		}
	}
	st, err := f.v.Stat("/dotlnk/etc/hostname")
	if err != nil || st.Size != int64(len("container\n")) {
		t.Fatalf("stat through ../ symlink: %+v %v", st, err)
	}
	st, err = f.v.Stat("/etclnk/")
	if err != nil || !st.Mode.IsDir() || st.Name != "etclnk" {
		t.Fatalf("trailing slash follows the link: %+v %v", st, err)
	}
	if _, err := f.v.Stat("/host/keep"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a host path through a symlink: %v, want not found", err)
	}
	if _, err := f.v.Stat("/loop/x"); err == nil {
		t.Fatal("symlink loop resolved")
	}
}

func TestArchiveEntryNames(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/d", []string{"d/", "d/sub/", "d/sub/f", "d/up"}},
		{"/d/", []string{"d/", "d/sub/", "d/sub/f", "d/up"}},
		{"/d/.", []string{"./", "./sub/", "./sub/f", "./up"}},
		{"/d/sub/f", []string{"f"}},
		{"/etclnk", []string{"etclnk"}},
		{"/etclnk/", []string{"etclnk/", "etclnk/hostname"}},
		{"/chain1/.", []string{"./", "./hostname"}},
		{"/dotlnk/etc/", []string{"etc/", "etc/hostname"}},
		{"/data", []string{"data/", "data/b"}},
	} {
		rc, st, err := f.v.Archive(tc.path)
		if err != nil {
			t.Fatalf("archive %s: %v", tc.path, err)
		}
		got := tarNames(t, rc)
		rc.Close()
		if !slices.Equal(got, tc.want) {
			t.Errorf("archive %s: entries %q, want %q (stat %+v)", tc.path, got, tc.want, st)
		}
	}
	// The root: what the container has, never the host's.
	rc, _, err := f.v.Archive("/rootlnk/")
	if err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, rc)
	rc.Close()
	if !slices.Contains(got, "rootlnk/etc/hostname") || slices.ContainsFunc(got, func(n string) bool { return strings.Contains(n, "keep") }) {
		t.Fatalf("archive of a symlink to /: %q", got)
	}
	if _, _, err := f.v.Archive("/host/keep"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("archive of a host path through a symlink: %v", err)
	}
	// docker export's names: paths under the root, no entry for it.
	rc, err = f.v.Export()
	must(t, err)
	got = tarNames(t, rc)
	rc.Close()
	if len(got) == 0 || got[0] != "broken" || !slices.Contains(got, "d/sub/f") || !slices.Contains(got, "data/b") || slices.Contains(got, "/") {
		t.Fatalf("export names: %q", got)
	}
}

func TestArchiveReaderClosedEarly(t *testing.T) {
	f := newFixture(t)
	big := bytes.Repeat([]byte("x"), 8<<20)
	must(t, os.WriteFile(filepath.Join(f.root, "big"), big, 0o644))
	rc, _, err := f.v.Archive("/big")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(rc, buf); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	// Close returns once the walk stopped; a stuck walk hangs the test.
	f.v.Close()
}

func TestExtractStaysInsideTheRoot(t *testing.T) {
	f := newFixture(t)
	extract := func(dest string, tr io.Reader) error {
		dir, err := f.v.ExtractDir(dest)
		if err != nil {
			return err
		}
		return f.v.Extract(dir, tr, true, "")
	}
	// Through symlinks to / and ../: the container's root.
	must(t, extract("/rootlnk", mkTar(t, entry{name: "viaroot", body: "1"})))
	must(t, extract("/dotlnk", mkTar(t, entry{name: "viadots", body: "2"})))
	must(t, extract("/chain1", mkTar(t, entry{name: "viachain", body: "3"})))
	for _, p := range []string{"viaroot", "viadots", "etc/viachain"} {
		if _, err := os.Stat(filepath.Join(f.root, p)); err != nil {
			t.Errorf("%s not in the container's root: %v", p, err)
		}
	}
	// A symlink in the tar to an absolute path, and a file through it:
	// the container's path.
	must(t, extract("/tmp", mkTar(t,
		entry{name: "toetc", link: "/etc"},
		entry{name: "toetc/through", body: "x"},
		entry{name: "/abs", body: "y"})))
	if _, err := os.Stat(filepath.Join(f.root, "etc/through")); err != nil {
		t.Errorf("file through an absolute symlink: not in the container's /etc: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "tmp/abs")); err != nil {
		t.Errorf("absolute entry name not under the destination: %v", err)
	}
	// To a host path, which the container lacks: the entry through it
	// fails, and the host is untouched (checked at cleanup).
	if err := extract("/tmp", mkTar(t,
		entry{name: "esc", link: f.sentinel},
		entry{name: "esc/pwned", body: "x"})); err == nil {
		t.Errorf("a file through a dangling symlink was written somewhere")
	}
	// Entries and links that leave the destination are refused.
	for _, tc := range []struct {
		name string
		tar  *bytes.Buffer
	}{
		{"dotdot entry", mkTar(t, entry{name: "../../../../../" + strings.TrimPrefix(f.sentinel, "/") + "/pwned", body: "x"})},
		{"dotdot inside", mkTar(t, entry{name: "a/../../pwned", body: "x"})},
		{"hard link out", mkTar(t, entry{name: "hl", link: "hard:../../etc/hostname"})},
	} {
		err := extract("/tmp", tc.tar)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: %v, want an invalid argument", tc.name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(f.root, "pwned")); err == nil {
		t.Error("a ../ entry was written at the container's root")
	}
	// A relative symlink that climbs past the root stops at the root, as
	// the kernel resolves it for the container: the file lands in the
	// container's copy of the sentinel's path, if the container has it.
	must(t, os.MkdirAll(filepath.Join(f.root, f.sentinel), 0o755))
	must(t, extract("/tmp", mkTar(t,
		entry{name: "rel", link: "../../../../../../../../" + strings.TrimPrefix(f.sentinel, "/")},
		entry{name: "rel/climbed", body: "x"})))
	if _, err := os.Stat(filepath.Join(f.root, f.sentinel, "climbed")); err != nil {
		t.Errorf("file through a climbing relative symlink: not in the container: %v", err)
	}
	// Extraction points that are no directory, or missing.
	if err := extract("/etc/hostname", mkTar(t)); !errdefs.IsInvalidArgument(err) {
		t.Errorf("extract into a file: %v", err)
	}
	if err := extract("/nope", mkTar(t)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("extract into a missing dir: %v", err)
	}
	// noOverwriteDirNonDir.
	if err := extract("/", mkTar(t, entry{name: "d", body: "file over dir"})); err == nil {
		t.Error("a file replaced a directory")
	}
}

func TestBindsReadAndWriteTheirSource(t *testing.T) {
	f := newFixture(t)
	dir, err := f.v.ExtractDir("/datalink")
	if err != nil || dir != "/data" {
		t.Fatalf("extract dir through a symlink to the bind: %q %v", dir, err)
	}
	must(t, f.v.Extract(dir, mkTar(t, entry{name: "new", body: "z"}), true, ""))
	if data, err := os.ReadFile(filepath.Join(f.bindSrc, "new")); err != nil || string(data) != "z" {
		t.Fatalf("file copied into the bind is not in its source: %q %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(f.root, "data/new")); err == nil {
		t.Fatal("file copied into the bind went to the rootfs")
	}
	if err := f.v.Extract("/ro", mkTar(t, entry{name: "x", body: "z"}), true, ""); err == nil {
		t.Fatal("read-only bind is writable")
	}
}

func TestExtractChownUser(t *testing.T) {
	f := newFixture(t)
	must(t, os.WriteFile(filepath.Join(f.root, "etc/passwd"), []byte("app:x:1234:4321::/:/bin/sh\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(f.root, "etc/group"), []byte("app:x:4321:\n"), 0o644))
	for user, want := range map[string][2]int{"app": {1234, 4321}, "7:9": {7, 9}, "": {0, 0}} {
		name := "owned" + strings.ReplaceAll(user, ":", "-")
		must(t, f.v.Extract("/tmp", mkTar(t, entry{name: name, body: "o"}), true, user))
		uid, gid := statOwner(t, filepath.Join(f.root, "tmp", name))
		if uid != want[0] || gid != want[1] {
			t.Errorf("user %q: owner %d:%d, want %v", user, uid, gid, want)
		}
	}
	if err := f.v.Extract("/tmp", mkTar(t, entry{name: "x", body: "o"}), true, "nobody-here"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown user: %v", err)
	}
}

func statOwner(t *testing.T, p string) (uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(p)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// TestArchiveExtractRoundTrip: what Archive writes, Extract puts back the
// same: contents, modes, owners, mtimes, symlinks, hard links (one
// inode), empty directories, a fifo.
func TestArchiveExtractRoundTrip(t *testing.T) {
	f := newFixture(t)
	src := filepath.Join(f.root, "src")
	writeFile := func(p, body string, mode os.FileMode) {
		must(t, os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755))
		must(t, os.WriteFile(filepath.Join(src, p), []byte(body), mode))
		must(t, os.Chmod(filepath.Join(src, p), mode))
	}
	writeFile("a", "alpha", 0o640)
	writeFile("sub/b", "beta", 0o4755)
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "sub/hard")))
	must(t, os.Symlink("../a", filepath.Join(src, "sub/soft")))
	must(t, os.MkdirAll(filepath.Join(src, "empty"), 0o700))
	must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	must(t, os.Lchown(filepath.Join(src, "sub/b"), 1234, 5678))
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(filepath.Join(src, "a"), mtime, mtime))

	rc, _, err := f.v.Archive("/src/.")
	must(t, err)
	data, err := io.ReadAll(rc)
	rc.Close()
	must(t, err)
	must(t, os.MkdirAll(filepath.Join(f.root, "dst"), 0o755))
	must(t, f.v.Extract("/dst", bytes.NewReader(data), true, ""))

	dst := filepath.Join(f.root, "dst")
	for _, p := range []string{"a", "sub/b", "sub/hard", "sub/soft", "empty", "fifo"} {
		a, err := os.Lstat(filepath.Join(src, p))
		must(t, err)
		b, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Errorf("%s not extracted: %v", p, err)
			continue
		}
		if a.Mode() != b.Mode() {
			t.Errorf("%s: mode %v, want %v", p, b.Mode(), a.Mode())
		}
		if a.Mode().IsRegular() && !a.ModTime().Truncate(time.Second).Equal(b.ModTime()) {
			t.Errorf("%s: mtime %v, want %v", p, b.ModTime(), a.ModTime())
		}
	}
	if uid, gid := statOwner(t, filepath.Join(dst, "sub/b")); uid != 1234 || gid != 5678 {
		t.Errorf("owner %d:%d", uid, gid)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "sub/soft")); l != "../a" {
		t.Errorf("symlink -> %q", l)
	}
	a, _ := os.Stat(filepath.Join(dst, "a"))
	h, _ := os.Stat(filepath.Join(dst, "sub/hard"))
	if !os.SameFile(a, h) {
		t.Error("hard link extracted as a copy")
	}
	if got := readString(t, filepath.Join(dst, "sub/hard")); got != "alpha" {
		t.Errorf("hard link content %q", got)
	}
}

func readString(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	must(t, err)
	return string(data)
}
