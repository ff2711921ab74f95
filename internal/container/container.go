package container

import (
	"maps"
	"net"
	"strings"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
)

// record is the persisted part of a container: config.v2.json.
type record struct {
	ID         string
	Name       string // "/name"
	Created    time.Time
	Path       string
	Args       []string
	Config     *containertypes.Config
	HostConfig *containertypes.HostConfig
	ImageID    string // "sha256:..."; Config.Image is the name the user gave
	Driver     string
	// Networks are the networks the container is attached to, by name,
	// with what the user asked of each; Endpoints the live attachments
	// while it runs (none when stopped).
	Networks  map[string]*attachment `json:",omitempty"`
	Endpoints []*Endpoint            `json:",omitempty"`
	// Endpoint is the single endpoint of records written before
	// several networks: read, then moved into Endpoints and Networks.
	Endpoint *Endpoint `json:",omitempty"`
	// MountPoints are the binds, volumes and tmpfs mounts create
	// resolved (HostConfig.Tmpfs aside), sorted by destination.
	MountPoints            []MountPoint `json:",omitempty"`
	State                  State
	RestartCount           int
	LogPath                string
	ResolvConfPath         string
	HostnamePath           string
	HostsPath              string
	HasBeenManuallyStopped bool // `docker stop`/kill: unless-stopped does not restart
	HasBeenStartedBefore   bool
}

// Container is one container: its record plus what only lives while the
// daemon runs (shim client, waiters, pending attaches, restart timer).
//
// Locking: mu guards every field and is held only briefly. op serialises
// lifecycle transitions (start, exit handling, restart, pause, remove):
// each holds it from its first check to its last state change, so, for
// example, a remove that arrives while an exit is being cleaned up waits
// for the cleanup. Lock order: op before mu; never a Service lock inside mu.
type Container struct {
	record

	mu     sync.Mutex
	op     sync.Mutex
	saveMu sync.Mutex // orders writes of config.v2.json

	dir  string // <root>/<id>
	shim Shim   // set while the container has a live shim

	// exit is closed at the next exit (or at the end of a restart loop);
	// waiters for "next-exit" and "not-running" hold on to it.
	exit *exitNotice
	// removed is closed when the container is gone.
	removed chan struct{}
	// pending are attaches made before start; Start hands them the
	// shim's streams before the process runs.
	pending []*pendingAttach
	// restart is the restart manager's state.
	restart restartState
	// execs are the IDs of this container's exec sessions.
	execs []string
}

// exitNotice is closed once, when the exit it stands for happened.
type exitNotice struct {
	done chan struct{}
	code int
	err  string
}

func newExitNotice() *exitNotice { return &exitNotice{done: make(chan struct{})} }

// restartState follows Docker's restart manager: back-off starting at
// 100ms, doubling up to a minute, reset after a run of 10s or more.
type restartState struct {
	timeout time.Duration
	// cancelled means the next exit is final (stop, kill, restart):
	// no restart policy applies until the next start.
	cancelled bool
	// timer is the pending restart, nil when none.
	timer *time.Timer
	// manualRestart: `docker restart` is stopping the container, so
	// neither --rm nor the policy applies to this exit.
	manualRestart bool
}

// pendingAttach is an attach waiting for the container's start.
type pendingAttach struct {
	opts  StreamOptions
	ready chan handoff // buffered: the start never blocks on it
}

type handoff struct {
	conn net.Conn
	err  error
}

func newContainer(rec record, dir string) *Container {
	return &Container{record: rec, dir: dir, exit: newExitNotice(), removed: make(chan struct{})}
}

// snapshot copies the record under mu for readers that must not hold it.
func (c *Container) snapshot() record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.copyRecord()
}

// copyRecord must be called with mu held. Config and HostConfig are
// replaced, never mutated in place, after create; only the top-level
// maps callers may modify are cloned.
func (c *Container) copyRecord() record {
	r := c.record
	if r.Config != nil {
		cfg := *r.Config
		cfg.Labels = maps.Clone(cfg.Labels)
		r.Config = &cfg
	}
	if r.HostConfig != nil {
		hc := *r.HostConfig
		r.HostConfig = &hc
	}
	r.Networks = cloneAttachments(r.Networks)
	r.Endpoints = cloneEndpoints(r.Endpoints)
	return r
}

// notifyExit wakes the waiters of the current run and arms the next one.
// Called with mu held.
func (c *Container) notifyExit() {
	n := c.exit
	n.code = c.State.ExitCode
	n.err = c.State.Error
	close(n.done)
	c.exit = newExitNotice()
}

// exitHandled returns once the exit handler of the run that just ended
// is done: it holds op until the network and the rootfs are released,
// so taking op is the barrier (stop must not return before the ports
// are free).
func (c *Container) exitHandled() {
	c.op.Lock()
	defer c.op.Unlock()
}

// eventAttrs are the attributes Docker puts on every container event:
// the labels, the image as the user named it, and the name.
func (c *Container) eventAttrs() map[string]string {
	attrs := make(map[string]string, len(c.Config.Labels)+4)
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["image"] = c.Config.Image
	attrs["name"] = strings.TrimPrefix(c.Name, "/")
	return attrs
}

// stopTimeout is how long stop waits before SIGKILL, in seconds.
func (c *Container) stopTimeout() int {
	if c.Config.StopTimeout != nil {
		return *c.Config.StopTimeout
	}
	return defaultStopTimeout
}

const defaultStopTimeout = 10
