package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"sort"
	"strconv"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/inroot"
)

// errNoVolumes answers volume mounts when the service runs without a
// volume store.
var errNoVolumes = errdefs.ErrNotImplemented.WithMessage("volumes are not available")

// volumeRefs tracks the volume references a create takes, to give
// them back if the create fails.
type volumeRefs struct {
	s    *Service
	id   string
	refs []VolumeRef
}

func (r *volumeRefs) take(ctx context.Context, req VolumeRequest) (VolumeRef, error) {
	if r.s.deps.Volumes == nil {
		return VolumeRef{}, errNoVolumes
	}
	ref, err := r.s.deps.Volumes.Reference(ctx, req, r.id)
	if err != nil {
		return VolumeRef{}, err
	}
	r.refs = append(r.refs, ref)
	return ref, nil
}

// undo releases the references and removes the volumes they created.
func (r *volumeRefs) undo(ctx context.Context) {
	for i := len(r.refs) - 1; i >= 0; i-- {
		ref := r.refs[i]
		r.s.deps.Volumes.Release(ref.Name, r.id)
		if ref.Created {
			if err := r.s.deps.Volumes.RemoveUnused(ctx, ref.Name); err != nil {
				slog.Warn("removing volume after failed create", "volume", ref.Name, "err", err)
			}
		}
	}
	r.refs = nil
}

// resolveMounts turns --volumes-from, the binds and mounts (parsed in
// specs) and the image's volumes into the container's mount points, as
// Docker does: volumes from other containers first, then binds and
// mounts over them, then an anonymous volume for each image volume (and
// -v /path) nothing is mounted on yet. Every volume is referenced (and
// created if missing). It returns the mount points, sorted by
// destination, and those to pre-populate from the image.
func (s *Service) resolveMounts(ctx context.Context, refs *volumeRefs, cfg *containertypes.Config, hc *containertypes.HostConfig, parsed []mountSpec) (mps, populate []MountPoint, err error) {
	byDest := map[string]MountPoint{}
	for _, spec := range hc.VolumesFrom {
		ref, rw, err := parseVolumesFrom(spec)
		if err != nil {
			return nil, nil, err
		}
		other, err := s.idx.get(ref)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range other.snapshot().MountPoints {
			cp := m
			cp.Mode = ""
			cp.RW = m.RW && rw
			if m.Type == mount.TypeVolume {
				if _, err := refs.take(ctx, VolumeRequest{Name: m.Name, Driver: m.Driver}); err != nil {
					return nil, nil, err
				}
			}
			byDest[path.Clean(m.Destination)] = cp
		}
	}
	for _, sp := range parsed {
		mp := sp.MountPoint
		if mp.Type == mount.TypeVolume {
			ref, err := refs.take(ctx, VolumeRequest{Name: mp.Name, Driver: mp.Driver, Labels: sp.labels, DriverOpts: sp.driverOpts})
			if err != nil {
				return nil, nil, err
			}
			mp.Name, mp.Driver, mp.Source = ref.Name, ref.Driver, ref.Path
			if sp.copyData {
				populate = append(populate, mp)
			}
		}
		byDest[path.Clean(mp.Destination)] = mp
	}
	dests := make([]string, 0, len(cfg.Volumes))
	for dst := range cfg.Volumes {
		dests = append(dests, dst)
	}
	sort.Strings(dests)
	for _, dst := range dests {
		clean := path.Clean(dst)
		if _, ok := byDest[clean]; ok {
			continue
		}
		if _, ok := hc.Tmpfs[dst]; ok {
			continue
		}
		if _, ok := hc.Tmpfs[clean]; ok {
			continue
		}
		if err := validateDestination(mount.TypeVolume, dst); err != nil {
			return nil, nil, err
		}
		ref, err := refs.take(ctx, VolumeRequest{Driver: hc.VolumeDriver})
		if err != nil {
			return nil, nil, err
		}
		mp := MountPoint{Type: mount.TypeVolume, Name: ref.Name, Source: ref.Path, Destination: clean,
			Driver: ref.Driver, RW: true, Anonymous: true}
		populate = append(populate, mp)
		byDest[clean] = mp
	}
	for _, mp := range byDest {
		mps = append(mps, mp)
	}
	sort.Slice(mps, func(i, j int) bool { return mps[i].Destination < mps[j].Destination })
	return mps, populate, nil
}

