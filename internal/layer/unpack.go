package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Whiteouts in layer tars (the AUFS names OCI kept) and their overlay form.
const (
	whiteoutPrefix    = ".wh."
	whiteoutOpaqueDir = ".wh..wh..opq"
	opaqueXattr       = "trusted.overlay.opaque"
	// impliedDirMode is the mode of a directory the tar does not list
	// but whose content it has, as go-archive makes it.
	impliedDirMode = 0o755
)

// UnpackOptions say how Unpack writes a tar.
type UnpackOptions struct {
	// Layer: the tar is an image layer, written by go-archive's rules:
	// ".wh." entries become overlay whiteouts, and a parent that a
	// relative symlink leads above the root is refused. Otherwise (docker
	// cp) ".wh." names are plain names, and symlinks resolve as the
	// kernel resolves them for the container, at its root at most.
	Layer bool
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the reverse.
	NoOverwriteDirNonDir bool
	// Owner, when set, owns every entry instead of the tar's owners.
	Owner *[2]int
}

// Unpack writes the uncompressed tar r into dir, a directory under the
// calling thread's root, which must be the layer's or the container's
// (chrooted into, or a view's mount namespace): every path and symlink
// resolves inside it, so the plain path calls here cannot leave it,
// and none of go-archive's per-component checks through os.Root (about
// 90 system calls an entry, measured) are needed: a file costs 6 (see
// BenchmarkApply). Entry names and hard link targets are relative to
// dir (absolute ones too) and refused when they leave it; the entry
// naming dir itself is skipped.
//
// Entry for entry it does what go-archive's Unpack does: an existing
// entry is replaced unless both are directories; missing parents are
// made 0755; owners, modes, extended attributes (those the filesystem
// refuses are skipped, as Docker skips them) and times are the tar's;
// directories' times are set last.
func Unpack(r io.Reader, dir string, o UnpackOptions) error {
	u := unpacker{tr: tar.NewReader(r), buf: make([]byte, 256<<10), o: o, known: map[string]bool{dir: true}}
	for {
		hdr, err := u.tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := underDir(hdr.Name, "entry name")
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if err := u.entry(hdr, path.Join(dir, name), dir); err != nil {
			return err
		}
	}
	for _, d := range u.dirs {
		if err := setTimes(d.path, d.atime, d.mtime, 0); err != nil {
			return err
		}
	}
	return nil
}

// underDir cleans a name of the tar (entry or hard link target) into a
// path relative to the extraction directory, refusing one that leaves
// it. A leading "/" is dropped: absolute names are relative too.
func underDir(name, what string) (string, error) {
	clean := path.Clean(strings.TrimLeft(name, "/"))
	if clean != "." && !filepath.IsLocal(clean) {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s %q: it leads out of the destination directory", what, name))
	}
	return clean, nil
}

type unpacker struct {
	tr   *tar.Reader
	buf  []byte
	o    UnpackOptions
	dirs []dirTimes // set once their content is in
	// known are directories this unpack made or met, reached through
	// directories only: entries of a layer in them need no resolution.
	known map[string]bool
}

type dirTimes struct {
	path         string
	atime, mtime time.Time
}

// entry writes one entry at p (absolute, clean) under dir.
func (u *unpacker) entry(hdr *tar.Header, p, dir string) error {
	parent, base := path.Dir(p), path.Base(p)
	if u.o.Layer {
		var err error
		if parent, err = u.resolve(parent, true); err != nil {
			return err
		}
		p = path.Join(parent, base)
		if orig, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
			return u.whiteout(hdr, parent, orig)
		}
	}
	var target string
	if hdr.Typeflag == tar.TypeLink {
		rel, err := underDir(hdr.Linkname, "hard link target")
		if err != nil || rel == "." {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid hard link target %q", hdr.Linkname))
		}
		target = path.Join(dir, rel)
		if u.o.Layer {
			td, err := u.resolve(path.Dir(target), true)
			if err != nil {
				return err
			}
			target = path.Join(td, path.Base(target))
		}
	}
	isDir := hdr.Typeflag == tar.TypeDir
	fd, err := create(hdr, p, target)
	if errors.Is(err, unix.EEXIST) {
		// Replaced, unless a directory meets a directory: then merged.
		fi, lerr := os.Lstat(p)
		if lerr != nil {
			return lerr
		}
		switch {
		case u.o.NoOverwriteDirNonDir && fi.IsDir() && !isDir:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot overwrite directory %q with non-directory %q", p, hdr.Name))
		case u.o.NoOverwriteDirNonDir && !fi.IsDir() && isDir:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot overwrite non-directory %q with directory %q", p, hdr.Name))
		case fi.IsDir() && isDir:
			err = nil
		default:
			if err := u.removeAll(p); err != nil {
				return err
			}
			fd, err = create(hdr, p, target)
		}
	}
	if errors.Is(err, unix.ENOENT) {
		// A parent the tar did not list (or a hard link's missing
		// target, which stays an error).
		made, merr := u.impliedDirs(parent)
		if merr != nil {
			return merr
		}
		if made {
			fd, err = create(hdr, p, target)
		}
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: p, Err: err}
	}
	if isDir && u.known[parent] {
		u.known[p] = true
	}
	if fd >= 0 {
		err := u.fill(fd, p)
		if cerr := unix.Close(fd); err == nil && cerr != nil {
			err = &os.PathError{Op: "close", Path: p, Err: cerr}
		}
		if err != nil {
			return err
		}
	}
	return u.metadata(hdr, p)
}

