package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// threadNS is the calling thread's network namespace. /proc/self would name
// the main thread's, which is not the one a locked goroutine runs on.
const threadNS = "/proc/thread-self/ns/net"

// PrepareDir makes dir a mount point with shared propagation (iproute2's
// "mount --make-shared /run/netns"), so that unmounting a namespace also
// unmounts the copies that mount namespaces cloned later hold, and the
// namespace can really go away.
func PrepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := unix.Mount("", dir, "", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	// Not a mount point yet: bind it onto itself first.
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dir, err)
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s shared: %w", dir, err)
	}
	return nil
}

// ReleaseDir undoes PrepareDir. Namespaces still mounted under dir stay
// mounted (the bind is detached lazily).
func ReleaseDir(dir string) error {
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// Create makes a new network namespace, mounts it at path (which must not
// exist), and runs fn inside it before returning. fn runs on a locked OS
// thread whose network namespace is the new one; netlink sockets it opens
// live there. If fn fails, the namespace is removed again.
func Create(path string, fn func() error) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("create netns: %w", err)
	}
	f.Close()

	errc := make(chan error, 1)
	go func() {
		errc <- onNewThreadNS(func() error {
			if err := unix.Mount(threadNS, path, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("mount netns on %s: %w", path, err)
			}
			if fn != nil {
				if err := fn(); err != nil {
					_ = unix.Unmount(path, unix.MNT_DETACH)
					return err
				}
			}
			return nil
		})
	}()
	if err := <-errc; err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// onNewThreadNS runs fn with the calling goroutine locked to a thread moved
// into a fresh network namespace, then moves the thread back. Must run on
// its own goroutine: if the thread cannot be moved back it stays locked, so
// the runtime throws it away when the goroutine ends.
func onNewThreadNS(fn func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open(threadNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("unshare netns: %w", err)
	}
	fnErr := fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
		runtime.UnlockOSThread()
	}
	return fnErr
}

// Do runs fn on a locked OS thread inside the namespace mounted at path.
func Do(path string, fn func() error) error {
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open netns: %w", err)
	}
	defer unix.Close(target)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open(threadNS, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current netns: %w", err)
			return
		}
		defer unix.Close(orig)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter netns %s: %w", path, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err == nil {
			runtime.UnlockOSThread()
		}
		errc <- fnErr
	}()
	return <-errc
}

// Delete unmounts and removes the namespace at path. A missing namespace is
// not an error; the kernel frees the namespace once nothing else holds it.
func Delete(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount netns %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", path, err)
	}
	return nil
}

// IsNS reports whether path is a mounted network namespace.
func IsNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}
