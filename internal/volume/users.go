package volume

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/volume"
)

// A container's use of a volume, as Docker counts it:
//
//   - Reference at container create (the volume is created unless it
//     exists) makes the container one of the volume's users until
//     Release at container removal; a volume with users is neither
//     removed nor pruned, and is not dangling.
//   - Mount before each start and Unmount after each exit: a volume
//     whose driver options name a filesystem (type=tmpfs, a device, a
//     bind) is mounted while at least one running container uses it,
//     so a tmpfs volume starts empty again once no container runs with
//     it, as in Docker.
//   - Restore after a daemon restart counts the users again from the
//     containers' records (nothing about users is stored here), and the
//     running ones as mounting it: berth leaves mounts in place when it
//     stops, since the containers keep running.

// Ref is a volume a container references.
type Ref struct {
	Name, Driver string
	// Path is the volume's data on the host.
	Path string
	// Created says the reference created the volume, so that a failed
	// container create can remove it again.
	Created bool
}

// Reference records a container's use of a volume at create, creating
// it unless it exists (an empty Name makes an anonymous one).
func (s *Service) Reference(ctx context.Context, req volume.CreateRequest, containerID string) (Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, existed := s.vols[req.Name]
	v, err := s.create(req)
	if err != nil {
		return Ref{}, err
	}
	v.users[containerID] = true
	return Ref{Name: v.Name, Driver: v.Driver, Path: s.path(v), Created: !existed}, nil
}

// path is where a volume's data is on the host; mu is held.
func (s *Service) path(v *vol) string {
	if d, ok := s.drivers[v.Driver]; ok {
		return d.Path(v.Name)
	}
	return ""
}

// Restore counts a container among a volume's users again after a
// daemon restart; running says the container kept running with the
// volume mounted. A volume that vanished is reported.
func (s *Service) Restore(name, containerID string, running bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return notFound(name)
	}
	v.users[containerID] = true
	if running {
		v.active[containerID] = true
		v.mounted = true
	}
	return nil
}

// Release drops a container's reference (container removed).
func (s *Service) Release(name, containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return
	}
	delete(v.users, containerID)
	if v.active[containerID] {
		s.unmount(v, containerID)
	}
}

// MountRequest is a container's mount of a volume at start.
type MountRequest struct {
	Name, ContainerID, Destination, Propagation string
	RW                                          bool
}

// Mount makes a referenced volume's data available to a starting
// container and returns its host path, to bind into the container.
func (s *Service) Mount(ctx context.Context, req MountRequest) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[req.Name]
	if !ok {
		return "", notFound(req.Name)
	}
	path, err := s.acquire(v, req.ContainerID)
	if err != nil {
		return "", err
	}
	s.events.Publish(events.VolumeEventType, events.ActionMount, v.Name, map[string]string{
		"container":   req.ContainerID,
		"destination": req.Destination,
		"driver":      v.Driver,
		"propagation": req.Propagation,
		"read/write":  strconv.FormatBool(req.RW),
	})
	return path, nil
}

// acquire mounts the volume for user (a container, or Populate) unless
// the driver has it mounted already; mu is held.
func (s *Service) acquire(v *vol, user string) (string, error) {
	d, ok := s.drivers[v.Driver]
	if !ok {
		return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", v.Driver, v.Driver))
	}
	if !v.mounted {
		if err := d.Mount(v.Name, v.Options); err != nil {
			return "", err
		}
		v.mounted = true
	}
	v.active[user] = true
	return d.Path(v.Name), nil
}

// Unmount is a container that mounted the volume stopping; the last
// one releases the driver's mount.
func (s *Service) Unmount(name, containerID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.vols[name]; ok && v.active[containerID] {
		s.unmount(v, containerID)
	}
}

// unmount drops containerID's mount; mu is held.
func (s *Service) unmount(v *vol, containerID string) {
	s.events.Publish(events.VolumeEventType, events.ActionUnmount, v.Name, map[string]string{
		"container": containerID,
		"driver":    v.Driver,
	})
	s.release(v, containerID)
}

// release undoes acquire; mu is held.
func (s *Service) release(v *vol, user string) {
	delete(v.active, user)
	if len(v.active) > 0 || !v.mounted {
		return
	}
	d, ok := s.drivers[v.Driver]
	if !ok {
		return
	}
	if err := d.Unmount(v.Name, v.Options); err != nil {
		slog.Warn("unmounting volume", "volume", v.Name, "err", err)
		return
	}
	v.mounted = false
}

// RemoveUnused removes a volume unless a container still uses it (rm
// -v, --rm: an anonymous volume shared through --volumes-from stays
// with its other users).
func (s *Service) RemoveUnused(ctx context.Context, name string) error {
	err := s.Remove(ctx, name, false)
	if errdefs.IsConflict(err) || errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Users lists the containers that reference a volume.
func (s *Service) Users(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vols[name]
	if !ok {
		return nil
	}
	out := make([]string, 0, len(v.users))
	for id := range v.users {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
