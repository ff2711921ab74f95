package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/go-archive/compression"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
)

// FilesystemView is a container's filesystem confined to its root, as
// internal/containerfs serves it: paths are the container's, and no
// symlink leads out.
type FilesystemView interface {
	// Stat describes a path without following a final symlink, unless
	// the path ends in "/" or "/.".
	Stat(path string) (containertypes.PathStat, error)
	// Archive streams a tar of a path; the view stays open until the
	// reader is closed.
	Archive(path string) (io.ReadCloser, containertypes.PathStat, error)
	// Resolve evaluates every symlink of a path.
	Resolve(path string) (string, error)
	// ExtractDir resolves the directory a tar is to be extracted into.
	ExtractDir(path string) (string, error)
	// Extract unpacks an uncompressed tar into dir (from ExtractDir);
	// chownUser, when set, owns every entry.
	Extract(dir string, tar io.Reader, noOverwriteDirNonDir bool, chownUser string) error
	Close() error
}

// FilesystemViews open views of containers' filesystems.
type FilesystemViews interface {
	// ViewRunning views a running container through its init process
	// pid: every mount it has, as it sees them.
	ViewRunning(pid int) (FilesystemView, error)
	// ViewStopped mounts a stopped container's root filesystem and the
	// given mounts over it, privately, for the time of the view.
	ViewStopped(containerID string, mounts []ViewMount) (FilesystemView, error)
}

// ViewMount is a host path mounted into a stopped container's view: what
// the container gets mounted when it runs.
type ViewMount struct {
	Source, Destination string
	ReadOnly            bool
}

// ExtractOptions are the parameters of PUT /containers/{id}/archive.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the reverse.
	NoOverwriteDirNonDir bool
	// CopyUIDGID makes the container's user (Config.User) own what is
	// extracted; otherwise the tar's owners are kept, as in Docker.
	CopyUIDGID bool
}

func (s *Service) views() (FilesystemViews, error) {
	if s.deps.Files == nil {
		return nil, fmt.Errorf("container filesystems cannot be viewed by this engine: %w", errdefs.ErrNotImplemented)
	}
	return s.deps.Files, nil
}

// openView opens the filesystem view of c. A running container is viewed
// through its process and may stop meanwhile (the view keeps what it
// sees alive); a stopped one is mounted privately, its volumes mounted
// by the volume store as a start mounts them (Docker mounts them for a
// copy too, with the same events), and kept from starting until
// release, as Docker holds the container for the whole copy.
func (s *Service) openView(ctx context.Context, c *Container) (v FilesystemView, rec record, release func(), err error) {
	views, err := s.views()
	if err != nil {
		return nil, record{}, nil, err
	}
	c.op.Lock()
	rec = c.snapshot()
	if rec.State.Running && rec.State.Pid > 0 {
		v, err = views.ViewRunning(rec.State.Pid)
		c.op.Unlock()
		if err != nil {
			return nil, rec, nil, fmt.Errorf("view the filesystem of container %s: %w", rec.ID, err)
		}
		return v, rec, func() { v.Close() }, nil
	}
	mounts, unmount, err := s.viewMounts(ctx, rec)
	if err != nil {
		c.op.Unlock()
		return nil, rec, nil, err
	}
	v, err = views.ViewStopped(rec.ID, mounts)
	if err != nil {
		unmount()
		c.op.Unlock()
		return nil, rec, nil, fmt.Errorf("mount the filesystem of container %s: %w", rec.ID, err)
	}
	var once sync.Once
	return v, rec, func() {
		once.Do(func() {
			v.Close()
			unmount()
			c.op.Unlock()
		})
	}, nil
}

// viewMounts readies what a stopped container's view mounts over its
// root, as a start would: its binds (a -v bind's missing source is
// created) and volumes (mounted by the volume store until unmount), and
// the engine's files (/etc/hostname, /etc/hosts, /etc/resolv.conf, once
// written by a start). tmpfs mounts have no content while it is stopped.
func (s *Service) viewMounts(ctx context.Context, rec record) (out []ViewMount, unmount func(), err error) {
	var mounted []string
	var pins []func()
	release := func() {
		for _, unpin := range pins {
			unpin()
		}
		for _, name := range mounted {
			s.deps.Volumes.Unmount(name, rec.ID)
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	taken := map[string]bool{}
	for _, mp := range rec.MountPoints {
		if mp.Type != mount.TypeBind && mp.Type != mount.TypeVolume {
			continue
		}
		src, unpin, err := s.mountSource(ctx, rec.ID, mp)
		if err != nil {
			return nil, nil, err
		}
		if mp.Type == mount.TypeVolume {
			mounted = append(mounted, mp.Name)
		}
		if unpin != nil {
			pins = append(pins, unpin)
		}
		out = append(out, ViewMount{Source: src, Destination: mp.Destination, ReadOnly: !mp.RW})
		taken[path.Clean(mp.Destination)] = true
	}
	for _, f := range []struct{ src, dst string }{
		{rec.ResolvConfPath, "/etc/resolv.conf"},
		{rec.HostnamePath, "/etc/hostname"},
		{rec.HostsPath, "/etc/hosts"},
	} {
		if f.src == "" || taken[f.dst] {
			continue
		}
		if _, err := os.Stat(f.src); err != nil {
			continue
		}
		out = append(out, ViewMount{Source: f.src, Destination: f.dst, ReadOnly: rec.HostConfig.ReadonlyRootfs})
	}
	return out, release, nil
}

// fileNotFound is Docker's answer for a path the container lacks, with
// the path and container as the client gave them.
func fileNotFound(err error, p, ref string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", p, ref))
	}
	return err
}

// StatPath describes a path in the container ref (HEAD .../archive).
func (s *Service) StatPath(ctx context.Context, ref, p string) (containertypes.PathStat, error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return containertypes.PathStat{}, err
	}
	v, _, release, err := s.openView(ctx, c)
	if err != nil {
		return containertypes.PathStat{}, err
	}
	defer release()
	st, err := v.Stat(p)
	return st, fileNotFound(err, p, ref)
}

