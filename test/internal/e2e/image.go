package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// Image is the test image's reference.
const Image = "busybox:latest"

var (
	tarOnce sync.Once
	tarData []byte
	tarErr  error
)

// BusyboxTar is a root filesystem tar of the static busybox (/bin/busybox
// from Debian's busybox-static, or E2E_BUSYBOX) with every applet as a
// symlink to /bin/busybox, a minimal /etc (root and nobody), and
// /var/www/index.html for httpd. It is what `busybox --install -s` gives
// inside a root, built without running anything in a chroot.
func BusyboxTar() ([]byte, error) {
	tarOnce.Do(func() { tarData, tarErr = buildBusyboxTar() })
	return tarData, tarErr
}

// IndexHTML is the body httpd serves from /var/www in the test image.
const IndexHTML = "hello from the e2e busybox image\n"

func buildBusyboxTar() ([]byte, error) {
	bb := os.Getenv("E2E_BUSYBOX")
	if bb == "" {
		bb = "/bin/busybox"
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return nil, fmt.Errorf("test image needs a static busybox (Debian busybox-static): %w", err)
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bb, err)
	}
	links := strings.Fields(string(out))
	sort.Strings(links)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	dirs := map[string]bool{}
	dir := func(name string, mode int64) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "home", "var", "var/www", "proc", "sys", "dev"} {
		if err := dir(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return nil, err
	}
	if err := file("bin/busybox", 0o755, bin); err != nil {
		return nil, err
	}
	for _, l := range links {
		l = strings.TrimPrefix(l, "/")
		if l == "bin/busybox" {
			continue
		}
		if err := dir(path.Dir(l), 0o755); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: l, Linkname: "/bin/busybox", Mode: 0o777, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name, data string
	}{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"var/www/index.html", IndexHTML},
	}
	for _, f := range files {
		if err := file(f.name, 0o644, []byte(f.data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ImportBusybox imports the test image as busybox:latest through the stock
// docker CLI (`docker import - busybox:latest`), as a user would.
func (e *Engine) ImportBusybox(ctx context.Context) error {
	data, err := BusyboxTar()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	r := e.Docker().run(ctx, bytes.NewReader(data), "import", "-", Image)
	if r.Code != 0 {
		return fmt.Errorf("%s", r)
	}
	return nil
}