// maxSymlinks bounds a resolution, as the kernel's ELOOP does.
const maxSymlinks = 255

// Resolve evaluates every symlink of p (absolute), the last one too,
// with the calling thread's root as "/", as the kernel resolves paths
// for the processes under that root: "..", absolute symlinks and chains
// of them stay inside it. A missing component ends the evaluation, the
// rest appended as it is, so that a broken link resolves as far as it
// can.
func Resolve(p string) (string, error) {
	return (&unpacker{}).resolve(p, false)
}

// resolve is Resolve; strict, it resolves the directory of a layer's
// entry as go-archive does: a symlink whose target climbs above the
// root (relative, before any absolute one) is refused, though the
// chroot would keep it inside. Directories known to this unpack take no
// system call.
func (u *unpacker) resolve(p string, strict bool) (string, error) {
	if u.known[p] {
		return p, nil
	}
	out, todo := "/", p
	links, absolute := 0, false
	for todo != "" {
		var part string
		part, todo, _ = strings.Cut(strings.TrimLeft(todo, "/"), "/")
		switch part {
		case "", ".":
			continue
		case "..":
			if out == "/" {
				if strict && !absolute {
					return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid entry in %q: a symlink leads out of the layer", p))
				}
				continue
			}
			out = path.Dir(out)
			continue
		}
		next := path.Join(out, part)
		if u.known[next] {
			out = next
			continue
		}
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return path.Join(next, todo), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if fi.IsDir() && u.known[out] {
				u.known[next] = true
			}
			out = next // a directory, or not: then what is under it fails
			continue
		}
		if links++; links > maxSymlinks {
			return "", &os.PathError{Op: "resolve", Path: p, Err: unix.ELOOP}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			out, absolute = "/", true
		}
		todo = target + "/" + todo
	}
	return out, nil
}

// removeAll removes p, an entry the tar replaces, and forgets the
// directories it held.
func (u *unpacker) removeAll(p string) error {
	for d := range u.known {
		if d == p || strings.HasPrefix(d, p+"/") {
			delete(u.known, d)
		}
	}
	return os.RemoveAll(p)
}

// create makes the entry's file at p (a hard link to target), failing
// with EEXIST if something is there; a regular file is returned open
// for writing (otherwise fd is -1).
func create(hdr *tar.Header, p, target string) (fd int, err error) {
	perm := uint32(hdr.Mode) & 0o777 // special bits once owned: see metadata
	switch hdr.Typeflag {
	case tar.TypeDir:
		return -1, unix.Mkdir(p, perm)
	case tar.TypeReg:
		return unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	case tar.TypeBlock, tar.TypeChar, tar.TypeFifo:
		if hdr.Devmajor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor < 0 || hdr.Devminor > math.MaxUint32 {
			return -1, fmt.Errorf("device number %d:%d out of range", hdr.Devmajor, hdr.Devminor)
		}
		mode := uint32(hdr.Mode) & 0o7777
		switch hdr.Typeflag {
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		default:
			mode |= unix.S_IFIFO
		}
		return -1, unix.Mknod(p, mode, int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))))
	case tar.TypeLink:
		return -1, unix.Link(target, p)
	case tar.TypeSymlink:
		return -1, unix.Symlink(hdr.Linkname, p)
	}
	return -1, fmt.Errorf("unhandled tar header type %d", hdr.Typeflag)
}

