package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
)

// A volume mounted with a subpath (--mount ...,volume-subpath=a/b) shows
// only that directory or file of the volume. Containers write in volumes,
// so the subpath is not trusted as a path: it is opened inside the
// volume (symlinks resolve as if the volume were /, so none leads out),
// and the very inode found is bind-mounted on a private pin under the
// exec root, which the runtime or the view then mounts. Swapping a
// component for a symlink after the check cannot redirect the mount.
// A pin is needed until the runtime has made its mount (the start) or
// for as long as the view lives.

// pinSubpath pins sub of the volume at root; unpin takes the pin away.
func (s *Service) pinSubpath(root, sub string) (pin string, unpin func(), err error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootFd)
	fd, err := inroot.Openat2(rootFd, sub, unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
	if err != nil {
		return "", nil, fmt.Errorf("cannot access path %s: %w", filepath.Join(root, sub), err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", nil, err
	}
	dir := filepath.Join(s.cfg.ExecRoot, "subpaths")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, err
	}
	pin = filepath.Join(dir, newID())
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(pin, 0o700)
	} else {
		err = os.WriteFile(pin, nil, 0o600)
	}
	if err != nil {
		return "", nil, err
	}
	if err := unix.Mount("/proc/self/fd/"+strconv.Itoa(fd), pin, "", unix.MS_BIND, ""); err != nil {
		os.Remove(pin)
		return "", nil, fmt.Errorf("pin subpath %s of %s: %w", sub, root, err)
	}
	return pin, func() {
		_ = unix.Unmount(pin, unix.MNT_DETACH)
		_ = os.Remove(pin)
	}, nil
}
