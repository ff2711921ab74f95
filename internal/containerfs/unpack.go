package containerfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// unpackOptions are Extract's.
type unpackOptions struct {
	noOverwriteDirNonDir bool
	// owner, when set, owns every entry instead of the tar's owners.
	owner *[2]int
}

// unpack writes the entries of the tar r under dir. It runs on the
// view's thread, whose root is the container's: every path resolves
// inside the container as the kernel resolves it for the container's
// processes, so symlinks (in the tar or already there) cannot lead out,
// and the plain path calls below need none of the per-component checks
// an extraction on the host needs (go-archive's os.Root walk costs about
// 30 syscalls per file). Entry names and hard link targets are taken
// relative to dir and refused when they leave it ("../x"); an entry
// naming dir itself is skipped, as Docker skips it.
func unpack(r io.Reader, dir string, o unpackOptions) error {
	tr := tar.NewReader(r)
	buf := make([]byte, 256<<10)
	type dirTimes struct {
		path         string
		atime, mtime time.Time
	}
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
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
		p := filepath.Join(dir, name)
		isDir := hdr.Typeflag == tar.TypeDir
		if fi, err := os.Lstat(p); err == nil {
			switch {
			case o.noOverwriteDirNonDir && fi.IsDir() && !isDir:
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot overwrite directory %q with non-directory %q", p, hdr.Name))
			case o.noOverwriteDirNonDir && !fi.IsDir() && isDir:
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot overwrite non-directory %q with directory %q", p, hdr.Name))
			case !(fi.IsDir() && isDir):
				if err := os.RemoveAll(p); err != nil {
					return err
				}
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		// Missing parents are made; a parent that is there, a symlink
		// too, is used as it is (a dangling one then fails the entry).
		if parent := filepath.Dir(p); !exists(parent) {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return err
			}
		}
		if err := createEntry(tr, hdr, dir, p, buf); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeLink {
			continue // the target's metadata is the link's
		}
		if err := setMetadata(hdr, p, o.owner); err != nil {
			return err
		}
		if isDir {
			// Set once its content is in, which changes its mtime.
			dirs = append(dirs, dirTimes{p, hdr.AccessTime, hdr.ModTime})
			continue
		}
		if err := setTimes(p, hdr.AccessTime, hdr.ModTime); err != nil {
			return err
		}
	}
	for _, d := range dirs {
		if err := setTimes(d.path, d.atime, d.mtime); err != nil {
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

func createEntry(tr *tar.Reader, hdr *tar.Header, dir, p string, buf []byte) error {
	perm := uint32(hdr.Mode) & 0o7777
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := unix.Mkdir(p, perm); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: p, Err: err}
		}
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old tars still have TypeRegA
		// O_EXCL: what is created is a new file, never what a symlink
		// put there meanwhile points to.
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(f, tr, buf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := underDir(hdr.Linkname, "hard link target")
		if err != nil {
			return err
		}
		if err := os.Link(filepath.Join(dir, target), p); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		// As Docker: the container may hold device nodes (its device
		// cgroup decides what it may open).
		mode := perm
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(p, mode, int(dev)); err != nil {
			return &os.PathError{Op: "mknod", Path: p, Err: err}
		}
	default:
		slog.Warn("copy into container: skipping an entry of unknown type", "name", hdr.Name, "type", hdr.Typeflag)
		return nil
	}
	return nil
}

// setMetadata gives p the entry's owner (or owner), mode and extended
// attributes. The owner goes first: chown clears setuid bits.
func setMetadata(hdr *tar.Header, p string, owner *[2]int) error {
	uid, gid := hdr.Uid, hdr.Gid
	if owner != nil {
		uid, gid = owner[0], owner[1]
	}
	if err := unix.Lchown(p, uid, gid); err != nil {
		return &os.PathError{Op: "lchown", Path: p, Err: err}
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	}
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		// As Docker: a filesystem without extended attributes (or one
		// refusing this one) does not fail the copy.
		if err := unix.Lsetxattr(p, attr, []byte(v), 0); err != nil &&
			!errors.Is(err, syscall.ENOTSUP) && !errors.Is(err, syscall.EPERM) {
			return &os.PathError{Op: "lsetxattr " + attr, Path: p, Err: err}
		}
	}
	return nil
}

func setTimes(p string, atime, mtime time.Time) error {
	if atime.Before(mtime) {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: p, Err: err}
	}
	return nil
}

// timespec is t for utimensat; a time before 1970 (a tar without one)
// is the epoch, as in go-archive.
func timespec(t time.Time) unix.Timespec {
	if t.Before(time.Unix(0, 0)) {
		t = time.Unix(0, 0)
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