// populateVolumes copies the image's content at each mount point into
// its volume, if empty, with the new container's rootfs mounted. The
// rootfs stays mounted for the first start (MountRWLayer is idempotent):
// unmounting an overlay syncs it, which costs more than the rest of the
// create (2 to 100+ ms measured here). A failed create removes the layer,
// which unmounts it.
func (s *Service) populateVolumes(ctx context.Context, id string, mps []MountPoint) error {
	if len(mps) == 0 {
		return nil
	}
	rootfs, err := s.deps.Layers.MountRWLayer(id)
	if err != nil {
		return fmt.Errorf("mount container rootfs: %w", err)
	}
	for _, m := range mps {
		if err := checkDestination(rootfs, m.Source, m.Destination); err != nil {
			return err
		}
		if err := s.deps.Volumes.Populate(ctx, m.Name, rootfs, m.Destination); err != nil {
			return err
		}
	}
	return nil
}

// checkDestination refuses a mount whose destination resolves, inside
// the container's root filesystem, to that root itself: an image whose
// /data is a symlink to "/" or to "..". The runtime resolves
// destinations inside the root too (so a mount never lands on the
// host), and would cover the container's whole root with the mount.
func checkDestination(rootfs, src, dest string) error {
	root, err := os.Open(rootfs)
	if err != nil {
		return err
	}
	defer root.Close()
	fd, err := inroot.Openat2(int(root.Fd()), dest, unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ENOSYS):
		return nil // created by the runtime, or resolved by it alone
	case err != nil:
		return fmt.Errorf("resolving mount destination %s: %w", dest, err)
	}
	defer unix.Close(fd)
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		return err
	}
	if err := unix.Fstat(int(root.Fd()), &b); err != nil {
		return err
	}
	if a.Dev == b.Dev && a.Ino == b.Ino {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"error mounting %q to rootfs at %q: the destination resolves to the container's root directory", src, dest))
	}
	return nil
}

// startMounts makes the container's mount points into OCI mounts for a
// start: volumes are mounted (the returned release undoes that), -v
// bind sources that do not exist are created. HostConfig.Tmpfs (tmpfs)
// is the spec builder's; its destinations are checked here too.
//
// unpin, once the runtime has made its mounts, takes away the pins of
// volume subpaths (see pinSubpath).
func (s *Service) startMounts(ctx context.Context, id, rootfs string, mps []MountPoint, tmpfs map[string]string) (out []specs.Mount, release, unpin func(), err error) {
	for _, m := range mps {
		src := m.Source
		if m.Type == mount.TypeTmpfs {
			src = "tmpfs"
		}
		if err := checkDestination(rootfs, src, m.Destination); err != nil {
			return nil, nil, nil, err
		}
	}
	for dst := range tmpfs {
		if err := checkDestination(rootfs, "tmpfs", dst); err != nil {
			return nil, nil, nil, err
		}
	}
	var mounted []string
	var pins []func()
	unmount := func() {
		for _, name := range mounted {
			s.deps.Volumes.Unmount(name, id)
		}
	}
	unpinAll := func() {
		for _, u := range pins {
			u()
		}
	}
	defer func() {
		if err != nil {
			unpinAll()
			unmount()
		}
	}()
	for _, m := range mps {
		switch m.Type {
		case mount.TypeBind:
			if _, _, err := s.mountSource(ctx, id, m); err != nil {
				return nil, nil, nil, err
			}
			if err := checkPropagation(m.Source, string(m.Propagation)); err != nil {
				return nil, nil, nil, err
			}
			out = append(out, bindMount(m.Source, m.Destination, !m.RW, string(m.Propagation), m.NonRecursive))
		case mount.TypeVolume:
			src, u, err := s.mountSource(ctx, id, m)
			if err != nil {
				return nil, nil, nil, err
			}
			mounted = append(mounted, m.Name)
			if u != nil {
				pins = append(pins, u)
			}
			out = append(out, bindMount(src, m.Destination, !m.RW, string(mount.PropagationRPrivate), false))
		case mount.TypeTmpfs:
			out = append(out, tmpfsMount(m))
		}
	}
	return out, unmount, unpinAll, nil
}

