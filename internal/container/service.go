package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// Runtime is an OCI runtime containers can be started with.
type Runtime struct {
	Path string
	Args []string
}

// Config is the part of the daemon's configuration the service uses.
type Config struct {
	// Root holds one directory per container: config.v2.json, the log,
	// resolv.conf, hosts and hostname. Usually <data-root>/containers.
	Root string
	// ExecRoot holds what must not outlive a reboot: OCI bundles
	// (bundles/<id>), shim state (shims/<id>) and the runtimes' state
	// (runtime-<name>). Usually the daemon's --exec-root.
	ExecRoot string
	// DefaultRuntime names the runtime used when a container names none.
	DefaultRuntime string
	Runtimes       map[string]Runtime
	// LogDriver and LogOpts are the default log configuration.
	LogDriver string
	LogOpts   map[string]string
	// CgroupParent is where containers' cgroups go unless their
	// HostConfig says otherwise; "/berth" when empty.
	CgroupParent string
}

// Deps are the services the container service drives. All are required
// unless marked optional.
type Deps struct {
	Images          ImageGetter
	Layers          RWLayers
	Network         NetworkAttacher
	Shims           ShimLauncher
	Events          EventPublisher
	Spec            SpecFunc
	Resources       ResourcesFunc // a running container's limits, for update
	ExecProcess     ExecProcessFunc
	ReadLogs        LogReadFunc
	ValidateLogOpts LogOptsValidator

	// Optional. ValidateHostConfig adds host-dependent create checks;
	// HostConfigDefaults fills what Docker writes into a new container's
	// HostConfig (masked paths and the like) so that inspect shows it.
	ValidateHostConfig HostConfigValidator
	HostConfigDefaults func(hc *containertypes.HostConfig)
	// Volumes serves named and anonymous volumes; without it, mounts
	// of volumes answer "not implemented".
	Volumes VolumeMounter
	// Commits reads and commits rw layers (diff, export, commit); without
	// it those answer "not implemented".
	Commits ImageCommitter
	// Files views containers' filesystems for the archive endpoints
	// (docker cp); without it those answer "not implemented".
	Files FilesystemViews
}

// Service manages every container of the daemon: create, start, stop,
// restart, kill, pause, unpause, rename, update, resize, wait, remove
// and prune; list, inspect, top, logs and attach; Restore after a daemon
// restart. The index finds containers by ID, name or ID prefix; each
// persists its own record (config.v2.json). Each run is followed to its
// exit by the monitor, and exec sessions are the Execs'.
type Service struct {
	cfg   Config
	deps  Deps
	idx   *index
	execs *Execs
	mon   *monitor
	life  *lifetime
}

