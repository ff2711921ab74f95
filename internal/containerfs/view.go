package containerfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/layer"
)

// View is a container's filesystem, confined to its root, served by one
// OS thread. Its methods may be called from any goroutine; they run one
// at a time on the view's thread. Close ends the thread, and with it the
// view's mount namespace and every mount in it.
type View struct {
	ops  chan func()
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// Bind is a host file or directory mounted into a stopped container's
// view at Destination (a path in the container), as the container gets
// it when it runs: a bind mount or a volume.
type Bind struct {
	Source, Destination string
	ReadOnly            bool
}

var errClosed = errors.New("container filesystem view is closed")

// start runs setup on a new, locked OS thread and, once it succeeded,
// serves the view's operations there.
func start(setup func() error) (*View, error) {
	v := &View{ops: make(chan func()), quit: make(chan struct{}), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		// The thread's root directory, namespaces and umask become the
		// view's: it is never unlocked, so Go ends the thread when this
		// goroutine returns instead of reusing it.
		runtime.LockOSThread()
		defer close(v.done)
		if err := setup(); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for {
			select {
			case op := <-v.ops:
				op()
			case <-v.quit:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		<-v.done
		return nil, err
	}
	return v, nil
}

// run runs fn on the view's thread and returns its error.
func (v *View) run(fn func() error) error {
	errc := make(chan error, 1)
	select {
	case v.ops <- func() { errc <- fn() }:
		return <-errc
	case <-v.quit:
		return errClosed
	}
}

// goRun starts fn on the view's thread without waiting for it: the
// walk of a tar stream, which runs while the client reads.
func (v *View) goRun(fn func()) error {
	select {
	case v.ops <- fn:
		return nil
	case <-v.quit:
		return errClosed
	}
}

// Close ends the view once the operation in progress (a tar being read)
// returns.
func (v *View) Close() error {
	v.once.Do(func() { close(v.quit) })
	<-v.done
	return nil
}

// OpenProcess views the filesystem of the running process pid (a
// container's init) through a private copy of its mount namespace: its
// root, volumes, binds and tmpfs mounts as it sees them. Procfs and
// sysfs mounts are detached from the copy: magic links such as
// /proc/<pid>/root or /proc/<pid>/fd/<n> could lead out of the root.
func OpenProcess(pid int) (*View, error) {
	return start(func() error {
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid))
		if err != nil {
			return fmt.Errorf("open mount namespace of process %d: %w", pid, err)
		}
		defer ns.Close()
		// The host's procfs, for this thread's mount table once inside.
		proc, err := os.Open("/proc")
		if err != nil {
			return err
		}
		defer proc.Close()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			return fmt.Errorf("unshare CLONE_FS: %w", err)
		}
		// Root and working directory become the namespace's root: the
		// container's.
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("join mount namespace of process %d: %w", pid, err)
		}
		if err := privateNamespace(); err != nil {
			return err
		}
		if err := detachPseudoFilesystems(proc); err != nil {
			return err
		}
		return unix.Chdir("/")
	})
}

// OpenRootfs views a stopped container: its root filesystem (rootfs,
// mounts applied in order) is mounted on target, and binds over it, in a
// private mount namespace that the host never sees; the thread's root
// becomes target. Bind destinations resolve inside the new root, so a
// symlink in the container cannot place a mount outside it; missing
// mount points are created, as the runtime creates them when the
// container starts.
func OpenRootfs(target string, rootfs []layer.Mount, binds []Bind) (*View, error) {
	return start(func() error {
		if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
			return fmt.Errorf("unshare mount namespace: %w", err)
		}
		if err := privateNamespace(); err != nil {
			return err
		}
		// Bind sources are host paths: take them before the root moves.
		trees := make([]detachedTree, 0, len(binds))
		defer func() {
			for _, t := range trees {
				unix.Close(t.fd)
			}
		}()
		for _, b := range binds {
			t, err := cloneTree(b)
			if err != nil {
				return err
			}
			trees = append(trees, t)
		}
		if err := layer.MountAllOnThread(rootfs, target); err != nil {
			return err
		}
		if err := unix.Chroot(target); err != nil {
			return fmt.Errorf("chroot %s: %w", target, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		for i, b := range binds {
			if err := attachTree(trees[i], b); err != nil {
				return err
			}
		}
		return nil
	})
}

// privateNamespace keeps the thread's mounts from propagating out, while
// unmounts on the host still reach it (so that it holds nothing busy).
func privateNamespace() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts slaves: %w", err)
	}
	return nil
}

