package busyboxtest

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func needBusybox(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("needs %s (Debian busybox-static)", Binary)
	}
}

func TestTar(t *testing.T) {
	needBusybox(t)
	r := Rootfs{Files: map[string]string{"etc/passwd": "root:x:0:0::/:/bin/sh\n", "var/www/index.html": "hi\n"}}
	a, err := r.Tar()
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Tar()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two tars of the same tree differ")
	}
	seen := map[string]*tar.Header{}
	content := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if parent := filepath.Dir(filepath.Clean(h.Name)); parent != "." && seen[parent+"/"] == nil {
			t.Errorf("%s comes before its directory", h.Name)
		}
		seen[h.Name] = h
		data, _ := io.ReadAll(tr)
		content[h.Name] = string(data)
	}
	if h := seen["bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "/bin/busybox" {
		t.Errorf("bin/sh: %+v", h)
	}
	if h := seen["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/: %+v", h)
	}
	if content["etc/passwd"] != "root:x:0:0::/:/bin/sh\n" || content["etc/group"] != Group || content["var/www/index.html"] != "hi\n" {
		t.Errorf("files: passwd %q group %q index %q", content["etc/passwd"], content["etc/group"], content["var/www/index.html"])
	}
}

func TestWriteDir(t *testing.T) {
	needBusybox(t)
	dir := t.TempDir()
	if err := (Rootfs{Dirs: []string{"home/app"}}).WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q %v", l, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tmp")); err != nil || fi.Mode()&fs.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmp: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "home/app")); err != nil || !fi.IsDir() {
		t.Errorf("home/app: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "etc/passwd")); err != nil || string(b) != Passwd {
		t.Errorf("etc/passwd %q %v", b, err)
	}
	// The copied busybox is the real program.
	out, err := exec.Command(filepath.Join(dir, "bin/busybox"), "echo", "ok").Output()
	if err != nil || string(out) != "ok\n" {
		t.Errorf("bin/busybox echo ok: %q %v", out, err)
	}
}
