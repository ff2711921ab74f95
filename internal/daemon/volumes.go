package daemon

import (
	"context"
	"fmt"
	"path/filepath"

	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/internal/config"
	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/volume"
	"github.com/berth-dev/berth/internal/volume/local"
)

// newVolumes builds the volume store under <data-root>/volumes, Docker's
// layout, with the drivers berth has: local.
func newVolumes(cfg *config.Config, bus volume.EventPublisher) (*volume.Service, error) {
	root := filepath.Join(cfg.DataRoot, "volumes")
	drv, err := local.New(root)
	if err != nil {
		return nil, err
	}
	return volume.New(volume.Config{Root: root, Drivers: []volume.Driver{drv}, Events: bus})
}

// volumeMounter gives the container service the volume store.
type volumeMounter struct{ s *volume.Service }

func (v volumeMounter) Reference(ctx context.Context, req ctr.VolumeRequest, containerID string) (ctr.VolumeRef, error) {
	ref, err := v.s.Reference(ctx, volumetypes.CreateRequest{
		Name: req.Name, Driver: req.Driver, Labels: req.Labels, DriverOpts: req.DriverOpts,
	}, containerID)
	return ctr.VolumeRef(ref), err
}

func (v volumeMounter) Populate(ctx context.Context, name, rootfs, dest string) error {
	return v.s.Populate(ctx, name, rootfs, dest)
}

func (v volumeMounter) Mount(ctx context.Context, m ctr.VolumeMount) (string, error) {
	return v.s.Mount(ctx, volume.MountRequest(m))
}

func (v volumeMounter) Unmount(name, containerID string) { v.s.Unmount(name, containerID) }
func (v volumeMounter) Release(name, containerID string) { v.s.Release(name, containerID) }

func (v volumeMounter) Restore(name, containerID string, running bool) error {
	return v.s.Restore(name, containerID, running)
}

func (v volumeMounter) RemoveUnused(ctx context.Context, name string) error {
	if err := v.s.RemoveUnused(ctx, name); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// VolumeDiskUsage is system df's part of the volume store.
func (d diskUsage) VolumeDiskUsage(ctx context.Context) ([]volumetypes.Volume, error) {
	return d.volumes.DiskUsage(ctx)
}
