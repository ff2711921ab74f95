package container

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// This file declares what the container service needs from the rest of
// the engine. Each interface is the consumer's view: as small as the
// service's use of it, so that tests use small fakes and internal/daemon
// adapts the concrete services (image, network, shim, oci, logs, events).

// Image is what create needs to know of an image.
type Image struct {
	ID       string // "sha256:..."
	Config   dockerspec.DockerOCIImage
	RepoTags []string
}

// ImageGetter resolves an image reference or ID. A missing image is an
// errdefs.ErrNotFound whose text is Docker's ("No such image: busybox:latest").
type ImageGetter interface {
	GetImage(ctx context.Context, refOrID string) (*Image, error)
}

// RWLayers manages each container's read-write layer over its image.
//
// Lifecycle: CreateRWLayer at container create; MountRWLayer before every
// start (it returns the merged rootfs and is idempotent); UnmountRWLayer
// after every exit; RemoveRWLayer when the container is removed (also
// idempotent, so a removal interrupted by a crash can be replayed).
type RWLayers interface {
	CreateRWLayer(containerID, imageID string) error
	MountRWLayer(containerID string) (rootfs string, err error)
	UnmountRWLayer(containerID string) error
	RemoveRWLayer(containerID string) error
	RWLayerSize(containerID string) (rw, rootfs int64, err error)
	// RWLayerGraphDriver is inspect's GraphDriver.Data (UpperDir, ...).
	RWLayerGraphDriver(containerID string) (map[string]string, error)
}

// EndpointRequest asks the network service for a container's network.
type EndpointRequest struct {
	ContainerID string
	Name        string // the container's name, for the network's messages
	Mode        string // "", "default", "bridge", "none", "host"
	Ports       network.PortMap
	Exposed     network.PortSet
	PublishAll  bool
	Hostname    string
}

// Endpoint is a container's attachment to the network. It is persisted
// with the container so that a restarted daemon can restore or release it.
type Endpoint struct {
	ContainerID, Mode, NetworkID, EndpointID, NetNSPath, Bridge, MacAddress string
	IPAddress, Gateway                                                      netip.Addr
	PrefixLen                                                               int
	Ports                                                                   network.PortMap // actual bindings
}

// NetworkAttacher connects containers to the network.
//
// Connect is called on every start, before the runtime creates the
// container (the spec joins Endpoint.NetNSPath); it undoes its own work
// on failure. Disconnect is called after every exit and must be
// idempotent. Restore re-adopts the endpoints of containers that kept
// running while the daemon was down.
type NetworkAttacher interface {
	Connect(ctx context.Context, req EndpointRequest) (*Endpoint, error)
	Disconnect(ctx context.Context, ep *Endpoint) error
	Restore(ctx context.Context, eps []*Endpoint) error
	// ResolvConfWith is the container's /etc/resolv.conf, with its own
	// --dns, --dns-search and --dns-option when given.
	ResolvConfWith(dns, search, options []string) []byte
	Hosts(hostname string, ip netip.Addr) []byte
}

// LogConfig tells the shim how to write the container's log.
type LogConfig struct {
	Driver string // json-file, local, none
	Path   string
	Opts   map[string]string
}

// ShimConfig describes the shim to spawn for one container.
type ShimConfig struct {
	ID          string
	Bundle      string // holds config.json; its root.path is the mounted rootfs
	StateDir    string // the shim's own directory; survives daemon restarts
	Runtime     string
	RuntimeArgs []string
	RuntimeRoot string
	Terminal    bool
	OpenStdin   bool
	StdinOnce   bool
	Log         LogConfig
}

// Exit is how a container's (or an exec's) process ended.
type Exit struct {
	Code      int
	ExitedAt  time.Time
	OOMKilled bool
}

// StreamOptions selects the streams of an attach.
type StreamOptions struct {
	Stdin, Stdout, Stderr bool
}

// ExecConfig registers an exec process with the shim.
type ExecConfig struct {
	ID       string
	Process  specs.Process
	Terminal bool
	Stdin    bool
}

