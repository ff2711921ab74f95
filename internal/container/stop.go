package container

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/signals"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
)

// StopOptions are the parameters of stop and restart.
type StopOptions struct {
	Signal  string // "" for the container's stop signal
	Timeout *int   // seconds; nil for the container's (default 10); <0 waits forever
}

// signal is the signal asked for; 0 means the container's stop signal.
func (o StopOptions) signal() (syscall.Signal, error) {
	if o.Signal == "" {
		return 0, nil
	}
	return signals.Parse(o.Signal)
}

// killWait bounds how long a SIGKILL may take to be reported as an exit.
const killWait = 30 * time.Second

func errNotRunning(id string) error {
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", id))
}

// Stop sends the stop signal, waits for the grace period, then SIGKILL.
// It returns once the exit is recorded and the run's resources released.
func (s *Service) Stop(ctx context.Context, ref string, opts StopOptions) error {
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	sig, err := opts.signal()
	if err != nil {
		return err
	}
	stopped, err := s.stop(c, sig, opts.Timeout)
	if err != nil {
		return fmt.Errorf("cannot stop container: %s: %w", ref, err)
	}
	if !stopped {
		return errdefs.ErrNotModified.WithMessage("container is already stopped")
	}
	return nil
}

// stop is Stop on a resolved container; it reports false when the
// container was not running.
func (s *Service) stop(c *Container, sig syscall.Signal, timeout *int) (bool, error) {
	ctx := context.Background()
	c.op.Lock()
	c.mu.Lock()
	if !c.State.Running {
		c.mu.Unlock()
		c.op.Unlock()
		return false, nil
	}
	if sig == 0 {
		sig = c.stopSignal()
	}
	wait := c.stopTimeout()
	if timeout != nil {
		wait = *timeout
	}
	c.HasBeenManuallyStopped = true
	if c.cancelRestart() {
		// Between two runs of a restart policy: cancelling is the stop.
		c.mu.Unlock()
		c.saveOrLog()
		c.op.Unlock()
		s.publish(c, events.ActionStop, nil)
		return true, nil
	}
	sh, notice, paused := c.shim, c.exit, c.State.Paused
	c.mu.Unlock()
	c.saveOrLog()
	err := s.signal(ctx, c, sh, sig, paused)
	c.op.Unlock()

	exited := false
	if err == nil && wait != 0 {
		var timer <-chan time.Time
		if wait > 0 {
			t := time.NewTimer(time.Duration(wait) * time.Second)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-notice.done:
			exited = true
		case <-c.removed:
			return true, nil
		case <-timer:
		}
	}
	if !exited {
		if err != nil {
			slog.Warn("stop signal failed, killing", "container", c.ID, "signal", int(sig), "err", err)
		}
		if err := s.killAndWait(c, notice); err != nil {
			return true, err
		}
	}
	c.exitHandled()
	s.publish(c, events.ActionStop, nil)
	return true, nil
}

// signal delivers sig and publishes the kill event; a paused container
// is thawed so that it can act on the signal. op is held.
func (s *Service) signal(ctx context.Context, c *Container, sh Shim, sig syscall.Signal, paused bool) error {
	if sh == nil {
		return errNotRunning(c.ID)
	}
	if err := sh.Kill(ctx, sig, false); err != nil {
		if errdefs.IsNotFound(err) {
			return nil // already gone; the monitor reports the exit
		}
		if errdefs.IsConflict(err) {
			// The process exited a moment ago (a run that ends at once,
			// under a restart policy): its exit is on the way.
			return errNotRunning(c.ID)
		}
		return fmt.Errorf("Cannot kill container %s: %w", c.ID, err)
	}
	if paused {
		if err := sh.Resume(ctx); err != nil {
			slog.Warn("cannot unpause container", "container", c.ID, "err", err)
		} else {
			c.mu.Lock()
			c.State.Paused = false
			c.mu.Unlock()
		}
	}
	s.publish(c, events.ActionKill, map[string]string{"signal": sigString(sig)})
	return nil
}

// killAndWait sends SIGKILL to every process of the run that notice
// belongs to and waits for its exit.
func (s *Service) killAndWait(c *Container, notice *exitNotice) error {
	ctx := context.Background()
	c.op.Lock()
	c.mu.Lock()
	if c.exit != notice || !c.State.Running {
		c.mu.Unlock()
		c.op.Unlock()
		return nil // that run is over
	}
	c.restart.cancelled = true
	if c.cancelRestart() {
		c.mu.Unlock()
		c.op.Unlock()
		return nil
	}
	sh, paused := c.shim, c.State.Paused
	c.mu.Unlock()
	err := s.signal(ctx, c, sh, syscall.SIGKILL, paused)
	c.op.Unlock()
	if err != nil && !errdefs.IsConflict(err) {
		return err
	}
	return awaitKilled(c, notice)
}