// fill writes the entry's content into fd.
func (u *unpacker) fill(fd int, p string) error {
	for {
		n, rerr := u.tr.Read(u.buf)
		for off := 0; off < n; {
			m, err := unix.Write(fd, u.buf[off:n])
			if err != nil {
				if errors.Is(err, unix.EINTR) {
					continue
				}
				return &os.PathError{Op: "write", Path: p, Err: err}
			}
			off += m
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// metadata gives p the entry's owner, extended attributes, mode and
// times. The owner goes first: chown clears setuid bits. A hard link's
// inode is its target's; one to a symlink keeps the symlink's mode and
// times, which cannot be set through it.
func (u *unpacker) metadata(hdr *tar.Header, p string) error {
	uid, gid := hdr.Uid, hdr.Gid
	if u.o.Owner != nil {
		uid, gid = u.o.Owner[0], u.o.Owner[1]
	}
	if err := unix.Lchown(p, uid, gid); err != nil {
		return &os.PathError{Op: "lchown", Path: p, Err: err}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Lsetxattr(p, attr, []byte(v), 0); err != nil {
			if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EPERM) {
				// As Docker: a filesystem without extended attributes,
				// or one refusing this one, is not the tar's fault.
				slog.Warn("unpack: skipped an extended attribute", "path", p, "xattr", attr, "err", err)
				continue
			}
			return &os.PathError{Op: "lsetxattr " + attr, Path: p, Err: err}
		}
	}
	atime, mtime := hdr.AccessTime, hdr.ModTime
	if atime.Before(mtime) {
		atime = mtime
	}
	mode := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		return setTimes(p, atime, mtime, unix.AT_SYMLINK_NOFOLLOW)
	case tar.TypeLink:
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := unix.Chmod(p, mode); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
		return setTimes(p, atime, mtime, 0)
	case tar.TypeDir:
		if err := unix.Chmod(p, mode); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
		u.dirs = append(u.dirs, dirTimes{p, atime, mtime})
		return nil
	}
	if err := unix.Chmod(p, mode); err != nil {
		return &os.PathError{Op: "chmod", Path: p, Err: err}
	}
	return setTimes(p, atime, mtime, unix.AT_SYMLINK_NOFOLLOW)
}

// epoch and maxTime bound the times set, as go-archive bounds them: one
// out of range (a tar without times) becomes the epoch.
var (
	epoch   = time.Unix(0, 0)
	maxTime = time.Unix(0, math.MaxInt64)
)

func setTimes(p string, atime, mtime time.Time, flags int) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, flags); err != nil {
		return &os.PathError{Op: "utimes", Path: p, Err: err}
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	if t.Before(epoch) || t.After(maxTime) {
		t = epoch
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// impliedDirs makes the missing directories of dir (resolved), 0755
// and root's, as go-archive does for content whose parents the tar does
// not list; made reports whether it made any.
func (u *unpacker) impliedDirs(dir string) (made bool, err error) {
	if _, err := os.Lstat(dir); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	cur := "/"
	for _, c := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		parent := cur
		cur = path.Join(cur, c)
		err := unix.Mkdir(cur, impliedDirMode)
		switch {
		case err == nil:
			// Whatever the thread's umask.
			if err := unix.Chmod(cur, impliedDirMode); err != nil {
				return made, &os.PathError{Op: "chmod", Path: cur, Err: err}
			}
			made = true
			if u.known[parent] {
				u.known[cur] = true
			}
		case errors.Is(err, unix.EEXIST):
			fi, err := os.Stat(cur)
			if err != nil {
				return made, err
			}
			if !fi.IsDir() {
				return made, &os.PathError{Op: "mkdir", Path: cur, Err: unix.ENOTDIR}
			}
		default:
			return made, &os.PathError{Op: "mkdir", Path: cur, Err: err}
		}
	}
	return made, nil
}

// whiteout turns a whiteout entry in dir into its overlay form: the
// opaque xattr of dir for ".wh..wh..opq", a 0/0 character device named
// orig (owned as the entry) for ".wh.orig".
func (u *unpacker) whiteout(hdr *tar.Header, dir, orig string) error {
	switch orig {
	case "", ".", "..":
		return fmt.Errorf("invalid whiteout entry %q", hdr.Name)
	}
	if _, err := u.impliedDirs(dir); err != nil {
		return err
	}
	if whiteoutPrefix+orig == whiteoutOpaqueDir {
		if err := unix.Setxattr(dir, opaqueXattr, []byte{'y'}, 0); err != nil {
			return &os.PathError{Op: "setxattr " + opaqueXattr, Path: dir, Err: err}
		}
		return nil
	}
	p := path.Join(dir, orig)
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		return &os.PathError{Op: "mknod whiteout", Path: p, Err: err}
	}
	if hdr.Uid != 0 || hdr.Gid != 0 {
		if err := unix.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return &os.PathError{Op: "lchown", Path: p, Err: err}
		}
	}
	return nil
}
