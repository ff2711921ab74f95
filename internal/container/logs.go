package container

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/filters"
)

// LogsOptions is a logs request.
type LogsOptions struct {
	Stdout, Stderr     bool
	Follow, Timestamps bool
	Since, Until       string // Unix seconds[.nanos], RFC 3339 or a duration
	Tail               string // "all" or a number
}

// Logs checks a logs request and returns whether the container has a tty
// (raw stream) and the function that writes the log to w. Errors found
// before the stream starts are returned here, so that they get a status.
func (s *Service) Logs(ctx context.Context, ref string, opts LogsOptions) (tty bool, stream func(w io.Writer) error, err error) {
	if !opts.Stdout && !opts.Stderr {
		return false, nil, errdefs.ErrInvalidArgument.WithMessage("You must choose at least one stream")
	}
	c, err := s.idx.get(ref)
	if err != nil {
		return false, nil, err
	}
	cfg := LogReadConfig{Tail: -1, Follow: opts.Follow}
	if t := strings.TrimSpace(opts.Tail); t != "" && t != "all" {
		if n, err := strconv.Atoi(t); err == nil && n >= 0 {
			cfg.Tail = n
		}
	}
	ref0 := now()
	if cfg.Since, err = filters.ParseTime(opts.Since, ref0); err != nil {
		return false, nil, err
	}
	if cfg.Until, err = filters.ParseTime(opts.Until, ref0); err != nil {
		return false, nil, err
	}
	c.mu.Lock()
	if c.State.RemovalInProgress || c.State.Dead {
		c.mu.Unlock()
		return false, nil, errdefs.ErrConflict.WithMessage("can not get logs from container which is dead or marked for removal")
	}
	driver, path := c.HostConfig.LogConfig.Type, c.LogPath
	tty = c.Config.Tty
	stopped := closedChan
	if c.State.Running {
		stopped = c.exit.done
	}
	c.mu.Unlock()
	if driver == "none" || path == "" {
		return false, nil, errdefs.ErrNotImplemented.WithMessage("configured logging driver does not support reading")
	}
	stream = func(w io.Writer) error {
		err := s.deps.ReadLogs(ctx, driver, path, cfg, stopped, func(m LogMessage) error {
			return writeLogMessage(w, m, tty, opts.Stdout, opts.Stderr, opts.Timestamps)
		})
		if errdefs.IsNotFound(err) || errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	}
	return tty, stream, nil
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