// ShimLauncher starts shims and finds them again after a daemon restart.
type ShimLauncher interface {
	// Spawn starts the shim and has the runtime create (not start) the
	// container, so that attaches connect before the first byte of
	// output. Runtime errors carry the runtime's message.
	Spawn(ctx context.Context, cfg ShimConfig) (Shim, error)
	// Connect reaches the shim of a container that kept running while
	// the daemon was down; errdefs.ErrNotFound when the shim is gone.
	Connect(ctx context.Context, stateDir string) (Shim, error)
	// ReadExit reads the exit status a vanished shim recorded.
	ReadExit(stateDir string) (*Exit, error)
}

// Shim is the client of one container's shim.
//
// Attach streams read exactly the Engine API attach stream (multiplexed
// frames unless the container has a terminal) and write the container's
// stdin; CloseWrite on the connection is stdin EOF. The shim closes the
// stream once the process exited and its output drained. Wait returns
// after the same point. Shutdown is called after the exit: it deletes the
// runtime state and returns when the shim process is gone. Close drops
// this client's connections only.
type Shim interface {
	Start(ctx context.Context) (pid int, err error)
	Attach(ctx context.Context, opts StreamOptions) (net.Conn, error)
	Wait(ctx context.Context) (Exit, error)
	Kill(ctx context.Context, sig syscall.Signal, all bool) error
	Resize(ctx context.Context, width, height uint16) error
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
	Pids(ctx context.Context) ([]int, error)
	Exec(ctx context.Context, cfg ExecConfig) error
	ExecAttach(ctx context.Context, execID string, opts StreamOptions) (net.Conn, error)
	ExecStart(ctx context.Context, execID string) (pid int, err error)
	ExecWait(ctx context.Context, execID string) (Exit, error)
	ExecResize(ctx context.Context, execID string, width, height uint16) error
	Shutdown(ctx context.Context) error
	Close() error
}

// EventPublisher is the daemon's event bus.
type EventPublisher interface {
	Publish(typ events.Type, action events.Action, id string, attrs map[string]string)
}

// SpecInput is what the OCI spec is built from (field for field the
// input of internal/oci.Spec).
type SpecInput struct {
	ID, Hostname, Domainname string
	Config                   *containertypes.Config
	HostConfig               *containertypes.HostConfig
	Args                     []string
	Rootfs                   string
	NetNSPath                string
	HostNetwork              bool
	ExtraMounts              []specs.Mount
	CgroupsPath              string
	// IPCNSPath and PIDNSPath are the namespaces to join for IpcMode
	// and PidMode "container:<id>".
	IPCNSPath, PIDNSPath string
}

// SpecFunc builds a container's OCI runtime spec.
type SpecFunc func(in SpecInput) (*specs.Spec, error)

// ExecInput describes an exec process (field for field internal/oci.ExecInput).
type ExecInput struct {
	Cmd              []string
	Env              []string // the exec's own, over the container's
	User, WorkingDir string   // "" keeps the container's
	Tty, Privileged  bool
	GroupAdd         []string // the container's HostConfig.GroupAdd
	ConsoleSize      [2]uint  // {height, width} with Tty
}

// ExecProcessFunc builds an exec's process from the container's spec.
type ExecProcessFunc func(base *specs.Spec, rootfs string, in ExecInput) (*specs.Process, error)

// LogReadConfig selects log messages to read.
type LogReadConfig struct {
	Since, Until time.Time
	Tail         int // -1: all
	Follow       bool
}

// LogMessage is one log line.
type LogMessage struct {
	Stream string // "stdout" or "stderr"
	Line   []byte // with its trailing newline unless partial
	Time   time.Time
}

// LogReadFunc reads a container's log, calling emit for each message in
// order. With Follow it returns when ctx ends, or once stopped is closed
// and the log is drained. An error from emit ends the read and is
// returned.
type LogReadFunc func(ctx context.Context, driver, path string, cfg LogReadConfig, stopped <-chan struct{}, emit func(LogMessage) error) error

// HostConfigValidator makes the create-time checks of a HostConfig that
// depend on the host (capabilities, rlimits, cpusets); errors are
// classified, with Docker's messages.
type HostConfigValidator func(hc *containertypes.HostConfig) error

// LogOptsValidator checks a log driver's options (Docker's messages,
// errdefs.ErrInvalidArgument).
type LogOptsValidator func(driver string, opts map[string]string) error
