// Package layertest is the test suite every layer.Snapshotter must pass,
// and tar-building helpers for tests that need layer tars.
package layertest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/containerd/errdefs"
)

// Entry is one tar entry for Tar. Type defaults to a regular file (or a
// directory when Name ends in "/").
type Entry struct {
	Name     string
	Type     byte
	Body     string
	Linkname string
	Mode     int64
}

// Tar builds an uncompressed tar from entries, in order.
func Tar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Typeflag: e.Type, Linkname: e.Linkname, Mode: e.Mode, ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
			if strings.HasSuffix(e.Name, "/") {
				h.Typeflag = tar.TypeDir
			}
		}
		if h.Mode == 0 {
			h.Mode = 0o644
			if h.Typeflag == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(e.Body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// New opens a snapshotter on root. Calling it again on the same root after
// Close must find the same snapshots.
type New func(t *testing.T, root string) layer.Snapshotter

// Run runs the whole suite against the implementation new makes.
func Run(t *testing.T, newSn New) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts and chroot")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, newSn New)
	}{
		{"Lifecycle", testLifecycle},
		{"Whiteouts", testWhiteouts},
		{"RemoveRules", testRemoveRules},
		{"CommitRules", testCommitRules},
		{"Usage", testUsage},
		{"Diff", testDiff},
		{"View", testView},
		{"Reopen", testReopen},
		{"DeepChain", testDeepChain},
		{"MaliciousTars", testMaliciousTars},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newSn) })
	}
}

func open(t *testing.T, newSn New) (layer.Snapshotter, string) {
	root := t.TempDir()
	sn := newSn(t, root)
	t.Cleanup(func() { sn.Close() })
	return sn, root
}

// commitLayer prepares key on parent, applies the tar and commits it as name.
func commitLayer(t *testing.T, sn layer.Snapshotter, name, parent string, tarData []byte) {
	t.Helper()
	ctx := context.Background()
	key := "extract-" + name
	mounts, err := sn.Prepare(ctx, key, parent)
	if err != nil {
		t.Fatalf("prepare %s: %v", key, err)
	}
	if err := layer.Apply(ctx, mounts, bytes.NewReader(tarData)); err != nil {
		t.Fatalf("apply %s: %v", name, err)
	}
	if err := sn.Commit(ctx, name, key); err != nil {
		t.Fatalf("commit %s: %v", name, err)
	}
}

