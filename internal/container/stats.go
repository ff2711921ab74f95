package container

import (
	"context"
	"time"

	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/internal/stats"
)

// StatsOptions choose between one sample and a stream of them.
type StatsOptions struct {
	// Stream sends a sample each second until the client goes.
	Stream bool
	// OneShot, without Stream, sends the first sample at once, with no
	// previous CPU figures.
	OneShot bool
}

// statsInterval is how far apart samples are, as Docker's collector.
const statsInterval = time.Second

// Stats reports a container's resource usage as Docker's stats endpoint
// does: samples a second apart, each carrying the CPU figures of the one
// before (precpu), from which clients compute a CPU percentage. Without
// Stream it sends one sample: the second, so that precpu is set, or with
// OneShot the first. A container that is not running reports zeros.
func (s *Service) Stats(ctx context.Context, ref string, opts StatsOptions, send func(*containertypes.StatsResponse) error) error {
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	tick := time.NewTicker(statsInterval)
	defer tick.Stop()
	var prev containertypes.StatsResponse
	for first := true; ; first = false {
		cur, running := c.sample()
		if !running && !opts.Stream {
			return send(&containertypes.StatsResponse{ID: cur.ID, Name: cur.Name})
		}
		cur.PreCPUStats, cur.PreRead = prev.CPUStats, prev.Read
		prev = cur
		if opts.Stream || opts.OneShot || !first {
			if err := send(&cur); err != nil || !opts.Stream {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sample reads the container's usage now: zeros (with its name and ID)
// when it does not run, or its process is gone before it could be read.
func (c *Container) sample() (containertypes.StatsResponse, bool) {
	c.mu.Lock()
	id, name, pid := c.ID, c.Name, c.State.Pid
	running := c.State.Running && !c.State.Restarting && pid > 0
	// Docker reports the network of a container's own namespace only.
	mode := c.HostConfig.NetworkMode
	ownNet := !mode.IsHost() && !mode.IsContainer()
	c.mu.Unlock()
	var cur containertypes.StatsResponse
	if running {
		var err error
		if cur, err = stats.Read(pid, ownNet); err != nil {
			cur, running = containertypes.StatsResponse{}, false
		}
	}
	cur.ID, cur.Name = id, name
	return cur, running
}
