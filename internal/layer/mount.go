package layer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/mountopt"
)

// MountAll mounts mounts on target in order. An overlay whose option string
// would not fit in the one page mount(2) accepts is mounted with paths
// relative to the snapshot directory (see mountOverlayShort).
func MountAll(mounts []Mount, target string) error {
	return mountAll(mounts, target, onPrivateThread)
}

// MountAllOnThread is MountAll for a caller on a locked OS thread with a
// filesystem context (unshare CLONE_FS) and mount namespace of its own:
// every mount, a shortened overlay's too, is made by this thread, so all
// land in its namespace. The thread's working directory may change.
func MountAllOnThread(mounts []Mount, target string) error {
	return mountAll(mounts, target, func(fn func() error) error { return fn() })
}

func mountAll(mounts []Mount, target string, onThread func(func() error) error) error {
	for i, m := range mounts {
		if err := mountOne(m, target, onThread); err != nil {
			if i > 0 {
				_ = Unmount(target)
			}
			return err
		}
	}
	return nil
}

func mountOne(m Mount, target string, onThread func(func() error) error) error {
	flags, data := mountopt.Parse(m.Options)
	switch m.Type {
	case "bind":
		bindFlags := uintptr(unix.MS_BIND)
		if flags&unix.MS_REC != 0 {
			bindFlags |= unix.MS_REC
		}
		if err := unix.Mount(m.Source, target, "", bindFlags, ""); err != nil {
			return &os.PathError{Op: "mount bind " + m.Source, Path: target, Err: err}
		}
		// A bind mount ignores other flags until it is remounted.
		if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := unix.Mount("", target, "", rest|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
				_ = unix.Unmount(target, unix.MNT_DETACH)
				return &os.PathError{Op: "remount bind", Path: target, Err: err}
			}
		}
		return nil
	case "overlay":
		if len(data) < pageSize() {
			if err := unix.Mount("overlay", target, "overlay", flags, data); err != nil {
				return &os.PathError{Op: "mount overlay", Path: target, Err: err}
			}
			return nil
		}
		return mountOverlayShort(m.Options, flags, target, onThread)
	default:
		return fmt.Errorf("mount type %q: %w", m.Type, errdefs.ErrNotImplemented)
	}
}

// mountOverlayShort mounts an overlay whose absolute layer paths are too
// long for one page: all layer directories share a parent (the
// snapshotter's snapshots/ dir), so the paths are rewritten relative to it
// and mount(2) runs with that directory as the working directory. The
// working directory is per process; to leave the rest of the daemon
// undisturbed the mount runs on a thread with a filesystem context of its
// own (onThread: a dedicated OS thread, thrown away afterwards).
func mountOverlayShort(options []string, flags uintptr, target string, onThread func(func() error) error) error {
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	var dirs []string
	for _, o := range options {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "lowerdir":
			dirs = append(dirs, strings.Split(v, ":")...)
		case "upperdir", "workdir":
			dirs = append(dirs, v)
		}
	}
	base := commonDir(dirs)
	if base == "" || base == "/" {
		return fmt.Errorf("overlay options too long and layers share no directory: %w", errdefs.ErrInvalidArgument)
	}
	rel := func(p string) string {
		r, err := filepath.Rel(base, p)
		if err != nil {
			return p
		}
		return r
	}
	var out []string
	for _, o := range options {
		k, v, ok := strings.Cut(o, "=")
		switch {
		case ok && k == "lowerdir":
			parts := strings.Split(v, ":")
			for i := range parts {
				parts[i] = rel(parts[i])
			}
			out = append(out, "lowerdir="+strings.Join(parts, ":"))
		case ok && (k == "upperdir" || k == "workdir"):
			out = append(out, k+"="+rel(v))
		default:
			out = append(out, o)
		}
	}
	_, data := mountopt.Parse(out)
	if len(data) >= pageSize() {
		return fmt.Errorf("overlay mount options are %d bytes even with relative paths (limit %d): %w", len(data), pageSize(), errdefs.ErrInvalidArgument)
	}
	return onThread(func() error {
		if err := unix.Chdir(base); err != nil {
			return err
		}
		if err := unix.Mount("overlay", absTarget, "overlay", flags, data); err != nil {
			return &os.PathError{Op: "mount overlay (relative layers)", Path: absTarget, Err: err}
		}
		return nil
	})
}

// onPrivateThread runs fn on an OS thread whose cwd, root and umask are
// its own. The thread is not returned to the Go scheduler: a goroutine
// that exits while locked takes its thread with it.
func onPrivateThread(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare CLONE_FS: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	common := filepath.Dir(filepath.Clean(paths[0]))
	for _, p := range paths[1:] {
		p = filepath.Clean(p)
		for common != "/" && !strings.HasPrefix(p, common+"/") {
			common = filepath.Dir(common)
		}
	}
	return common
}

func pageSize() int { return os.Getpagesize() }

// Unmount unmounts target. Unmounting something not mounted is not an
// error, so callers can repeat it. A busy mount (an exec'd process still
// holding it in another namespace) is detached lazily.
func Unmount(target string) error {
	for {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			// Stacked mounts (a retried MountAll) come off one by one.
			continue
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EBUSY):
			if derr := unix.Unmount(target, unix.MNT_DETACH); derr != nil && !errors.Is(derr, unix.EINVAL) {
				return &os.PathError{Op: "unmount", Path: target, Err: derr}
			}
			return nil
		default:
			return &os.PathError{Op: "unmount", Path: target, Err: err}
		}
	}
}

// IsMountpoint reports whether path is the root of a mount. statx tells
// directly (STATX_ATTR_MOUNT_ROOT) without reading the mount table, which
// is long on a busy host.
func IsMountpoint(path string) (bool, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, 0, &st)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	if st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return inMountTable(path) // kernels before 5.8
	}
	return st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// inMountTable looks path up among the mount points of /proc/self/mountinfo.
func inMountTable(path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && UnescapeMountPath(fields[4]) == abs {
			return true, nil
		}
	}
	return false, nil
}

// UnescapeMountPath undoes the octal escapes (\040 for a space) of a path
// in /proc/*/mountinfo.
func UnescapeMountPath(s string) string {
	if !strings.Contains(s, "\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
