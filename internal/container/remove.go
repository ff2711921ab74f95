package container

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/internal/filters"
)

// RemoveOptions are the parameters of docker rm.
type RemoveOptions struct {
	Force   bool // kill a running container first
	Volumes bool // remove the container's anonymous volumes no other container uses
}

// Remove deletes a container: its read-write layer, its directory and
// its name. A running container needs Force.
func (s *Service) Remove(ctx context.Context, ref string, opts RemoveOptions) error {
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.State.RemovalInProgress {
		c.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("removal of container %s is already in progress", ref))
	}
	name := c.Name
	var refuse string
	switch {
	case c.State.Paused:
		refuse = "container is paused and must be unpaused first"
	case c.State.Running:
		refuse = fmt.Sprintf("container is %s: stop the container before removing or force remove", c.State.StateString())
	}
	if refuse != "" && !opts.Force {
		c.mu.Unlock()
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: %s", name, refuse))
	}
	c.State.RemovalInProgress = true
	c.mu.Unlock()

	if refuse != "" {
		if err := s.killForRemoval(c); err != nil {
			c.mu.Lock()
			c.State.RemovalInProgress = false
			c.mu.Unlock()
			return fmt.Errorf("cannot remove container %q: could not kill container: %w", name, err)
		}
	}
	c.op.Lock()
	defer c.op.Unlock()
	if err := s.destroy(c, opts.Volumes); err != nil {
		return fmt.Errorf("cannot remove container %q: %w", name, err)
	}
	return nil
}

// killForRemoval kills the container until it is down for good: no
// restart policy brings it back meanwhile, and a run that a pending
// policy restart started after rm -f looked is killed too.
func (s *Service) killForRemoval(c *Container) error {
	for {
		c.mu.Lock()
		c.restart.cancelled = true
		running, notice := c.State.Running, c.exit
		c.mu.Unlock()
		if !running {
			return nil
		}
		if err := s.killAndWait(c, notice); err != nil {
			return err
		}
	}
}

// autoRemove is --rm after the container exited.
func (s *Service) autoRemove(c *Container) {
	c.mu.Lock()
	if c.State.RemovalInProgress || c.State.Running || c.dir == "" {
		c.mu.Unlock()
		return
	}
	c.State.RemovalInProgress = true
	c.mu.Unlock()
	c.op.Lock()
	defer c.op.Unlock()
	if err := s.destroy(c, true); err != nil {
		slog.Warn("auto-removing container", "container", c.ID, "err", err)
	}
}

// destroy removes a stopped container marked RemovalInProgress, and
// with anonymousVolumes its anonymous volumes no other container uses;
// op is held. The mark is persisted first, so a crash midway is finished by
// Restore. A failure leaves the container "dead".
func (s *Service) destroy(c *Container, anonymousVolumes bool) error {
	c.mu.Lock()
	if c.State.Running {
		c.State.RemovalInProgress = false
		c.mu.Unlock()
		return errdefs.ErrConflict.WithMessage("container is running")
	}
	if c.restart.timer != nil {
		c.restart.timer.Stop()
		c.restart.timer = nil
	}
	id, name, eps := c.ID, c.Name, c.Endpoints
	c.Endpoints = nil
	c.mu.Unlock()
	c.saveOrLog()
	c.failPending(errdefs.ErrNotFound.WithMessage("No such container: " + id))

	// A run that was never released (restore of a dead shim) may still
	// hold an endpoint; Disconnect is idempotent.
	s.disconnectAll(context.Background(), id, eps)
	if err := s.deps.Layers.RemoveRWLayer(id); err != nil {
		c.markDead()
		return fmt.Errorf("remove read-write layer: %w", err)
	}
	c.saveMu.Lock()
	c.mu.Lock()
	dir := c.dir
	c.dir = ""
	c.mu.Unlock()
	err := os.RemoveAll(dir)
	c.saveMu.Unlock()
	if err != nil {
		c.mu.Lock()
		c.dir = dir // what is left of it
		c.mu.Unlock()
		c.markDead()
		return fmt.Errorf("unable to remove filesystem: %w", err)
	}
	os.RemoveAll(s.cfg.bundleDir(id))
	os.RemoveAll(s.cfg.shimDir(id))
	s.releaseVolumes(context.Background(), id, c.MountPoints, anonymousVolumes)
	s.idx.remove(id, name)
	s.execs.forget(id)
	c.mu.Lock()
	close(c.removed)
	c.mu.Unlock()
	s.publish(c, events.ActionDestroy, nil)
	return nil
}

// markDead records a removal that failed halfway: the container is
// "dead", and Restore tries the removal again.
func (c *Container) markDead() {
	c.mu.Lock()
	c.State.RemovalInProgress = false
	c.State.Dead = true
	c.mu.Unlock()
	c.saveOrLog()
}

// Prune removes every stopped container the filters (until, label)
// select.
func (s *Service) Prune(ctx context.Context, f filters.Args) (containertypes.PruneReport, error) {
	report := containertypes.PruneReport{ContainersDeleted: []string{}}
	if err := f.Validate("until", "label", "label!"); err != nil {
		return report, err
	}
	var until time.Time
	for _, v := range f.Get("until") {
		t, err := filters.ParseTime(v, now())
		if err != nil {
			return report, err
		}
		until = t
	}
	for _, c := range s.idx.list() {
		r := c.snapshot()
		if r.State.Running || r.State.RemovalInProgress {
			continue
		}
		if !until.IsZero() && !r.Created.Before(until) {
			continue
		}
		if !f.MatchLabels("label", r.Config.Labels) || !matchNegatedLabels(f, r.Config.Labels) {
			continue
		}
		var rw int64
		if size, _, err := s.deps.Layers.RWLayerSize(r.ID); err == nil {
			rw = size
		}
		if err := s.Remove(ctx, r.ID, RemoveOptions{}); err != nil {
			if errdefs.IsNotFound(err) {
				continue
			}
			slog.Warn("prune: removing container", "container", r.ID, "err", err)
			continue
		}
		report.ContainersDeleted = append(report.ContainersDeleted, r.ID)
		report.SpaceReclaimed += uint64(rw)
	}
	s.deps.Events.Publish(events.ContainerEventType, events.ActionPrune, "", map[string]string{
		"reclaimed": fmt.Sprintf("%d", report.SpaceReclaimed),
	})
	return report, nil
}

// matchNegatedLabels applies "label!" terms as Docker's prune does: a
// container is kept only when it carries every one of them.
func matchNegatedLabels(f filters.Args, labels map[string]string) bool {
	return !(f.Has("label!") && f.MatchLabels("label!", labels))
}