// mountSource readies the host side of the bind or volume m for a run
// of the container id, or for a view of its filesystem while it is
// stopped (docker cp), and returns its host path. A -v bind's missing
// source is created, as Docker creates it; a --mount bind's is Docker's
// error. A volume is mounted by the volume store (one whose options
// name a filesystem gets it mounted), to be given back with
// Volumes.Unmount(m.Name, id); with a subpath the path is its pin, which
// unpin (nil otherwise) takes away once the runtime or the view has
// mounted it.
func (s *Service) mountSource(ctx context.Context, id string, m MountPoint) (src string, unpin func(), err error) {
	switch m.Type {
	case mount.TypeBind:
		_, err := os.Stat(m.Source)
		switch {
		case errors.Is(err, os.ErrNotExist) && m.CreateSource:
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return "", nil, fmt.Errorf("create bind source %s: %w", m.Source, err)
			}
		case errors.Is(err, os.ErrNotExist):
			// A --mount bind whose source went away since create.
			return "", nil, mountConfigError(m.Type, "bind source path does not exist: "+m.Source)
		}
		return m.Source, nil, nil
	case mount.TypeVolume:
		if s.deps.Volumes == nil {
			return "", nil, errNoVolumes
		}
		src, err := s.deps.Volumes.Mount(ctx, VolumeMount{Name: m.Name, ContainerID: id, Destination: m.Destination,
			Propagation: string(m.Propagation), RW: m.RW})
		if err != nil || m.Subpath == "" {
			return src, nil, err
		}
		pin, unpin, err := s.pinSubpath(src, m.Subpath)
		if err != nil {
			s.deps.Volumes.Unmount(m.Name, id)
			return "", nil, err
		}
		return pin, unpin, nil
	}
	return "", nil, fmt.Errorf("mount type %q has no host source: %w", m.Type, errdefs.ErrInvalidArgument)
}

// unmountVolumes is a run's end for the container's volumes.
func (s *Service) unmountVolumes(id string, mps []MountPoint) {
	if s.deps.Volumes == nil {
		return
	}
	for _, m := range mps {
		if m.Type == mount.TypeVolume {
			s.deps.Volumes.Unmount(m.Name, id)
		}
	}
}

// releaseVolumes drops the container's references at its removal and,
// with anonymous (rm -v, --rm), removes its anonymous volumes that no
// other container uses.
func (s *Service) releaseVolumes(ctx context.Context, id string, mps []MountPoint, anonymous bool) {
	if s.deps.Volumes == nil {
		return
	}
	for _, m := range mps {
		if m.Type != mount.TypeVolume {
			continue
		}
		s.deps.Volumes.Release(m.Name, id)
		if anonymous && m.Anonymous {
			if err := s.deps.Volumes.RemoveUnused(ctx, m.Name); err != nil {
				slog.Warn("removing anonymous volume", "container", id, "volume", m.Name, "err", err)
			}
		}
	}
}

// restoreVolumes counts the containers' volume references again after
// a daemon restart.
func (s *Service) restoreVolumes(all []*Container) {
	if s.deps.Volumes == nil {
		return
	}
	for _, c := range all {
		r := c.snapshot()
		for _, m := range r.MountPoints {
			if m.Type != mount.TypeVolume {
				continue
			}
			if err := s.deps.Volumes.Restore(m.Name, r.ID, r.State.Running); err != nil {
				slog.Warn("container uses a volume that is gone", "container", r.ID, "volume", m.Name, "err", err)
			}
		}
	}
}

func bindMount(src, dst string, ro bool, propagation string, nonRecursive bool) specs.Mount {
	opts := []string{"rbind"}
	if nonRecursive {
		opts[0] = "bind"
	}
	if propagation != "" {
		opts = append(opts, propagation)
	}
	if ro {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// tmpfsMount is a --mount type=tmpfs with Docker's defaults: noexec,
// nosuid, nodev.
func tmpfsMount(m MountPoint) specs.Mount {
	opts := []string{"noexec", "nosuid", "nodev", "rprivate"}
	if !m.RW {
		opts = append(opts, "ro")
	}
	if t := m.Tmpfs; t != nil {
		if t.SizeBytes > 0 {
			opts = append(opts, "size="+strconv.FormatInt(t.SizeBytes, 10))
		}
		if t.Mode != 0 {
			// The API's mode is the raw octal number (tmpfs-mode=1777).
			opts = append(opts, "mode="+strconv.FormatUint(uint64(t.Mode), 8))
		}
	}
	return specs.Mount{Destination: m.Destination, Type: "tmpfs", Source: "tmpfs", Options: opts}
}

// Mounts lists a container's mount points with their host sources: the
// bind's source or the volume's data directory (empty for tmpfs, whose
// content lives only in the running container). A path under a mount
// point's Destination is, on the host, under its Source (cp uses this).
func (s *Service) Mounts(ref string) ([]MountPoint, error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]MountPoint, len(c.MountPoints))
	copy(out, c.MountPoints)
	return out, nil
}