// awaitKilled waits for the exit a SIGKILL causes, or for the removal of
// the container.
func awaitKilled(c *Container, notice *exitNotice) error {
	select {
	case <-notice.done:
	case <-c.removed:
	case <-time.After(killWait):
		return errors.New("tried to kill container, but did not receive an exit event")
	}
	return nil
}

// Kill sends a signal (default SIGKILL). With SIGKILL it returns once
// the container is down, as Docker does.
func (s *Service) Kill(ctx context.Context, ref, signal string) error {
	sig := syscall.SIGKILL
	if signal != "" {
		var err error
		if sig, err = signals.Parse(signal); err != nil {
			return err
		}
	}
	c, err := s.lockContainer(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if !c.State.Running {
		c.mu.Unlock()
		c.op.Unlock()
		return errNotRunning(c.ID)
	}
	// Killing with the stop signal (or SIGKILL, or any signal when the
	// container names no stop signal) means "stay down", as in Docker.
	final := sig == syscall.SIGKILL || c.Config.StopSignal == "" || c.stopSignal() == sig
	c.HasBeenManuallyStopped = true
	if final {
		if c.cancelRestart() {
			c.mu.Unlock()
			c.saveOrLog()
			c.op.Unlock()
			return nil
		}
	} else if c.State.Restarting {
		c.mu.Unlock()
		c.op.Unlock()
		return nil
	}
	sh, notice, paused := c.shim, c.exit, c.State.Paused && final
	c.mu.Unlock()
	c.saveOrLog()
	err = s.signal(ctx, c, sh, sig, paused)
	c.op.Unlock()
	if err != nil || sig != syscall.SIGKILL {
		return err
	}
	if err := awaitKilled(c, notice); err != nil {
		return err
	}
	c.exitHandled()
	return nil
}

// Restart stops the container if it runs, then starts it.
func (s *Service) Restart(ctx context.Context, ref string, opts StopOptions) error {
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	sig, err := opts.signal()
	if err != nil {
		return err
	}
	c.mu.Lock()
	running := c.State.Running
	if running {
		// Neither --rm nor the restart policy applies to this exit.
		c.restart.manualRestart = true
	}
	c.mu.Unlock()
	if running {
		if _, err := s.stop(c, sig, opts.Timeout); err != nil {
			return fmt.Errorf("Cannot restart container %s: %w", ref, err)
		}
	}
	if err := s.Start(ctx, c.ID); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	s.publish(c, events.ActionRestart, nil)
	return nil
}

// Pause freezes every process of the container.
func (s *Service) Pause(ctx context.Context, ref string) error {
	c, err := s.lockContainer(ref)
	if err != nil {
		return err
	}
	defer c.op.Unlock()
	c.mu.Lock()
	switch {
	case !c.State.Running:
		err = errNotRunning(c.ID)
	case c.State.Paused:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is already paused", c.ID))
	case c.State.Restarting:
		err = errRestarting(c.ID)
	}
	sh := c.shim
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := sh.Pause(ctx); err != nil {
		return fmt.Errorf("cannot pause container %s: %w", c.ID, err)
	}
	s.setPaused(c, true)
	return nil
}

// Unpause thaws a paused container.
func (s *Service) Unpause(ctx context.Context, ref string) error {
	c, err := s.lockContainer(ref)
	if err != nil {
		return err
	}
	defer c.op.Unlock()
	c.mu.Lock()
	paused, sh := c.State.Paused, c.shim
	c.mu.Unlock()
	if !paused || sh == nil {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not paused", c.ID))
	}
	if err := sh.Resume(ctx); err != nil {
		return fmt.Errorf("Cannot unpause container %s: %w", c.ID, err)
	}
	s.setPaused(c, false)
	return nil
}

// setPaused records a pause or unpause the shim has made, and tells the
// event stream. op is held.
func (s *Service) setPaused(c *Container, paused bool) {
	c.mu.Lock()
	c.State.Paused = paused
	c.mu.Unlock()
	c.saveOrLog()
	action := events.ActionUnPause
	if paused {
		action = events.ActionPause
	}
	s.publish(c, action, nil)
}

func errRestarting(id string) error {
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is restarting, wait until the container is running", id))
}