// ArchivePath streams a tar of a path in the container ref (GET
// .../archive, docker cp out of a container) with the path's stat. The
// caller closes the stream; until then a stopped container stays
// mounted and cannot start.
func (s *Service) ArchivePath(ctx context.Context, ref, p string) (io.ReadCloser, containertypes.PathStat, error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, containertypes.PathStat{}, err
	}
	v, _, release, err := s.openView(ctx, c)
	if err != nil {
		return nil, containertypes.PathStat{}, err
	}
	rc, st, err := v.Archive(p)
	if err != nil {
		release()
		return nil, st, fileNotFound(err, p, ref)
	}
	s.publish(c, events.ActionArchivePath, nil)
	return &releasingReader{ReadCloser: rc, release: release}, st, nil
}

// releasingReader releases the view once its tar is closed.
type releasingReader struct {
	io.ReadCloser
	release func()
}

func (r *releasingReader) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

// ExtractToDir extracts content, a tar (plain or compressed), into the
// directory p of the container ref (PUT .../archive, docker cp into a
// container). A read-only root filesystem or mount refuses it with
// Docker's messages.
func (s *Service) ExtractToDir(ctx context.Context, ref, p string, opts ExtractOptions, content io.Reader) error {
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	v, rec, release, err := s.openView(ctx, c)
	if err != nil {
		return err
	}
	defer release()
	dir, err := v.ExtractDir(p)
	if err != nil {
		return fileNotFound(err, p, ref)
	}
	if err := checkWritable(v, rec, dir); err != nil {
		return err
	}
	var chownUser string
	if opts.CopyUIDGID {
		chownUser = rec.Config.User
	}
	// Decompressed here, not in the view: a decompressor may be a helper
	// program, which must never run with the container's root.
	plain, err := compression.DecompressStream(content)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("read archive: %v", err))
	}
	defer plain.Close()
	// Errors here are about the tar's entries, not the destination.
	if err := v.Extract(dir, plain, opts.NoOverwriteDirNonDir, chownUser); err != nil {
		return err
	}
	s.publish(c, events.ActionExtractToDir, nil)
	return nil
}

// checkWritable refuses an extraction into dir (resolved in v) under a
// read-only mount, or outside every mount of a container with a
// read-only root filesystem, with Docker's messages. Mount destinations
// are resolved in the view too, as the runtime resolves them.
func checkWritable(v FilesystemView, rec record, dir string) error {
	hc := rec.HostConfig
	type dest struct {
		path string
		rw   bool
	}
	var dests []dest
	for _, mp := range rec.MountPoints {
		if mp.Type == mount.TypeTmpfs && !rec.State.Running {
			continue // not mounted: writes go to the root filesystem
		}
		dests = append(dests, dest{mp.Destination, mp.RW})
	}
	if rec.State.Running {
		for d, o := range hc.Tmpfs {
			dests = append(dests, dest{d, !strings.Contains(","+o+",", ",ro,")})
		}
	}
	best, toMount, writable := -1, false, true
	for _, d := range dests {
		resolved, err := v.Resolve(d.path)
		if err != nil {
			continue
		}
		if dir == resolved || strings.HasPrefix(dir, strings.TrimSuffix(resolved, "/")+"/") {
			if len(resolved) > best {
				best, toMount, writable = len(resolved), true, d.rw
			}
		}
	}
	switch {
	case toMount && !writable:
		return errdefs.ErrInvalidArgument.WithMessage("mounted volume is marked read-only")
	case !toMount && hc.ReadonlyRootfs:
		return errdefs.ErrInvalidArgument.WithMessage("container rootfs is marked read-only")
	}
	return nil
}