// lifetime bounds the service's background work, from New to Shutdown:
// the goroutines that wait on shims for the exits of containers and of
// exec processes, and pending policy restarts, run under ctx and are
// counted by wg. Shutdown cancels ctx and waits; containers keep running.
type lifetime struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newLifetime() *lifetime {
	l := &lifetime{}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// New makes the service. Call Restore before serving requests.
func New(cfg Config, deps Deps) (*Service, error) {
	if cfg.Root == "" || cfg.ExecRoot == "" {
		return nil, errors.New("container service: Root and ExecRoot are required")
	}
	if deps.Images == nil || deps.Layers == nil || deps.Network == nil || deps.Shims == nil || deps.Events == nil ||
		deps.Spec == nil || deps.Resources == nil || deps.ExecProcess == nil || deps.ReadLogs == nil || deps.ValidateLogOpts == nil {
		return nil, errors.New("container service: every dependency is required")
	}
	if cfg.DefaultRuntime == "" {
		cfg.DefaultRuntime = "runc"
	}
	if cfg.Runtimes == nil {
		cfg.Runtimes = map[string]Runtime{}
	}
	if _, ok := cfg.Runtimes[cfg.DefaultRuntime]; !ok {
		cfg.Runtimes[cfg.DefaultRuntime] = Runtime{Path: cfg.DefaultRuntime}
	}
	if cfg.LogDriver == "" {
		cfg.LogDriver = "json-file"
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "/berth"
	}
	for _, dir := range []string{cfg.Root, filepath.Join(cfg.ExecRoot, "bundles"), filepath.Join(cfg.ExecRoot, "shims")} {
		if err := os.MkdirAll(dir, 0o710); err != nil {
			return nil, fmt.Errorf("container service: %w", err)
		}
	}
	s := &Service{cfg: cfg, deps: deps, idx: newIndex(), life: newLifetime()}
	s.execs = newExecs(s.idx, &s.cfg, deps.ExecProcess, deps.Events, s.life)
	s.mon = &monitor{
		cfg:            &s.cfg,
		shims:          deps.Shims,
		network:        deps.Network,
		layers:         deps.Layers,
		events:         deps.Events,
		execs:          s.execs,
		life:           s.life,
		start:          s.start,
		autoRemove:     s.autoRemove,
		unmountVolumes: s.unmountVolumes,
		restored:       make(chan struct{}),
	}
	return s, nil
}

// Execs are the exec sessions of the service's containers.
func (s *Service) Execs() *Execs { return s.execs }

// Shutdown is the daemon stopping: containers keep running (live
// restore is always on); exit monitors and pending restarts stop, shim
// connections close. It returns when the monitors are gone or ctx ends.
func (s *Service) Shutdown(ctx context.Context) error {
	s.life.cancel()
	for _, c := range s.idx.list() {
		c.mu.Lock()
		if c.restart.timer != nil {
			c.restart.timer.Stop()
			c.restart.timer = nil
		}
		c.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { s.life.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Counts reports container totals for /info.
func (s *Service) Counts() (all, running, paused, stopped int) {
	for _, c := range s.idx.list() {
		c.mu.Lock()
		all++
		// As Docker counts: a restarting container is not running.
		switch c.State.StateString() {
		case containertypes.StatePaused:
			paused++
		case containertypes.StateRunning:
			running++
		default:
			stopped++
		}
		c.mu.Unlock()
	}
	return all, running, paused, stopped
}

// ImageUsers lists the containers created from an image, for the image
// service (rmi conflicts, `docker images` container counts).
func (s *Service) ImageUsers(imageID string) []string {
	var ids []string
	for _, c := range s.idx.list() {
		c.mu.Lock()
		if c.ImageID == imageID {
			ids = append(ids, c.ID)
		}
		c.mu.Unlock()
	}
	return ids
}

// IsRunning reports whether a container runs (paused counts), for the
// image service's removal checks.
func (s *Service) IsRunning(containerID string) bool {
	c, err := s.idx.get(containerID)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.State.Running
}

// Get resolves a container reference (full ID, name, unique ID prefix)
// to its full ID and name, for other services (networks, volumes).
func (s *Service) Get(ref string) (id, name string, err error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return "", "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ID, c.Name, nil
}

// lockContainer looks up the container ref names and takes its op lock,
// held by every lifecycle transition; the caller unlocks c.op.
func (s *Service) lockContainer(ref string) (*Container, error) {
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, err
	}
	c.op.Lock()
	return c, nil
}

// bundleDir is where a running container's OCI bundle is.
func (cfg *Config) bundleDir(id string) string { return filepath.Join(cfg.ExecRoot, "bundles", id) }

// shimDir is where a container's shim keeps its sockets and exit file.
// It is named by the first 16 hex digits of the ID (IDs are random, so
// they do not collide) to keep socket paths under the 108-byte limit of
// unix sockets even with a long exec root.
func (cfg *Config) shimDir(id string) string {
	if len(id) > 16 {
		id = id[:16]
	}
	return filepath.Join(cfg.ExecRoot, "shims", id)
}

// runtimeRoot is the state directory (--root) of the runtime name.
func (cfg *Config) runtimeRoot(name string) string {
	return filepath.Join(cfg.ExecRoot, "runtime-"+name)
}

// publish sends a container event with the container's attributes plus
// extra ones. Call without c.mu held.
func (s *Service) publish(c *Container, action events.Action, extra map[string]string) {
	publishEvent(s.deps.Events, c, action, extra)
}

// publishEvent is publish for the service's parts.
func publishEvent(ev EventPublisher, c *Container, action events.Action, extra map[string]string) {
	c.mu.Lock()
	attrs := c.eventAttrs()
	id := c.ID
	c.mu.Unlock()
	for k, v := range extra {
		attrs[k] = v
	}
	ev.Publish(events.ContainerEventType, action, id, attrs)
}

// now is the wall clock in UTC, as the Engine API reports times.
func now() time.Time { return time.Now().UTC() }
