package container

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// Restart back-off, as Docker's restart manager.
const (
	backoffInitial = 100 * time.Millisecond
	backoffMax     = time.Minute
	// backoffReset: a run at least this long resets the back-off.
	backoffReset = 10 * time.Second
)

// nextBackoff is the delay before the next policy restart, given the
// previous delay (0 for none yet) and how long the container ran.
func nextBackoff(prev, ranFor time.Duration) time.Duration {
	if ranFor >= backoffReset {
		prev = 0
	}
	switch {
	case prev == 0:
		return backoffInitial
	case prev < backoffMax:
		prev *= 2
	}
	if prev > backoffMax {
		prev = backoffMax
	}
	return prev
}

// policyRestarts decides whether a restart policy brings a container
// back after it exited with code: always does; unless-stopped does
// unless the user stopped it; on-failure does on a non-zero code while
// restarts stay under the maximum (0: no maximum).
func policyRestarts(p containertypes.RestartPolicy, code int, manuallyStopped bool, restarts int) bool {
	switch {
	case p.IsAlways():
		return true
	case p.IsUnlessStopped():
		return !manuallyStopped
	case p.IsOnFailure():
		return code != 0 && (p.MaximumRetryCount == 0 || restarts < p.MaximumRetryCount)
	}
	return false
}

// monitor follows each run of a container from its start to its exit:
// a goroutine per run waits on the shim (reconnecting if the connection
// breaks), records the exit, releases what the run held (shim, network
// endpoint, rootfs mount), then applies the restart policy with
// Docker's back-off, or --rm. After a daemon restart it takes back the
// runs that survived and records those that ended meanwhile (restore).
// Its goroutines and pending restarts end with the service's lifetime;
// the containers keep running.
type monitor struct {
	cfg     *Config
	shims   ShimLauncher
	network NetworkAttacher
	layers  RWLayers
	events  EventPublisher
	execs   *Execs
	life    *lifetime

	// start and autoRemove are the service's: a policy restart starts
	// the container again; --rm removes it.
	start      func(ctx context.Context, c *Container) error
	autoRemove func(c *Container)
	// unmountVolumes ends a run's use of the container's volumes.
	unmountVolumes func(id string, mps []MountPoint)

	// restored is closed when restore is done: policy restarts wait for
	// it, so they never race the restore of the network.
	restored chan struct{}
}

// watch follows a run that started, or survived a daemon restart, until
// its exit: one goroutine per running container, blocked on the shim.
// When the daemon shuts down it just returns: the container keeps
// running and restore finds it again.
func (m *monitor) watch(c *Container, sh Shim) {
	m.checkHealth(c)
	m.life.wg.Add(1)
	go func() {
		defer m.life.wg.Done()
		ctx := m.life.ctx
		exit, err := sh.Wait(ctx)
		if err != nil {
			if ctx.Err() != nil {
				sh.Close()
				return
			}
			// The shim connection broke. The shim may have died after
			// recording the exit, or the connection alone may have failed.
			exit, err = m.recoverExit(c, &sh)
			if err != nil {
				if ctx.Err() != nil {
					sh.Close()
					return
				}
				slog.Warn("lost the shim of a running container", "container", c.ID, "err", err)
				exit = Exit{Code: 255, ExitedAt: now()}
			}
		}
		m.handleExit(c, sh, exit)
	}()
}

// recoverExit finds how a container ended after its shim connection
// broke: from the exit file, or by reconnecting and waiting again.
func (m *monitor) recoverExit(c *Container, sh *Shim) (Exit, error) {
	dir := m.cfg.shimDir(c.ID)
	if e, err := m.shims.ReadExit(dir); err == nil {
		return *e, nil
	}
	nsh, err := m.shims.Connect(m.life.ctx, dir)
	if err != nil {
		return Exit{}, err
	}
	c.mu.Lock()
	if c.shim == *sh {
		c.shim = nsh
	}
	c.mu.Unlock()
	(*sh).Close()
	*sh = nsh
	return nsh.Wait(m.life.ctx)
}

