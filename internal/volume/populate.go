package volume

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
)

// Populate copies what the container's image has at dest into an empty
// volume, as Docker does when a volume is first mounted over image
// content (unless nocopy). rootfs is the container's root filesystem,
// mounted, with no process running in it yet. A volume that holds
// anything already, and a dest the image does not have or that is not
// a directory, are left alone.
//
// dest is resolved inside rootfs as if rootfs were "/" (the kernel's
// RESOLVE_IN_ROOT): an image whose /data is a symlink to "/" or to
// "../../.." gives its own root, never the host's. Below dest, symlinks
// are copied as symlinks and never followed.
func (s *Service) Populate(ctx context.Context, name, rootfs, dest string) error {
	s.mu.Lock()
	v, ok := s.vols[name]
	if !ok {
		s.mu.Unlock()
		return notFound(name)
	}
	user := "populate-" + newName()
	path, err := s.acquire(v, user)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		s.mu.Lock()
		s.release(v, user)
		s.mu.Unlock()
	}()
	// Two containers created at once with the same new volume copy one
	// after the other; the second finds it populated.
	v.populating.Lock()
	defer v.populating.Unlock()
	if err := copyImagePath(rootfs, dest, path); err != nil {
		return fmt.Errorf("copying image data from %s to volume %s: %w", dest, name, err)
	}
	return nil
}

// copyImagePath copies rootfs's dest into the empty directory dst.
func copyImagePath(rootfs, dest, dst string) error {
	empty, err := isEmptyDir(dst)
	if err != nil || !empty {
		return err
	}
	src, err := openDirInRoot(rootfs, dest)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer src.Close()
	c := copier{links: map[inode]string{}}
	return c.dir(src, dst)
}

func isEmptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return len(names) == 0, err
}

// openDirInRoot opens the directory name inside root, resolving every
// symlink on the way within root.
func openDirInRoot(root, name string) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the container's root filesystem: %w", err)
	}
	defer unix.Close(rootFd)
	fd, err := inroot.Openat2(rootFd, name, unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC})
	if errors.Is(err, unix.ENOSYS) {
		return nil, errors.New("the kernel lacks openat2 (Linux 5.6), needed to resolve paths inside a container safely")
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

type inode struct{ dev, ino uint64 }

// copier copies a tree with its owners, modes, times and extended
// attributes, keeping hard links, as Docker's volume copy does.
type copier struct {
	links map[inode]string // first copy of each multiply linked file
}

// dir copies the contents of the open directory src into the existing
// directory dst, then src's own metadata onto dst. Every entry is
// opened relative to its parent's descriptor without following
// symlinks, so nothing outside src is ever read.
func (c *copier) dir(src *os.File, dst string) error {
	fd := int(src.Fd())
	names, err := src.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "stat", Path: name, Err: err}
		}
		target := filepath.Join(dst, name)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			cfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return &os.PathError{Op: "open", Path: name, Err: err}
			}
			child := os.NewFile(uintptr(cfd), name)
			if err := os.Mkdir(target, 0o700); err != nil {
				child.Close()
				return err
			}
			err = c.dir(child, target)
			child.Close()
			if err != nil {
				return err
			}
			continue // dir set its own metadata
		case unix.S_IFREG:
			key := inode{uint64(st.Dev), st.Ino}
			if st.Nlink > 1 {
				if first, ok := c.links[key]; ok {
					if err := os.Link(first, target); err != nil {
						return err
					}
					continue
				}
				c.links[key] = target
			}
			if err := copyFile(fd, name, target); err != nil {
				return err
			}
		case unix.S_IFLNK:
			link, err := readlinkat(fd, name)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return &os.PathError{Op: "mknod", Path: target, Err: err}
			}
		default: // sockets belong to the process that made them
			continue
		}
		if err := copyMetadata(procPath(fd, name), target, &st); err != nil {
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	return copyMetadata(procPath(fd, ""), dst, &st)
}

// procPath names an entry of an open directory without resolving the
// path again: /proc/self/fd/N/name, where only name (one component, not
// followed by the L* calls) is looked up.
func procPath(dirFd int, name string) string {
	p := "/proc/self/fd/" + strconv.Itoa(dirFd)
	if name != "" {
		p += "/" + name
	}
	return p
}

func copyFile(dirFd int, name, target string) error {
	fd, err := unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: name, Err: err}
	}
	in := os.NewFile(uintptr(fd), name)
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func readlinkat(dirFd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirFd, name, buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: name, Err: err}
	}
	return string(buf[:n]), nil
}

// copyMetadata gives target the owner, mode, extended attributes and
// times of src (st), never following a symlink at either end.
func copyMetadata(src, target string, st *unix.Stat_t) error {
	if err := unix.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
		return &os.PathError{Op: "lchown", Path: target, Err: err}
	}
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !isLink {
		// After chown, which clears setuid and setgid bits.
		if err := unix.Chmod(target, st.Mode&07777); err != nil {
			return &os.PathError{Op: "chmod", Path: target, Err: err}
		}
	}
	if err := copyXattrs(src, target); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: target, Err: err}
	}
	return nil
}

func copyXattrs(src, target string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size == 0 {
		if err == nil || errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return &os.PathError{Op: "listxattr", Path: src, Err: err}
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return &os.PathError{Op: "listxattr", Path: src, Err: err}
	}
	for _, attr := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if attr == "" {
			continue
		}
		n, err := unix.Lgetxattr(src, attr, nil)
		if err != nil {
			continue // gone meanwhile, or not readable by this namespace
		}
		val := make([]byte, n)
		if n, err = unix.Lgetxattr(src, attr, val); err != nil {
			continue
		}
		if err := unix.Lsetxattr(target, attr, val[:n], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return &os.PathError{Op: "setxattr " + attr, Path: target, Err: err}
		}
	}
	return nil
}
