package container

import (
	"context"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
)

// WaitResult is how the awaited exit ended.
type WaitResult struct {
	StatusCode int
	// Error is the container's error (for example why its start
	// failed); empty when none.
	Error string
}

// Wait registers a waiter and returns at once; the channel delivers the
// result when the condition is met (not-running, next-exit, removed), or
// nothing if ctx ends first. Registering before the start is what lets
// `docker run` never miss a fast exit.
func (s *Service) Wait(ctx context.Context, ref string, cond containertypes.WaitCondition) (<-chan WaitResult, error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, err
	}
	switch cond {
	case "":
		cond = containertypes.WaitConditionNotRunning
	case containertypes.WaitConditionNotRunning, containertypes.WaitConditionNextExit, containertypes.WaitConditionRemoved:
	default:
		return nil, errdefs.ErrInvalidArgument.WithMessage("invalid condition: " + string(cond))
	}
	out := make(chan WaitResult, 1)
	c.mu.Lock()
	if cond == containertypes.WaitConditionNotRunning && !c.State.Running {
		out <- WaitResult{StatusCode: c.State.ExitCode, Error: c.State.Error}
		c.mu.Unlock()
		return out, nil
	}
	notice, removed := c.exit, c.removed
	c.mu.Unlock()

	go func() {
		var exitC <-chan struct{}
		if cond != containertypes.WaitConditionRemoved {
			exitC = notice.done
		}
		select {
		case <-exitC:
			out <- WaitResult{StatusCode: notice.code, Error: notice.err}
		case <-removed:
			// A removal clears the container's error, as Docker's does:
			// `docker run --rm` of a command that failed to start gets
			// the start error, not also a wait error.
			c.mu.Lock()
			out <- WaitResult{StatusCode: c.State.ExitCode}
			c.mu.Unlock()
		case <-ctx.Done():
		}
	}()
	return out, nil
}