// handleExit records an exit, releases what the run held, then applies
// the restart policy or --rm. Waiters are woken once the network and
// the rootfs are released, so that `docker stop x; docker run -p ...`
// never finds the port still taken.
func (m *monitor) handleExit(c *Container, sh Shim, exit Exit) {
	c.op.Lock()
	c.mu.Lock()
	if c.shim != sh {
		// A newer run owns the container (cannot happen while op
		// serialises starts, but never clobber it).
		c.mu.Unlock()
		c.op.Unlock()
		sh.Close()
		return
	}
	c.shim = nil
	if exit.ExitedAt.IsZero() {
		exit.ExitedAt = now()
	}
	ranFor := exit.ExitedAt.Sub(c.State.StartedAt)
	restart := false
	if !c.restart.cancelled && !c.HostConfig.RestartPolicy.IsNone() &&
		policyRestarts(c.HostConfig.RestartPolicy, exit.Code, c.HasBeenManuallyStopped, c.RestartCount) {
		restart = true
	}
	var delay time.Duration
	if restart {
		delay = nextBackoff(c.restart.timeout, ranFor)
		c.restart.timeout = delay
		c.RestartCount++
		c.State.setRestarting(exit)
	} else {
		c.State.setStopped(exit)
	}
	eps := c.Endpoints
	c.Endpoints = nil
	autoRemove := !restart && c.HostConfig.AutoRemove && !c.restart.manualRestart
	c.mu.Unlock()

	publishEvent(m.events, c, events.ActionDie, map[string]string{
		"exitCode":     strconv.Itoa(exit.Code),
		"execDuration": strconv.Itoa(int(ranFor.Seconds())),
	})
	m.releaseRun(c.ID, sh, eps)
	m.unmountVolumes(c.ID, c.MountPoints) // set at create, never changed
	m.execs.end(c)

	c.mu.Lock()
	c.notifyExit()
	if restart {
		c.restart.timer = time.AfterFunc(delay, func() { m.policyRestart(c) })
	}
	c.mu.Unlock()
	c.saveOrLog()
	c.op.Unlock()
	if autoRemove {
		m.autoRemove(c)
	}
}

// releaseRun frees what a run held, in parallel: the runtime state and
// the shim, the network endpoints, the rootfs mount.
func (m *monitor) releaseRun(id string, sh Shim, eps []*Endpoint) {
	ctx := context.Background()
	var wg sync.WaitGroup
	if sh != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := sh.Shutdown(ctx); err != nil {
				slog.Warn("shutting down shim", "container", id, "err", err)
			}
			sh.Close()
		}()
	}
	if len(eps) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			disconnectEndpoints(ctx, m.network, id, eps)
			for _, ep := range eps {
				publishNetworkEvent(m.events, events.ActionDisconnect, id, ep)
			}
		}()
	}
	if err := m.layers.UnmountRWLayer(id); err != nil {
		slog.Warn("unmounting rootfs", "container", id, "err", err)
	}
	wg.Wait()
	os.RemoveAll(m.cfg.bundleDir(id))
}

// policyRestart runs when the back-off delay is over.
func (m *monitor) policyRestart(c *Container) {
	select {
	case <-m.restored:
	case <-m.life.ctx.Done():
		return
	}
	c.op.Lock()
	c.mu.Lock()
	if c.restart.timer == nil || !c.State.Restarting || c.State.RemovalInProgress || m.life.ctx.Err() != nil {
		// Cancelled by stop, kill or remove meanwhile.
		c.mu.Unlock()
		c.op.Unlock()
		return
	}
	c.restart.timer = nil
	c.mu.Unlock()
	err := m.start(m.life.ctx, c)
	if err == nil {
		c.op.Unlock()
		return
	}
	slog.Warn("restart policy: start failed", "container", c.ID, "err", err)
	c.mu.Lock()
	c.State.Running = false
	c.State.Restarting = false
	c.notifyExit()
	autoRemove := c.HostConfig.AutoRemove
	c.mu.Unlock()
	c.saveOrLog()
	c.op.Unlock()
	if autoRemove {
		m.autoRemove(c)
	}
}

// cancelRestart ends a pending policy restart: the container stays
// exited. Called with c.mu held; reports whether one was pending.
func (c *Container) cancelRestart() bool {
	c.restart.cancelled = true
	if !c.State.Restarting {
		return false
	}
	if c.restart.timer != nil {
		c.restart.timer.Stop()
		c.restart.timer = nil
	}
	c.State.Running = false
	c.State.Restarting = false
	c.notifyExit()
	return true
}
