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

// VolumeRequest names a volume a container uses: an empty Name asks for
// a new anonymous volume, an empty Driver for the default driver. Labels
// and DriverOpts apply when the volume is created.
type VolumeRequest struct {
	Name, Driver       string
	Labels, DriverOpts map[string]string
}

// VolumeRef is a volume a container references.
type VolumeRef struct {
	Name, Driver string
	Path         string // the volume's data on the host
	Created      bool   // the reference created the volume
}

// VolumeMount is a volume mounted for a container's start (the fields
// of Docker's volume "mount" event).
type VolumeMount struct {
	Name, ContainerID, Destination, Propagation string
	RW                                          bool
}

// VolumeMounter is the volume store as containers use it.
//
// Reference at container create makes the container one of the
// volume's users (creating the volume unless it exists) until Release
// at its removal; a volume with users cannot be removed. Populate, at
// create, copies what the image has at a mount point into an empty
// volume. Mount before every start returns the host path to bind, and
// Unmount follows every exit. Restore counts a container's references
// again after a daemon restart (running: it kept the volume mounted).
// RemoveUnused is rm -v and --rm for anonymous volumes: a volume another
// container still uses stays, without error.
type VolumeMounter interface {
	Reference(ctx context.Context, req VolumeRequest, containerID string) (VolumeRef, error)
	Populate(ctx context.Context, name, rootfs, dest string) error
	Mount(ctx context.Context, m VolumeMount) (hostPath string, err error)
	Unmount(name, containerID string)
	Release(name, containerID string)
	Restore(name, containerID string, running bool) error
	RemoveUnused(ctx context.Context, name string) error
}

// EndpointRequest asks the network service for one of a container's
// endpoints (field for field internal/network.EndpointRequest).
type EndpointRequest struct {
	ContainerID string
	Name        string // the container's name without "/": its DNS name, and the network's messages
	// Network is a network name, ID or ID prefix; "", "default" mean
	// "bridge"; "none" and "host" the special networks.
	Network                  string
	Aliases                  []string   // --network-alias, user-defined networks only
	IPv4Address, IPv6Address netip.Addr // --ip, --ip6; zero: allocate
	MacAddress               string
	Ports                    network.PortMap // published on this endpoint
	Exposed                  network.PortSet
	PublishAll               bool
	Hostname                 string
	// Primary is the container's first endpoint: the ports are
	// published on it.
	Primary bool
	// DNS are the container's --dns servers: the upstreams of its
	// embedded DNS server on user-defined networks.
	DNS []string
	// Links are the container's links as "name:alias": on a
	// user-defined network, alias resolves to the linked container for
	// this container only.
	Links []string
}

// Endpoint is one attachment of a container to a network. It is
// persisted with the container so that a restarted daemon can restore or
// release it. Records written before several networks existed have no
// Network: their Mode names the network.
type Endpoint struct {
	ContainerID, Name, Network, NetworkID, EndpointID, Driver string
	Mode                                                      string // "bridge" (every bridge network), "macvlan", "none", "host"
	NetNSPath, Bridge, MacAddress                             string
	IfName                                                    string // eth0, eth1... in the container
	IPAddress, Gateway                                        netip.Addr
	PrefixLen                                                 int
	IPv6Address, IPv6Gateway                                  netip.Addr
	IPv6PrefixLen                                             int
	Aliases, DNSNames                                         []string
	Ports                                                     network.PortMap // actual bindings
	DNS                                                       []string        // upstreams of the embedded DNS server
	Links                                                     []string        // "name:alias", user-defined networks
}

// NetworkAttacher connects containers to networks.
//
// A container's endpoints share one namespace: the first Connect (the
// Primary one, on every start, before the runtime creates the container,
// whose spec joins Endpoint.NetNSPath) creates it, later ones add an
// interface to it, also while the container runs. Connect undoes its own
// work on failure. Disconnect is idempotent; the last endpoint's removes
// the namespace. Restore re-adopts the endpoints of containers that kept
// running while the daemon was down.
type NetworkAttacher interface {
	Connect(ctx context.Context, req EndpointRequest) (*Endpoint, error)
	Disconnect(ctx context.Context, ep *Endpoint) error
	Restore(ctx context.Context, eps []*Endpoint) error
	// ResolvConfWith is the container's /etc/resolv.conf, with its own
	// --dns, --dns-search and --dns-option when given; embedded points
	// it at the embedded DNS server of user-defined networks.
	ResolvConfWith(dns, search, options []string, embedded bool) []byte
	Hosts(hostname string, ip netip.Addr) []byte
	// LookupNetwork resolves a network name, full ID or unique ID
	// prefix; errdefs.ErrNotFound "network X not found" otherwise.
	LookupNetwork(ref string) (id, name, driver string, err error)
	// HostGateway is the address --add-host x:host-gateway stands for.
	HostGateway() netip.Addr
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
	// Update sets the running container's cgroup limits.
	Update(ctx context.Context, res *specs.LinuxResources) error
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

// ResourcesFunc builds the cgroup limits of a container's resources, as
// its runtime spec has them.
type ResourcesFunc func(r *containertypes.Resources) (*specs.LinuxResources, error)

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
// classified, with Docker's messages. Limits the host cannot apply are
// discarded from hc, with a warning each.
type HostConfigValidator func(hc *containertypes.HostConfig) (warnings []string, err error)

// LogOptsValidator checks a log driver's options (Docker's messages,
// errdefs.ErrInvalidArgument).
type LogOptsValidator func(driver string, opts map[string]string) error
