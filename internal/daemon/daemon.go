package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/config"
	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/image/distribution"
	"github.com/berth-dev/berth/internal/network"
	"github.com/berth-dev/berth/internal/runtime/shim"
	"github.com/berth-dev/berth/internal/runtime/shim/shimexe"
	"github.com/berth-dev/berth/internal/server"
	"github.com/berth-dev/berth/internal/server/httputils"
	containerrouter "github.com/berth-dev/berth/internal/server/router/container"
	imagerouter "github.com/berth-dev/berth/internal/server/router/image"
	networkrouter "github.com/berth-dev/berth/internal/server/router/network"
	systemrouter "github.com/berth-dev/berth/internal/server/router/system"
	volumerouter "github.com/berth-dev/berth/internal/server/router/volume"
	"github.com/berth-dev/berth/internal/volume"
)

// Version is berth's engine version as reported by /version. It claims
// the Docker release whose API berth implements, since clients gate
// features on it.
const Version = "28.3.0"

// services are the daemon's long-lived parts, in start order.
type services struct {
	images     *image.Service     // the image store; closing it ends pulls and pushes
	archives   *image.Archiver    // import, load, save
	registries *image.Distributor // pull, push, login, search
	network    *network.Service
	volumes    *volume.Service
	containers *ctr.Service
}

// build constructs and wires every service. On error, what was built is
// closed again.
func build(ctx context.Context, cfg *config.Config, bus *events.Bus) (*services, error) {
	s := &services{}
	var err error
	s.images, err = image.New(ctx, image.Config{
		Root:   filepath.Join(cfg.DataRoot, "image"),
		Events: bus,
	})
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	s.archives = image.NewArchiver(s.images)
	s.registries, err = image.NewDistributor(s.images, image.DistributorConfig{
		MaxConcurrentDownloads: cfg.MaxConcurrentDownloads,
		MaxConcurrentUploads:   cfg.MaxConcurrentUploads,
		InsecureRegistries:     cfg.InsecureRegistries,
		Mirrors:                cfg.Mirrors,
		UserAgent:              "berth/" + Version,
		CertsDir:               distribution.DefaultCertsDir,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("image store: %w", err)
	}
	s.network, err = network.New(ctx, networkConfig(cfg, bus))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("network: %w", err)
	}
	if s.volumes, err = newVolumes(cfg, bus); err != nil {
		s.close()
		return nil, fmt.Errorf("volumes: %w", err)
	}
	runtimes := map[string]ctr.Runtime{}
	for name, rt := range cfg.Runtimes {
		runtimes[name] = ctr.Runtime{Path: rt.Path, Args: rt.Args}
	}
	deps := ContainerDeps(s.images, s.network, bus, "")
	deps.Spec = specBuilder(cfg.Init, cfg.InitPath)
	deps.Volumes = volumeMounter{s.volumes}
	s.containers, err = ctr.New(ctr.Config{
		Root:           filepath.Join(cfg.DataRoot, "containers"),
		ExecRoot:       cfg.ExecRoot,
		DefaultRuntime: cfg.DefaultRuntime,
		Runtimes:       runtimes,
		LogDriver:      cfg.LogConfig.Type,
		LogOpts:        cfg.LogConfig.Config,
	}, deps)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("containers: %w", err)
	}
	s.images.SetContainerUsage(s.containers.ImageUsers)
	s.images.SetContainerRunning(s.containers.IsRunning)
	// Shims run from the small program appended to berth, when it is.
	if err := shimexe.Prepare(); err != nil {
		slog.Warn("shims re-execute the whole berth binary", "err", err)
	}
	// A spare shim process makes the first container start as fast as
	// the following ones.
	if err := shim.Prestart(""); err != nil {
		slog.Warn("no spare shim", "err", err)
	}
	// Restore reconnects to running shims, records exits that happened
	// while the daemon was down and applies restart policies.
	if err := s.containers.Restore(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("restore containers: %w", err)
	}
	return s, nil
}

// close stops the services in reverse order. Containers keep running in
// their shims (live restore is always on).
func (s *services) close() {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if s.containers != nil {
		if err := s.containers.Shutdown(ctx); err != nil {
			slog.Warn("container service shutdown", "err", err)
		}
	}
	if s.network != nil {
		s.network.Close()
	}
	if s.images != nil {
		s.images.Close()
	}
}

// run builds every service, serves until ctx ends, then shuts down.
func run(ctx context.Context, cfg config.Config) error {
	start := time.Now()
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

	// Listen before building anything: a bad -H fails the start with
	// nothing created (no bridge, no mounts), and clients that connect
	// while containers are restored wait in the backlog instead of failing.
	var listeners []net.Listener
	closeListeners := func() {
		for _, l := range listeners {
			l.Close()
		}
	}
	for _, h := range cfg.Hosts {
		ls, err := listen(h)
		if err != nil {
			closeListeners()
			return fmt.Errorf("listen %s: %w", h, err)
		}
		listeners = append(listeners, ls...)
	}

	bus := events.New()
	svcs, err := build(ctx, &cfg, bus)
	if err != nil {
		closeListeners()
		return err
	}
	defer svcs.close()

	sys := &systemInfo{cfg: &cfg, events: bus, counts: func(context.Context) (all, running, paused, stopped, images int) {
		all, running, paused, stopped = svcs.containers.Counts()
		return all, running, paused, stopped, svcs.images.Count()
	}, registries: svcs.registries.RegistryConfig}
	routers := []httputils.Router{
		systemrouter.New(sys, bus, diskUsage{svcs.images, svcs.containers, svcs.volumes}),
		containerrouter.New(svcs.containers, svcs.containers.Execs()),
		imagerouter.New(svcs.images, svcs.archives, svcs.registries),
		volumerouter.New(svcs.volumes),
		networkrouter.New(svcs.network, svcs.containers),
	}
	srv := server.New(Version, routers...)
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		slog.Info("API listen", "addr", l.Addr().String())
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	slog.Info("daemon ready", "version", Version, "data-root", cfg.DataRoot, "startup", time.Since(start).Round(time.Millisecond))
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	srv.Shutdown(sctx)
	return err
}
