package container

import (
	"context"
	"slices"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/storage"
)

// Inspect describes a container (docker inspect). With size, the
// read-write layer and rootfs sizes are computed.
func (s *Service) Inspect(ctx context.Context, ref string, size bool) (*containertypes.InspectResponse, error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	r := c.copyRecord()
	execs := slices.Clone(c.execs)
	c.mu.Unlock()

	cfg := *r.Config
	resp := &containertypes.InspectResponse{
		ID:              r.ID,
		Created:         apiTime(r.Created),
		Path:            r.Path,
		Args:            r.Args,
		State:           r.State.api(),
		Image:           r.ImageID,
		ResolvConfPath:  r.ResolvConfPath,
		HostnamePath:    r.HostnamePath,
		HostsPath:       r.HostsPath,
		LogPath:         r.LogPath,
		Name:            r.Name,
		RestartCount:    r.RestartCount,
		Driver:          r.Driver,
		Platform:        "linux",
		ExecIDs:         execs,
		HostConfig:      r.HostConfig,
		GraphDriver:     &storage.DriverData{Name: r.Driver, Data: map[string]string{}},
		Mounts:          apiMountPoints(r.MountPoints),
		Config:          &cfg,
		NetworkSettings: networkSettings(r),
	}
	if data, err := s.deps.Layers.RWLayerGraphDriver(r.ID); err == nil {
		resp.GraphDriver.Data = data
	}
	if resp.Args == nil {
		resp.Args = []string{}
	}
	if size {
		if rw, rootfs, err := s.deps.Layers.RWLayerSize(r.ID); err == nil {
			resp.SizeRw, resp.SizeRootFs = &rw, &rootfs
		}
	}
	return resp, nil
}

// networkSettings is the NetworkSettings of inspect.
func networkSettings(r record) *containertypes.NetworkSettings {
	ns := &containertypes.NetworkSettings{
		Ports:    portMap(r),
		Networks: endpointSettings(r),
	}
	if ep := primaryEndpoint(r); ep != nil && r.State.Running {
		ns.SandboxKey = ep.NetNSPath
	}
	return ns
}