// mountAt mounts the mounts on a fresh directory, unmounted at cleanup.
func mountAt(t *testing.T, mounts []layer.Mount) string {
	t.Helper()
	target := t.TempDir()
	if err := layer.MountAll(mounts, target); err != nil {
		t.Fatalf("mount: %v", err)
	}
	t.Cleanup(func() {
		if err := layer.Unmount(target); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return target
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel != "." {
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

func testLifecycle(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "base", "", Tar(t,
		Entry{Name: "etc/"},
		Entry{Name: "etc/hostname", Body: "base\n"},
		Entry{Name: "bin/"},
		Entry{Name: "bin/sh", Body: "#!fake", Mode: 0o755},
		Entry{Name: "bin/ls", Type: tar.TypeSymlink, Linkname: "sh"},
	))
	info, err := sn.Stat(ctx, "base")
	if err != nil || info.Kind != layer.KindCommitted || info.Parent != "" {
		t.Fatalf("stat base: %+v %v", info, err)
	}
	if _, err := sn.Stat(ctx, "extract-base"); !errdefs.IsNotFound(err) {
		t.Fatalf("active key still there after commit: %v", err)
	}

	mounts, err := sn.Prepare(ctx, "rw", "base")
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, mounts)
	if got := readFile(t, filepath.Join(root, "etc/hostname")); got != "base\n" {
		t.Fatalf("hostname = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(root, "bin/sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("bin/sh: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(root, "bin/ls")); l != "sh" {
		t.Fatalf("bin/ls -> %q", l)
	}
	// Writes land in the active snapshot only.
	if err := os.WriteFile(filepath.Join(root, "etc/hostname"), []byte("rw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := sn.Mounts(ctx, "rw")
	if err != nil || len(again) != len(mounts) {
		t.Fatalf("Mounts: %v %v", again, err)
	}
	other, err := sn.View(ctx, "view", "base")
	if err != nil {
		t.Fatal(err)
	}
	vroot := mountAt(t, other)
	if got := readFile(t, filepath.Join(vroot, "etc/hostname")); got != "base\n" {
		t.Fatalf("committed layer changed by a writer above it: %q", got)
	}
}

func testWhiteouts(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "l1", "", Tar(t,
		Entry{Name: "a"}, Entry{Name: "keep", Body: "k"},
		Entry{Name: "dir/"}, Entry{Name: "dir/old1"}, Entry{Name: "dir/old2"},
	))
	commitLayer(t, sn, "l2", "l1", Tar(t,
		Entry{Name: ".wh.a"},
		Entry{Name: "dir/"}, Entry{Name: "dir/.wh..wh..opq"}, Entry{Name: "dir/new", Body: "n"},
	))
	mounts, err := sn.Prepare(ctx, "rw", "l2")
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, mounts)
	got := strings.Join(listDir(t, root), " ")
	if want := "dir dir/new keep"; got != want {
		t.Fatalf("merged tree = %q, want %q", got, want)
	}
	// A whiteout of a path the parent lacks hides nothing and is harmless.
	commitLayer(t, sn, "l3", "l2", Tar(t, Entry{Name: ".wh.never-existed"}))
}

func testRemoveRules(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "p", "", Tar(t, Entry{Name: "f"}))
	if _, err := sn.Prepare(ctx, "c", "p"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Remove(ctx, "p"); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("removing a parent: %v, want failed precondition", err)
	}
	if err := sn.Remove(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Remove(ctx, "c"); !errdefs.IsNotFound(err) {
		t.Fatalf("second remove: %v, want not found", err)
	}
	if err := sn.Remove(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "x", "missing"); !errdefs.IsNotFound(err) {
		t.Fatalf("prepare on missing parent: %v", err)
	}
	if _, err := sn.Prepare(ctx, "a1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Prepare(ctx, "a2", "a1"); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("prepare on active parent: %v", err)
	}
	if _, err := sn.Prepare(ctx, "a1", ""); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("duplicate key: %v", err)
	}
}

func testCommitRules(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "x", "", Tar(t, Entry{Name: "f"}))
	if _, err := sn.Prepare(ctx, "again", ""); err != nil {
		t.Fatal(err)
	}
	if err := sn.Commit(ctx, "x", "again"); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("commit onto existing name: %v", err)
	}
	if _, err := sn.Stat(ctx, "again"); err != nil {
		t.Fatalf("active snapshot lost after failed commit: %v", err)
	}
	if err := sn.Commit(ctx, "y", "x"); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("committing a committed snapshot: %v", err)
	}
	if err := sn.Commit(ctx, "z", "absent"); !errdefs.IsNotFound(err) {
		t.Fatalf("committing an absent key: %v", err)
	}
	if err := sn.Commit(ctx, "labelled", "again", layer.WithLabels(map[string]string{"k": "v"})); err != nil {
		t.Fatal(err)
	}
	info, _ := sn.Stat(ctx, "labelled")
	if info.Labels["k"] != "v" {
		t.Fatalf("labels = %v", info.Labels)
	}
}

func testUsage(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "u", "", Tar(t,
		Entry{Name: "d/"},
		Entry{Name: "d/ten", Body: "0123456789"},
		Entry{Name: "d/five", Body: "01234"},
		Entry{Name: "d/hard", Type: tar.TypeLink, Linkname: "d/ten"},
	))
	u, err := sn.Usage(ctx, "u")
	if err != nil || u.Size != 15 {
		t.Fatalf("usage = %+v %v, want 15 bytes (hard link counted once)", u, err)
	}
	mounts, err := sn.Prepare(ctx, "rw", "u")
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, mounts)
	if err := os.WriteFile(filepath.Join(root, "big"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err = sn.Usage(ctx, "rw")
	if err != nil || u.Size != 1000 {
		t.Fatalf("active usage = %+v %v, want 1000", u, err)
	}
}

func testDiff(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "b", "", Tar(t, Entry{Name: "gone", Body: "x"}, Entry{Name: "stay", Body: "y"}))
	mounts, err := sn.Prepare(ctx, "rw", "b")
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, mounts)
	if err := os.Remove(filepath.Join(root, "gone")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "new"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Diff(ctx, mounts)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	if got := strings.Join(names, " "); got != ".wh.gone new" {
		t.Fatalf("diff entries = %q, want \".wh.gone new\"", got)
	}
}

func testView(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	commitLayer(t, sn, "v1", "", Tar(t, Entry{Name: "one", Body: "1"}))
	commitLayer(t, sn, "v2", "v1", Tar(t, Entry{Name: "two", Body: "2"}))
	for _, parent := range []string{"v1", "v2"} {
		mounts, err := sn.View(ctx, "view-"+parent, parent)
		if err != nil {
			t.Fatal(err)
		}
		root := mountAt(t, mounts)
		if readFile(t, filepath.Join(root, "one")) != "1" {
			t.Fatalf("view of %s misses its base layer", parent)
		}
		if err := os.WriteFile(filepath.Join(root, "w"), nil, 0o644); err == nil {
			t.Fatalf("view of %s is writable", parent)
		}
		if err := layer.Apply(ctx, mounts, bytes.NewReader(Tar(t, Entry{Name: "x"}))); err == nil {
			t.Fatalf("apply into a view of %s succeeded", parent)
		}
	}
}

