package busyboxtest

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Binary is Debian's static busybox, what the root filesystem is made of
// unless Rootfs.Busybox names another.
const Binary = "/bin/busybox"

// Default /etc files: root, and nobody as Docker's busybox image has it.
const (
	Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
	Group  = "root:x:0:\nnogroup:x:65534:\n"
)

// Rootfs describes a busybox root filesystem; the zero value is the
// default test image.
type Rootfs struct {
	// Busybox is the static busybox to copy; Binary when empty.
	Busybox string
	// Files are regular files (path → content, mode 0644) added to the
	// tree or replacing its defaults, etc/passwd (Passwd) and etc/group
	// (Group). Their parent directories are made as needed.
	Files map[string]string
	// Dirs are extra directories (mode 0755).
	Dirs []string
}

// baseDirs are the directories every tree has, beside tmp (mode 1777)
// and those the applet links and Files need.
var baseDirs = []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "home", "proc", "sys", "dev"}

// mtime is every entry's modification time: equal trees give equal tars,
// so that tests can compare digests of separately built layers.
var mtime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Tar returns the tree as an uncompressed tar, parents before children.
func (r Rootfs) Tar() ([]byte, error) {
	entries, err := r.entries()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Typeflag: e.typ, Name: e.name, Mode: e.mode, Linkname: e.link, Size: int64(len(e.data)), ModTime: mtime}
		if e.typ == tar.TypeDir {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteDir writes the tree into dir, which is created if needed.
func (r Rootfs) WriteDir(dir string) error {
	entries, err := r.entries()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.name)
		switch e.typ {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			err = os.WriteFile(p, e.data, 0o644)
		case tar.TypeSymlink:
			err = os.Symlink(e.link, p)
		}
		if err != nil {
			return err
		}
		if e.typ != tar.TypeSymlink {
			// Explicitly: the umask must not change what the tests see.
			if err := os.Chmod(p, fileMode(e.mode)); err != nil {
				return err
			}
		}
	}
	return nil
}

func fileMode(m int64) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

type entry struct {
	typ  byte // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	name string
	mode int64
	data []byte
	link string
}

func (r Rootfs) entries() ([]entry, error) {
	bb := r.Busybox
	if bb == "" {
		bb = Binary
	}
	bin, err := os.ReadFile(bb)
	if err != nil {
		return nil, fmt.Errorf("the test rootfs needs a static busybox (Debian busybox-static): %w", err)
	}
	out, err := exec.Command(bb, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", bb, err)
	}
	links := strings.Fields(string(out))
	slices.Sort(links)

	var entries []entry
	made := map[string]bool{".": true}
	var dir func(name string, mode int64)
	dir = func(name string, mode int64) {
		if made[name] {
			return
		}
		dir(path.Dir(name), 0o755)
		made[name] = true
		entries = append(entries, entry{typ: tar.TypeDir, name: name, mode: mode})
	}
	for _, d := range append(baseDirs, r.Dirs...) {
		dir(d, 0o755)
	}
	dir("tmp", 0o1777)
	entries = append(entries, entry{typ: tar.TypeReg, name: "bin/busybox", mode: 0o755, data: bin})
	for _, l := range links {
		l = strings.TrimPrefix(l, "/")
		if l == "bin/busybox" {
			continue
		}
		dir(path.Dir(l), 0o755)
		// Absolute: the link points at the rootfs's busybox once the
		// tree is the container's root, whatever the host's layout.
		entries = append(entries, entry{typ: tar.TypeSymlink, name: l, mode: 0o777, link: "/bin/busybox"})
	}
	files := map[string]string{"etc/passwd": Passwd, "etc/group": Group}
	maps.Copy(files, r.Files)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		dir(path.Dir(name), 0o755)
		entries = append(entries, entry{typ: tar.TypeReg, name: name, mode: 0o644, data: []byte(files[name])})
	}
	return entries, nil
}
