package volume_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	volumetypes "github.com/moby/moby/api/types/volume"
)

// rootfs is a container root with /data (a file, a symlink, a hard link,
// a private subdirectory, a FIFO) and symlinks that point out of it:
// /escape ("../../..<host>"), /abs ("<host>"), and /inner ("/data",
// absolute but meant inside the root). host holds "secret".
func rootfs(t *testing.T) (root, host string) {
	t.Helper()
	root, host = t.TempDir(), t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o600))
	data := filepath.Join(root, "data")
	must(os.MkdirAll(filepath.Join(data, "sub"), 0o700))
	must(os.WriteFile(filepath.Join(data, "f"), []byte("image data"), 0o640))
	must(os.Link(filepath.Join(data, "f"), filepath.Join(data, "hard")))
	must(os.Symlink("f", filepath.Join(data, "link")))
	must(os.Symlink(host, filepath.Join(data, "hostlink")))
	must(os.WriteFile(filepath.Join(data, "sub", "nested"), []byte("n"), 0o644))
	must(syscall.Mkfifo(filepath.Join(data, "fifo"), 0o600))
	must(os.Symlink("../../../../../../../.."+host, filepath.Join(root, "escape")))
	must(os.Symlink(host, filepath.Join(root, "abs")))
	must(os.Symlink("/data", filepath.Join(root, "inner")))
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(data, "f"), 1000, 1001))
		must(os.Chown(filepath.Join(data, "sub"), 33, 33))
	}
	return root, host
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel+" "+info.Mode().String())
		return nil
	})
	return out
}

func TestPopulate(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, t.TempDir())
	root, host := rootfs(t)
	hostBefore := listTree(t, host)

	populate := func(name, dest string) string {
		t.Helper()
		v, err := s.Create(ctx, volumetypes.CreateRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Populate(ctx, name, root, dest); err != nil {
			t.Fatalf("populate %s from %s: %v", name, dest, err)
		}
		return v.Mountpoint
	}

	want := listTree(t, filepath.Join(root, "data"))
	for _, dest := range []string{"/data", "/inner", "/data/sub/../../inner/"} {
		name := "v" + string(rune('a'+len(dest)))
		got := populate(name, dest)
		if tree := listTree(t, got); !slices.Equal(tree, want) {
			t.Errorf("%s copied:\n%v\nwant:\n%v", dest, tree, want)
		}
		if b, err := os.ReadFile(filepath.Join(got, "link")); err != nil || string(b) != "image data" {
			t.Errorf("%s: link: %q %v", dest, b, err)
		}
		if l, err := os.Readlink(filepath.Join(got, "hostlink")); err != nil || l != host {
			t.Errorf("%s: symlinks are copied, not followed: %q %v", dest, l, err)
		}
		var a, b syscall.Stat_t
		syscall.Stat(filepath.Join(got, "f"), &a)
		syscall.Stat(filepath.Join(got, "hard"), &b)
		if a.Ino != b.Ino || a.Nlink != 2 {
			t.Errorf("%s: hard link not kept: %d/%d nlink %d", dest, a.Ino, b.Ino, a.Nlink)
		}
		if os.Geteuid() == 0 && (a.Uid != 1000 || a.Gid != 1001) {
			t.Errorf("%s: owner %d:%d, want 1000:1001", dest, a.Uid, a.Gid)
		}
	}

	// Symlinks out of the root resolve inside it, where nothing is.
	for _, dest := range []string{"/escape", "/abs", "/missing", "/data/f"} {
		got := populate("x"+string(rune('a'+len(dest))), dest)
		if entries, _ := os.ReadDir(got); len(entries) != 0 {
			t.Errorf("%s copied %v", dest, entries)
		}
	}
	if after := listTree(t, host); !slices.Equal(after, hostBefore) {
		t.Errorf("host dir changed: %v", after)
	}

	// A volume with data keeps it.
	full := populate("full", "/missing")
	os.WriteFile(filepath.Join(full, "mine"), []byte("mine"), 0o644)
	if err := s.Populate(ctx, "full", root, "/data"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(full); len(entries) != 1 {
		t.Errorf("a volume with data was filled: %v", entries)
	}
}
