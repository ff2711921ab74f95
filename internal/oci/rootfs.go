package oci

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
)

// maxUserFileBytes bounds what is read from a container's /etc/passwd or
// /etc/group: an image could ship a huge one to exhaust the daemon.
const maxUserFileBytes = 10 << 20

// readFileInRoot reads name (an absolute path as the container sees it)
// from the rootfs at root. Symlinks are resolved as if root were "/": an
// image's /etc/passwd -> /host/etc/passwd, or ../../../etc/passwd, reads
// the image's own file, never the host's. The container may be running
// (exec), so the resolution must also be safe against a process inside
// swapping directories for symlinks meanwhile: the kernel's openat2
// RESOLVE_IN_ROOT guarantees that, and the fallback walks with one file
// descriptor per component, never re-resolving a path string.
//
// A missing file is (nil, nil): images without /etc/passwd are common and
// Docker treats them as "no entries". Anything but a regular file is an
// error and is never opened for reading, so that a FIFO or a device node
// planted by an image can neither block the daemon nor trigger a driver.
func readFileInRoot(root, name string) ([]byte, error) {
	return readFileInRootWith(root, name, !noOpenat2.Load())
}

func readFileInRootWith(root, name string, tryOpenat2 bool) ([]byte, error) {
	f, err := openInRoot(root, name, tryOpenat2)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxUserFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxUserFileBytes {
		return nil, fmt.Errorf("%s in the container is larger than %d bytes", name, maxUserFileBytes)
	}
	return b, nil
}

// noOpenat2 is set when the kernel predates openat2 (Linux < 5.6).
var noOpenat2 atomic.Bool

// openInRoot opens the regular file name inside root for reading; tests
// run the fallback walk on a kernel with openat2 by passing tryOpenat2
// false.
func openInRoot(root, name string, tryOpenat2 bool) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		// Not wrapped: a missing rootfs is not a missing /etc/passwd.
		return nil, fmt.Errorf("opening the container's rootfs %s: %v", root, err)
	}
	defer unix.Close(rootFd)

	// Resolve to an O_PATH descriptor first: it opens nothing.
	fd := -1
	if tryOpenat2 {
		fd, err = inroot.Openat2(rootFd, name, unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOSYS):
			noOpenat2.Store(true)
		case errors.Is(err, unix.EAGAIN):
			// Renames and mounts kept racing with the lookup; the walk
			// below is race-free too.
		default:
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
	if fd < 0 {
		if fd, err = walkInRoot(rootFd, name); err != nil {
			return nil, err
		}
	}
	defer unix.Close(fd)

	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s in the container is not a regular file", name)
	}
	// Reopening through /proc/self/fd reopens the very inode checked above.
	rfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(rfd), name), nil
}

// walkInRoot resolves name component by component below rootFd, following
// symlinks within the root, and returns an O_PATH descriptor of the
// result. It is the user-space version of RESOLVE_IN_ROOT.
func walkInRoot(rootFd int, name string) (int, error) {
	const maxSymlinks = 40 // the kernel's limit, path_resolution(7)

	// stack holds an O_PATH descriptor for every directory between the
	// root and the current position; ".." pops, so it can never go above
	// the root even if a directory is moved while we walk.
	stack := []int{rootFd}
	popAll := func() {
		for _, fd := range stack[1:] {
			unix.Close(fd)
		}
		stack = stack[:1]
	}
	defer popAll()

	pending := splitPath(name)
	links := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		fd, err := unix.Openat(stack[len(stack)-1], part, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: name, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "stat", Path: name, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			links++
			target, err := readlinkFd(fd)
			unix.Close(fd)
			if links > maxSymlinks {
				return -1, &os.PathError{Op: "open", Path: name, Err: unix.ELOOP}
			}
			if err != nil {
				return -1, &os.PathError{Op: "readlink", Path: name, Err: err}
			}
			if strings.HasPrefix(target, "/") {
				popAll()
			}
			pending = append(splitPath(target), pending...)
		case unix.S_IFDIR:
			stack = append(stack, fd)
		default:
			if len(pending) > 0 {
				unix.Close(fd)
				return -1, &os.PathError{Op: "open", Path: name, Err: unix.ENOTDIR}
			}
			return fd, nil
		}
	}
	// The path named a directory (or the root itself).
	return unix.FcntlInt(uintptr(stack[len(stack)-1]), unix.F_DUPFD_CLOEXEC, 0)
}

func readlinkFd(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

func splitPath(p string) []string {
	var parts []string
	for _, s := range strings.Split(p, "/") {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return parts
}
