package files

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// runApp starts a busybox container named after the test that sleeps,
// with extra run flags before the image.
func runApp(t *testing.T, e *e2e.Engine, c e2e.CLI, flags ...string) string {
	t.Helper()
	name := e.Name(t)
	args := append([]string{"run", "-d", "--name", name}, flags...)
	c.Run(t, append(args, "busybox", "sleep", "100000")...).OK(t)
	return name
}

// sh runs a shell command in the container and returns its output.
func sh(t *testing.T, c e2e.CLI, name, script string) string {
	t.Helper()
	return c.Run(t, "exec", name, "sh", "-c", script).OK(t).Stdout
}

// tarEntry is one entry of a tar read back.
type tarEntry struct {
	typ      byte
	body     string
	link     string
	uid, gid int
}

func readTar(t *testing.T, data string) (map[string]tarEntry, []string) {
	t.Helper()
	entries := map[string]tarEntry{}
	var names []string
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, names
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries[h.Name] = tarEntry{typ: h.Typeflag, body: string(body), link: h.Linkname, uid: h.Uid, gid: h.Gid}
		names = append(names, h.Name)
	}
}

// tarEntrySpec describes an entry of a crafted tar: a file with body, a
// directory (name ends in "/"), a symlink (link), or a hard link
// ("hard:" + target).
type tarEntrySpec struct{ name, body, link string }

func mkTar(t *testing.T, entries ...tarEntrySpec) []byte {
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
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

// hostFile makes a file on the host (in a directory of its own) for cp,
// and returns its path.
func hostFile(t *testing.T, name, body string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{name: body})
	return filepath.Join(dir, name)
}

// writeTree makes files (path → body; a path ending in "/" is a
// directory) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// listTree lists the files and directories under dir, relative, sorted;
// directories end in "/".
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if fi.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// isMountPoint reports whether something is mounted on p, in the test's
// mount namespace (the host's, as the engines').
func isMountPoint(t *testing.T, p string) bool {
	t.Helper()
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, 0, &st); err != nil {
		t.Fatal(err)
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		t.Skip("the kernel does not tell mount points (STATX_ATTR_MOUNT_ROOT)")
	}
	return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
