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

// unpackLayer writes the layer tar r into the calling thread's root
// directory: the layer, chrooted into, with umask 0 (see untarChrooted).
// It does what go-archive's Unpack does with overlay whiteouts, entry for
// entry (an existing entry is replaced unless both are directories,
// missing parents are made 0755, ".wh.name" becomes a 0/0 character
// device and ".wh..wh..opq" the opaque xattr of its directory, owners,
// modes, extended attributes and times as the tar says, directories'
// times last, a parent that a relative symlink leads above the root is
// refused), with plain path calls: the chroot confines every path and
// symlink to the layer, so go-archive's per-component walk through
// os.Root (about 90 system calls an entry, measured) is not needed, and
// a file costs 6 (see BenchmarkApply).
func unpackLayer(r io.Reader) error {
	u := unpacker{tr: tar.NewReader(r), buf: make([]byte, 256<<10), known: map[string]bool{"/": true}}
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
		name := path.Clean(strings.TrimLeft(hdr.Name, "/"))
		if name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("invalid entry name %q", hdr.Name)
		}
		if err := u.entry(hdr, "/"+name); err != nil {
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

type unpacker struct {
	tr   *tar.Reader
	buf  []byte
	dirs []dirTimes // set once their content is in
	// known are directories this unpack made or met, reached through
	// directories only: entries in them need no resolution.
	known map[string]bool
}

type dirTimes struct {
	path         string
	atime, mtime time.Time
}

// entry writes one entry at p (absolute, clean).
func (u *unpacker) entry(hdr *tar.Header, p string) error {
	dir, err := u.resolveDir(path.Dir(p))
	if err != nil {
		return err
	}
	base := path.Base(p)
	p = path.Join(dir, base)
	if orig, ok := strings.CutPrefix(base, whiteoutPrefix); ok {
		return u.whiteout(hdr, dir, orig)
	}
	var target string
	if hdr.Typeflag == tar.TypeLink {
		if target, err = u.linkTarget(hdr.Linkname); err != nil {
			return err
		}
	}
	fd, err := create(hdr, p, target)
	if errors.Is(err, unix.EEXIST) {
		// Replaced, unless a directory meets a directory: then merged.
		fi, lerr := os.Lstat(p)
		if lerr != nil {
			return lerr
		}
		if fi.IsDir() && hdr.Typeflag == tar.TypeDir {
			err = nil
		} else {
			if err := u.removeAll(p); err != nil {
				return err
			}
			fd, err = create(hdr, p, target)
		}
	}
	if errors.Is(err, unix.ENOENT) {
		// A parent the tar did not list (or a hard link's missing
		// target, which stays an error).
		made, merr := u.impliedDirs(dir)
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
	if hdr.Typeflag == tar.TypeDir && u.known[dir] {
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

// resolveDir resolves d, the directory of an entry, as go-archive
// resolves it: symlinks followed, an absolute one from the layer's root;
// one whose target climbs above the root (relative, before any absolute
// one) is refused, though the chroot would keep it inside. A missing
// component ends the resolution, the rest kept as it is, to be made.
// Directories already known take no system call.
func (u *unpacker) resolveDir(d string) (string, error) {
	if u.known[d] {
		return d, nil
	}
	out, todo := "/", d
	links, absolute := 0, false
	for todo != "" {
		var part string
		part, todo, _ = strings.Cut(strings.TrimLeft(todo, "/"), "/")
		switch part {
		case "", ".":
			continue
		case "..":
			if out == "/" {
				if !absolute {
					return "", fmt.Errorf("invalid entry in %q: a symlink leads out of the layer", d)
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
			out = next // a directory, or not: then the entry fails
			continue
		}
		if links++; links > maxSymlinks {
			return "", &os.PathError{Op: "resolve", Path: d, Err: unix.ELOOP}
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

// linkTarget is a hard link's target in the layer: relative to its
// root, absolute ones too (some builders write them so), its directory
// resolved as an entry's, never out of the layer.
func (u *unpacker) linkTarget(name string) (string, error) {
	clean := path.Clean(strings.TrimLeft(name, "/"))
	if clean == "." || !filepath.IsLocal(clean) {
		return "", fmt.Errorf("invalid hardlink target %q", name)
	}
	dir, err := u.resolveDir(path.Dir("/" + clean))
	if err != nil {
		return "", err
	}
	return path.Join(dir, path.Base(clean)), nil
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
	if err := unix.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
		return &os.PathError{Op: "lchown", Path: p, Err: err}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		if err := unix.Lsetxattr(p, attr, []byte(v), 0); err != nil {
			if errors.Is(err, syscall.EPERM) {
				// As go-archive: not allowed here (a user namespace's
				// limits), not the layer's fault.
				slog.Warn("layer: ignored an extended attribute", "path", p, "xattr", attr, "err", err)
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
