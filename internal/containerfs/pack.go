package containerfs

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pack writes a tar of the tree at src (a resolved path, on the view's
// thread) to w. Entries are named after name: name itself for src, then
// name/<path under src>; "/" for the root gives "/" and "/etc", as
// Docker names them. With name "" src itself has no entry and the rest
// are named by their paths under it ("bin/", "bin/sh"), as in docker
// export. Headers are those go-archive writes for docker cp
// (PAX, whole-second mtimes, no user names, hard links as links,
// security.capability kept); symlinks are archived as symlinks.
//
// It is written here rather than with go-archive's Tarballer because
// that one writes every header and 32 KiB of content straight into its
// own pipe: each write would wake the view's locked thread (a context
// switch), about six times the cost of the walk itself (see
// internal/handoff).
//
// A running container may change files meanwhile: entries that vanish
// are skipped, and a file that shrinks is padded to the size its header
// announced, so the tar stays well formed.
func pack(w io.Writer, src, name string) error {
	tw := tar.NewWriter(w)
	a := packer{tw: tw, links: map[uint64]string{}, buf: make([]byte, 256<<10)}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == src {
				return err
			}
			return nil // gone meanwhile, or unreadable: as go-archive, skipped
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if name == "" && rel == "." {
			return nil
		}
		return a.add(p, entryName(name, rel))
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// entryName is the tar name of rel (relative to the archived path) when
// the archived path is named name.
func entryName(name, rel string) string {
	switch {
	case rel == ".":
		return name
	case name == "":
		return rel
	case name == "/":
		return "/" + rel
	}
	return name + "/" + rel
}

type packer struct {
	tw    *tar.Writer
	links map[uint64]string // inode → first name, for hard links
	buf   []byte
}

// noNames is a FileInfo whose owner names are empty: tar.FileInfoHeader
// then looks no user up (the container's /etc/passwd would answer).
type noNames struct{ fs.FileInfo }

func (noNames) Uname() (string, error) { return "", nil }
func (noNames) Gname() (string, error) { return "", nil }

func (a *packer) add(p, name string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil // gone meanwhile
	}
	var link string
	switch {
	case fi.Mode()&os.ModeSocket != 0:
		return nil // tar cannot hold sockets
	case fi.Mode()&os.ModeSymlink != 0:
		if link, err = os.Readlink(p); err != nil {
			return nil
		}
	}
	hdr, err := tar.FileInfoHeader(noNames{fi}, link)
	if err != nil {
		return nil // a type tar cannot hold
	}
	hdr.Format = tar.FormatPAX
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Name = name
	if fi.IsDir() && !strings.HasSuffix(name, "/") {
		hdr.Name += "/"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && st.Nlink > 1 {
		if first, ok := a.links[st.Ino]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
		} else {
			a.links[st.Ino] = hdr.Name
		}
	}
	if capability, err := getxattr(p, "security.capability"); err == nil && len(capability) > 0 {
		hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": string(capability)}
	}
	if hdr.Typeflag != tar.TypeReg {
		return a.tw.WriteHeader(hdr)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil // gone meanwhile
	}
	defer f.Close()
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	n, err := io.CopyBuffer(a.tw, io.LimitReader(f, hdr.Size), a.buf)
	if err != nil {
		return err
	}
	// Shrunk meanwhile: zeros up to the announced size.
	for n < hdr.Size {
		clear(a.buf)
		m, err := a.tw.Write(a.buf[:min(int64(len(a.buf)), hdr.Size-n)])
		if err != nil {
			return err
		}
		n += int64(m)
	}
	return nil
}

func getxattr(p, attr string) ([]byte, error) {
	buf := make([]byte, 128)
	for {
		n, err := unix.Lgetxattr(p, attr, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, len(buf)*2)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
