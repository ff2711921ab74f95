package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/server/httputils"
	systemrouter "github.com/berth-dev/berth/internal/server/router/system"
)

// Version is berth's engine version as reported by /version. It claims
// the Docker release whose API berth implements, since clients gate
// features on it.
const Version = "28.3.0"

// run builds every service, serves until ctx ends, then shuts down.
func run(ctx context.Context, cfg config.Config) error {
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := os.MkdirAll(cfg.ExecRoot, 0o711); err != nil {
		return err
	}
	if err := writePidfile(cfg.Pidfile); err != nil {
		return err
	}
	defer os.Remove(cfg.Pidfile)

	bus := events.New()
	sys := &systemInfo{cfg: &cfg, events: bus}
	routers := []httputils.Router{systemrouter.New(sys, bus)}

	srv := server.New(Version, routers...)
	var listeners []net.Listener
	for _, h := range cfg.Hosts {
		ls, err := listen(h)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("listen %s: %w", h, err)
		}
		listeners = append(listeners, ls...)
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		slog.Info("API listen", "addr", l.Addr().String())
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	slog.Info("daemon ready", "version", Version, "data-root", cfg.DataRoot)
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	srv.Shutdown(sctx)
	return err
}