// pseudoFilesystems are left out of a running container's view.
var pseudoFilesystems = map[string]bool{
	"proc": true, "sysfs": true, "cgroup": true, "cgroup2": true,
	"debugfs": true, "tracefs": true, "securityfs": true, "bpf": true,
	"binfmt_misc": true, "configfs": true, "fusectl": true,
}

// detachPseudoFilesystems lazily unmounts every procfs-like mount of the
// thread's namespace, read from the host's procfs (proc): the
// container's own procfs does not know this thread. A mount that stays
// fails the view: it must not be entered.
func detachPseudoFilesystems(proc *os.File) error {
	fd, err := unix.Openat(int(proc.Fd()), "thread-self/mountinfo", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("read mount table: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mountinfo")
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+1 >= len(fields) {
			continue
		}
		if pseudoFilesystems[fields[sep+1]] {
			targets = append(targets, layer.UnescapeMountPath(fields[4]))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read mount table: %w", err)
	}
	// Parents first: detaching one takes its submounts along.
	sort.Slice(targets, func(i, j int) bool { return len(targets[i]) < len(targets[j]) })
	for _, t := range targets {
		err := unix.Unmount(t, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach %s from the view: %w", t, err)
		}
	}
	return nil
}

// detachedTree is a copy of a bind's source mount tree, not attached
// anywhere yet.
type detachedTree struct {
	fd    int
	isDir bool
	// remountRO: the kernel has no mount_setattr (before 5.12); the
	// mount is made read-only once attached, its top at least.
	remountRO bool
}

func cloneTree(b Bind) (detachedTree, error) {
	var st unix.Stat_t
	if err := unix.Stat(b.Source, &st); err != nil {
		return detachedTree{}, &os.PathError{Op: "stat mount source", Path: b.Source, Err: err}
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, b.Source, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return detachedTree{}, &os.PathError{Op: "open_tree", Path: b.Source, Err: err}
	}
	t := detachedTree{fd: fd, isDir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
	if b.ReadOnly {
		attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr)
		switch {
		case errors.Is(err, unix.ENOSYS):
			t.remountRO = true
		case err != nil:
			unix.Close(fd)
			return detachedTree{}, &os.PathError{Op: "mount_setattr", Path: b.Source, Err: err}
		}
	}
	return t, nil
}

// attachTree mounts t at b.Destination inside the view's root, creating
// the mount point when the container has none.
func attachTree(t detachedTree, b Bind) error {
	dest, err := layer.Resolve(filepath.Join("/", b.Destination))
	if err != nil {
		return err
	}
	if dest == "/" {
		// A mount target that is a symlink to "/" or "..": the mount
		// would cover the container's whole root, which the container
		// never gets either (its start refuses it).
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"error mounting %q to rootfs at %q: the destination resolves to the container's root directory", b.Source, b.Destination))
	}
	if t.isDir {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY|unix.O_NOFOLLOW, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	if err := unix.MoveMount(t.fd, "", unix.AT_FDCWD, dest, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &os.PathError{Op: "mount " + b.Source, Path: dest, Err: err}
	}
	if t.remountRO {
		if err := unix.Mount("", dest, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return &os.PathError{Op: "remount read-only", Path: dest, Err: err}
		}
	}
	return nil
}
