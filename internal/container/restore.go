package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
)

// exitLost is the exit code of a container whose shim vanished without
// recording an exit (a reboot emptied the exec root), as Docker reports.
const exitLost = 255

// Restore loads the containers from disk and reconciles them with what
// survived the daemon's absence: running containers get their shim back
// (live restore); those that exited meanwhile get their real exit code;
// interrupted removals are finished; network endpoints of live
// containers are restored; then restart policies and --rm apply to the
// containers that stopped, as on daemon start in Docker.
func (s *Service) Restore(ctx context.Context) error {
	entries, err := os.ReadDir(s.cfg.Root)
	if err != nil {
		return fmt.Errorf("restore containers: %w", err)
	}
	var all []*Container
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(s.cfg.Root, e.Name())
		rec, err := loadRecord(dir)
		if errors.Is(err, os.ErrNotExist) {
			// Create stores the record last: this one never finished.
			slog.Info("removing incomplete container", "container", e.Name())
			_ = s.deps.Layers.RemoveRWLayer(e.Name())
			os.RemoveAll(dir)
			continue
		}
		if err != nil {
			slog.Warn("skipping unreadable container", "dir", dir, "err", err)
			continue
		}
		upgradeRecord(&rec)
		upgradeMounts(&rec)
		c := newContainer(rec, dir)
		if err := s.idx.reserveName(rec.Name, rec.ID); err != nil {
			slog.Warn("container name taken twice", "container", rec.ID, "name", rec.Name)
			rec.Name = "/" + rec.ID[:12]
			c.Name = rec.Name
			_ = s.idx.reserveName(rec.Name, rec.ID)
		}
		s.idx.add(c)
		all = append(all, c)
	}

	s.restoreVolumes(all)
	s.mon.restore(ctx, all)

	for _, c := range all {
		r := c.snapshot()
		switch {
		case r.State.RemovalInProgress || r.State.Dead:
			c.op.Lock()
			c.mu.Lock()
			c.State.RemovalInProgress = true
			c.mu.Unlock()
			if err := s.destroy(c, r.HostConfig.AutoRemove); err != nil {
				slog.Warn("finishing removal", "container", r.ID, "err", err)
			}
			c.op.Unlock()
		case r.State.Running:
		case r.HostConfig.AutoRemove && r.HasBeenStartedBefore:
			s.autoRemove(c)
		case r.HasBeenStartedBefore && !r.HostConfig.RestartPolicy.IsNone() &&
			policyRestarts(r.HostConfig.RestartPolicy, r.State.ExitCode, r.HasBeenManuallyStopped && !r.HostConfig.RestartPolicy.IsAlways(), r.RestartCount):
			go func() {
				if err := s.Start(s.life.ctx, r.ID); err != nil && !errdefs.IsNotModified(err) {
					slog.Warn("restart policy on daemon start", "container", r.ID, "err", err)
				}
			}()
		}
	}
	return nil
}

// restore takes back the runs that survived the daemon's absence and
// records the exits of those that ended meanwhile; then the network
// endpoints of the live ones are restored and policy restarts may run.
func (m *monitor) restore(ctx context.Context, all []*Container) {
	var (
		mu   sync.Mutex
		live []*Container
		eps  []*Endpoint
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 16)
	)
	for _, c := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if sh := m.reconcile(ctx, c); sh != nil {
				mu.Lock()
				live = append(live, c)
				c.mu.Lock()
				eps = append(eps, cloneEndpoints(c.Endpoints)...)
				c.mu.Unlock()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(eps) > 0 {
		if err := m.network.Restore(ctx, eps); err != nil {
			slog.Warn("restoring network endpoints", "err", err)
		}
	}
	for _, c := range live {
		m.watch(c, c.shim)
	}
	close(m.restored)
}

// reconcile brings one loaded container in line with the world; it
// returns the shim of a container that is still running.
func (m *monitor) reconcile(ctx context.Context, c *Container) Shim {
	r := c.snapshot()
	dir := m.cfg.shimDir(r.ID)
	if r.State.RemovalInProgress || r.State.Dead {
		return nil
	}
	if r.State.Running && !r.State.Restarting {
		sh, err := m.shims.Connect(ctx, dir)
		if err == nil {
			// The shim records the exit before it answers waiters: an
			// exit file means the container is already gone.
			if e, err := m.shims.ReadExit(dir); err == nil {
				m.exitedWhileDown(c, sh, *e)
				return nil
			}
			c.mu.Lock()
			c.shim = sh
			c.mu.Unlock()
			return sh
		}
		if !errdefs.IsNotFound(err) {
			slog.Warn("reconnecting to shim", "container", r.ID, "err", err)
		}
		exit := Exit{Code: exitLost}
		if e, err := m.shims.ReadExit(dir); err == nil {
			exit = *e
		}
		m.exitedWhileDown(c, nil, exit)
		return nil
	}
	if r.State.Restarting {
		// The daemon stopped between two runs of a restart policy.
		c.mu.Lock()
		c.State.Running = false
		c.State.Restarting = false
		c.mu.Unlock()
		c.saveOrLog()
	}
	// A daemon killed in the middle of a start may have left a shim
	// behind a container recorded as not running.
	if sh, err := m.shims.Connect(ctx, dir); err == nil {
		slog.Info("stopping a shim left by an interrupted start", "container", r.ID)
		_ = sh.Kill(ctx, syscall.SIGKILL, true)
		_ = sh.Shutdown(ctx)
		sh.Close()
		m.releaseRun(r.ID, nil, nil)
		os.RemoveAll(dir)
	}
	return nil
}

// exitedWhileDown records the exit of a container that stopped while the
// daemon was away and releases what its run held.
func (m *monitor) exitedWhileDown(c *Container, sh Shim, exit Exit) {
	c.mu.Lock()
	c.State.setStopped(exit)
	eps := c.Endpoints
	c.Endpoints = nil
	id := c.ID
	c.mu.Unlock()
	m.releaseRun(id, sh, eps)
	m.unmountVolumes(id, c.MountPoints)
	os.RemoveAll(m.cfg.shimDir(id))
	c.saveOrLog()
}