func testReopen(t *testing.T, newSn New) {
	ctx := context.Background()
	root := t.TempDir()
	sn := newSn(t, root)
	commitLayer(t, sn, "kept", "", Tar(t, Entry{Name: "f", Body: "kept"}))
	if _, err := sn.Prepare(ctx, "rw", "kept"); err != nil {
		t.Fatal(err)
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	sn = newSn(t, root)
	t.Cleanup(func() { sn.Close() })
	info, err := sn.Stat(ctx, "rw")
	if err != nil || info.Parent != "kept" || info.Kind != layer.KindActive {
		t.Fatalf("after reopen: %+v %v", info, err)
	}
	mounts, err := sn.Mounts(ctx, "rw")
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(mountAt(t, mounts), "f")); got != "kept" {
		t.Fatalf("f = %q", got)
	}
}

// testDeepChain stacks more layers than fit in one page of absolute
// overlay options.
func testDeepChain(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	const depth = 130
	parent := ""
	for i := 0; i < depth; i++ {
		name := fmt.Sprintf("sha256:%064d", i)
		commitLayer(t, sn, name, parent, Tar(t, Entry{Name: fmt.Sprintf("f%03d", i), Body: fmt.Sprint(i)}))
		parent = name
	}
	mounts, err := sn.Prepare(ctx, "rw", parent)
	if err != nil {
		t.Fatal(err)
	}
	root := mountAt(t, mounts)
	if got := readFile(t, filepath.Join(root, "f000")); got != "0" {
		t.Fatalf("bottom layer = %q", got)
	}
	if got := readFile(t, filepath.Join(root, fmt.Sprintf("f%03d", depth-1))); got != fmt.Sprint(depth-1) {
		t.Fatalf("top layer = %q", got)
	}
}

// testMaliciousTars feeds tars that try to write outside the layer. Each
// must fail or stay inside; nothing may appear outside.
func testMaliciousTars(t *testing.T, newSn New) {
	ctx := context.Background()
	sn, _ := open(t, newSn)
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	cases := []struct {
		name    string
		tar     []byte
		mustErr bool
	}{
		{"dotdot", Tar(t, Entry{Name: "../../../../../../../.." + victim, Body: "pwned"}), true},
		{"dotdot-inner", Tar(t, Entry{Name: "a/../../victim", Body: "pwned"}), true},
		{"absolute", Tar(t, Entry{Name: victim, Body: "pwned"}), false},
		{"symlink-abs", Tar(t,
			Entry{Name: "link", Type: tar.TypeSymlink, Linkname: outside},
			Entry{Name: "link/victim", Body: "pwned"}), false},
		{"symlink-rel", Tar(t,
			Entry{Name: "link", Type: tar.TypeSymlink, Linkname: "../../../../../../../../../.." + outside},
			Entry{Name: "link/victim", Body: "pwned"}), true},
		{"hardlink-out", Tar(t,
			Entry{Name: "h", Type: tar.TypeLink, Linkname: "../../../../../../../../etc/passwd"}), true},
		{"hardlink-abs", Tar(t,
			Entry{Name: "h", Type: tar.TypeLink, Linkname: "/etc/passwd"}), true},
		{"symlink-dir-chain", Tar(t,
			Entry{Name: "d1", Type: tar.TypeSymlink, Linkname: "."},
			Entry{Name: "d2", Type: tar.TypeSymlink, Linkname: "d1/../.."},
			Entry{Name: "d2/victim", Body: "pwned"}), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "evil-" + c.name
			mounts, err := sn.Prepare(ctx, key, "")
			if err != nil {
				t.Fatal(err)
			}
			defer sn.Remove(ctx, key)
			err = layer.Apply(ctx, mounts, bytes.NewReader(c.tar))
			if c.mustErr && err == nil {
				t.Errorf("malicious tar accepted")
			}
			if _, serr := os.Lstat(victim); serr == nil {
				t.Fatalf("tar wrote outside the layer (apply err %v)", err)
			}
			if b, _ := os.ReadFile("/etc/passwd"); strings.Contains(string(b), "pwned") {
				t.Fatal("/etc/passwd touched")
			}
		})
	}
}
