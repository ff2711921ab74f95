package container

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// Rename gives a container a new name.
func (s *Service) Rename(ctx context.Context, ref, newName string) error {
	if ref == "" || newName == "" {
		return errdefs.ErrInvalidArgument.WithMessage("Neither old nor new names may be empty")
	}
	name, err := normalizeName(newName)
	if err != nil {
		return err
	}
	c, err := s.lockContainer(ref)
	if err != nil {
		return err
	}
	defer c.op.Unlock()
	c.mu.Lock()
	old := c.Name
	c.mu.Unlock()
	if old == name {
		return errdefs.ErrInvalidArgument.WithMessage("Renaming a container with the same name as its current name")
	}
	if err := s.idx.reserveName(name, c.ID); err != nil {
		return fmt.Errorf("Error when allocating new name: %w", err)
	}
	c.mu.Lock()
	c.Name = name
	c.mu.Unlock()
	if err := c.save(false); err != nil {
		c.mu.Lock()
		c.Name = old
		c.mu.Unlock()
		s.idx.releaseName(name, c.ID)
		return err
	}
	s.idx.releaseName(old, c.ID)
	s.publish(c, events.ActionRename, map[string]string{"oldName": old})
	return nil
}

// Update changes the restart policy and resource limits; a running
// container gets the new limits at once (through its shim and the
// runtime's update), and keeps its old configuration if the runtime
// refuses them, as Docker does.
func (s *Service) Update(ctx context.Context, ref string, upd containertypes.UpdateConfig) (containertypes.UpdateResponse, error) {
	resp := containertypes.UpdateResponse{Warnings: []string{}}
	c, err := s.idx.get(ref)
	if err != nil {
		return resp, err
	}
	invalid := func(err error) (containertypes.UpdateResponse, error) {
		return resp, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot update container %s: %s", c.ID, err))
	}
	if err := containertypes.ValidateRestartPolicy(upd.RestartPolicy); err != nil {
		return invalid(err)
	}
	if _, err := validateResources(&upd.Resources); err != nil {
		return invalid(err)
	}
	c.op.Lock()
	defer c.op.Unlock()
	c.mu.Lock()
	if c.State.RemovalInProgress || c.State.Dead {
		c.mu.Unlock()
		return resp, errdefs.ErrConflict.WithMessage(fmt.Sprintf(`Cannot update container %s: container is marked for removal and cannot be "update"`, c.ID))
	}
	old := c.HostConfig
	hc := *old
	running, sh := c.State.Running, c.shim
	c.mu.Unlock()

	changed, err := mergeResources(&hc.Resources, &upd.Resources)
	if err != nil {
		return invalid(err)
	}
	if upd.RestartPolicy.Name != "" {
		if hc.AutoRemove && !upd.RestartPolicy.IsNone() {
			return invalid(errors.New("Restart policy cannot be updated because AutoRemove is enabled for the container"))
		}
		hc.RestartPolicy = upd.RestartPolicy
	}
	c.mu.Lock()
	c.HostConfig = &hc
	c.mu.Unlock()
	if err := c.save(false); err != nil {
		return resp, err
	}
	if changed && running && sh != nil {
		if err := s.applyResources(ctx, sh, &hc); err != nil {
			c.mu.Lock()
			c.HostConfig = old
			c.mu.Unlock()
			_ = c.save(false)
			return resp, errdefs.ErrUnknown.WithMessage(fmt.Sprintf("Cannot update container %s: %s", c.ID, err))
		}
	}
	s.publish(c, events.ActionUpdate, nil)
	return resp, nil
}

// mergeResources applies the set fields of upd to r, with Docker's
// conflict rules; it reports whether anything changed.
func mergeResources(r, upd *containertypes.Resources) (bool, error) {
	switch {
	case upd.NanoCPUs > 0 && r.CPUPeriod > 0:
		return false, errors.New("Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
	case upd.NanoCPUs > 0 && r.CPUQuota > 0:
		return false, errors.New("Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
	case upd.CPUPeriod > 0 && r.NanoCPUs > 0:
		return false, errors.New("Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
	case upd.CPUQuota > 0 && r.NanoCPUs > 0:
		return false, errors.New("Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
	case upd.Memory > 0 && upd.MemorySwap == 0 && r.MemorySwap > 0 && upd.Memory > r.MemorySwap:
		return false, errors.New("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
	}
	changed := false
	setInt := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
			changed = true
		}
	}
	if upd.BlkioWeight != 0 {
		r.BlkioWeight = upd.BlkioWeight
		changed = true
	}
	setInt(&r.CPUShares, upd.CPUShares)
	setInt(&r.NanoCPUs, upd.NanoCPUs)
	setInt(&r.CPUPeriod, upd.CPUPeriod)
	setInt(&r.CPUQuota, upd.CPUQuota)
	setInt(&r.CPURealtimePeriod, upd.CPURealtimePeriod)
	setInt(&r.CPURealtimeRuntime, upd.CPURealtimeRuntime)
	setInt(&r.Memory, upd.Memory)
	setInt(&r.MemorySwap, upd.MemorySwap)
	setInt(&r.MemoryReservation, upd.MemoryReservation)
	if upd.CpusetCpus != "" {
		r.CpusetCpus = upd.CpusetCpus
		changed = true
	}
	if upd.CpusetMems != "" {
		r.CpusetMems = upd.CpusetMems
		changed = true
	}
	if upd.PidsLimit != nil {
		r.PidsLimit = upd.PidsLimit
		if *upd.PidsLimit <= 0 {
			r.PidsLimit = nil
		}
		changed = true
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return false, errors.New("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	return changed, nil
}

// applyResources sets a running container's cgroup limits to those of
// hc, built as the runtime spec builds them at start.
func (s *Service) applyResources(ctx context.Context, sh Shim, hc *containertypes.HostConfig) error {
	res, err := s.deps.Resources(&hc.Resources)
	if err != nil {
		return err
	}
	return sh.Update(ctx, res)
}
