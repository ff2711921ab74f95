package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The fakes below stand in for the engine's other services so that the
// service's own logic (state machine, policies, waits, attaches) can be
// tested without root. The end-to-end suite in test/ runs the real ones.

type fakeImages struct{ images map[string]*Image }

func (f *fakeImages) GetImage(_ context.Context, ref string) (*Image, error) {
	if img, ok := f.images[ref]; ok {
		return img, nil
	}
	for _, img := range f.images {
		if img.ID == ref {
			return img, nil
		}
	}
	name := ref
	if !containsByte(name, ':') {
		name += ":latest"
	}
	return nil, errdefs.ErrNotFound.WithMessage("No such image: " + name)
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

type fakeLayers struct {
	root    string
	mu      sync.Mutex
	layers  map[string]bool
	mounted map[string]bool
	failNew bool
}

func (f *fakeLayers) CreateRWLayer(id, imageID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failNew {
		return errors.New("no space left on device")
	}
	f.layers[id] = true
	return nil
}

func (f *fakeLayers) MountRWLayer(id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.layers[id] {
		return "", errdefs.ErrNotFound.WithMessage("no layer " + id)
	}
	f.mounted[id] = true
	dir := filepath.Join(f.root, id)
	return dir, os.MkdirAll(dir, 0o755)
}

func (f *fakeLayers) UnmountRWLayer(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mounted, id)
	return nil
}

func (f *fakeLayers) RemoveRWLayer(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.layers, id)
	return nil
}

func (f *fakeLayers) RWLayerSize(id string) (int64, int64, error) { return 42, 4242, nil }

func (f *fakeLayers) RWLayerGraphDriver(id string) (map[string]string, error) {
	return map[string]string{"UpperDir": "/fake/" + id}, nil
}

func (f *fakeLayers) count() (layers, mounted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.layers), len(f.mounted)
}

// fakeNetwork is the network service's contract without the kernel: the
// default networks and those a test adds, one endpoint per container and
// network, the first endpoint of a container making its namespace.
type fakeNetwork struct {
	mu        sync.Mutex
	nets      map[string]fakeNet     // by name
	connected map[string][]*Endpoint // by container ID, in connect order
	restored  []*Endpoint
	failPorts bool
	// failDisconnectOf makes Disconnect fail for endpoints of this network.
	failDisconnectOf string
	next             int
}

type fakeNet struct{ id, driver string }

func newFakeNetwork() *fakeNetwork {
	return &fakeNetwork{
		nets: map[string]fakeNet{
			"bridge": {"netid0123456789", "bridge"},
			"host":   {"net-host", "host"},
			"none":   {"net-none", "null"},
		},
		connected: map[string][]*Endpoint{},
	}
}

// addNetwork makes a user-defined network known.
func (f *fakeNetwork) addNetwork(name, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nets[name] = fakeNet{id, "bridge"}
}

func (f *fakeNetwork) lookupLocked(ref string) (string, fakeNet, error) {
	if ref == "" || ref == "default" {
		ref = "bridge"
	}
	for name, n := range f.nets {
		if name == ref || n.id == ref {
			return name, n, nil
		}
	}
	return "", fakeNet{}, errdefs.ErrNotFound.WithMessage("network " + ref + " not found")
}

func (f *fakeNetwork) LookupNetwork(ref string) (id, name, driver string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, n, err := f.lookupLocked(ref)
	return n.id, name, n.driver, err
}

func (f *fakeNetwork) HostGateway() netip.Addr { return netip.MustParseAddr("172.17.0.1") }

func (f *fakeNetwork) Connect(_ context.Context, req EndpointRequest) (*Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name, n, err := f.lookupLocked(req.Network)
	if err != nil {
		return nil, err
	}
	if f.failPorts && len(req.Ports) > 0 {
		return nil, fmt.Errorf("driver failed programming external connectivity on endpoint %s: Bind for 0.0.0.0:8080 failed: port is already allocated: %w", req.Name, errdefs.ErrUnknown)
	}
	for _, ep := range f.connected[req.ContainerID] {
		if ep.NetworkID == n.id {
			return nil, errdefs.ErrPermissionDenied.WithMessage("endpoint with name " + req.Name + " already exists in network " + name)
		}
	}
	f.next++
	ep := &Endpoint{ContainerID: req.ContainerID, Name: req.Name, Network: name, Mode: "bridge", Driver: n.driver, NetworkID: n.id,
		EndpointID: fmt.Sprintf("ep%d", f.next), NetNSPath: "/run/netns/" + req.ContainerID, Bridge: "berth0",
		MacAddress: "02:42:ac:11:00:02", IfName: fmt.Sprintf("eth%d", len(f.connected[req.ContainerID])),
		IPAddress: netip.MustParseAddr(fmt.Sprintf("172.17.0.%d", f.next+1)), Gateway: netip.MustParseAddr("172.17.0.1"), PrefixLen: 16,
		Ports: req.Ports, Aliases: req.Aliases}
	switch n.driver {
	case "host":
		ep = &Endpoint{ContainerID: req.ContainerID, Network: name, Mode: "host", Driver: "host", NetworkID: n.id}
		return ep, nil
	case "null":
		ep = &Endpoint{ContainerID: req.ContainerID, Network: name, Mode: "none", Driver: "null", NetworkID: n.id,
			NetNSPath: "/run/netns/" + req.ContainerID}
	}
	f.connected[req.ContainerID] = append(f.connected[req.ContainerID], ep)
	return ep, nil
}

func (f *fakeNetwork) Disconnect(_ context.Context, ep *Endpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failDisconnectOf != "" && ep.Network == f.failDisconnectOf {
		return errors.New("injected disconnect failure")
	}
	eps := f.connected[ep.ContainerID]
	for i, e := range eps {
		if e.NetworkID == ep.NetworkID {
			eps = append(eps[:i:i], eps[i+1:]...)
			break
		}
	}
	if len(eps) == 0 {
		delete(f.connected, ep.ContainerID)
	} else {
		f.connected[ep.ContainerID] = eps
	}
	return nil
}

func (f *fakeNetwork) Restore(_ context.Context, eps []*Endpoint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restored = append(f.restored, eps...)
	for _, ep := range eps {
		f.connected[ep.ContainerID] = append(f.connected[ep.ContainerID], ep)
	}
	return nil
}

func (f *fakeNetwork) ResolvConfWith(dns, search, options []string, embedded bool) []byte {
	if embedded {
		return []byte("nameserver 127.0.0.11\noptions ndots:0\n")
	}
	return []byte("nameserver 8.8.8.8\n")
}

func (f *fakeNetwork) Hosts(hostname string, ip netip.Addr) []byte {
	return []byte("127.0.0.1\tlocalhost\n" + ip.String() + "\t" + hostname + "\n")
}

// count is the number of endpoints connected.
func (f *fakeNetwork) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, eps := range f.connected {
		n += len(eps)
	}
	return n
}

// endpoints are a container's endpoints.
func (f *fakeNetwork) endpoints(id string) []*Endpoint {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*Endpoint(nil), f.connected[id]...)
}

type fakeEvents struct {
	mu   sync.Mutex
	msgs []events.Message
	ch   chan events.Message
}

func (f *fakeEvents) Publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	m := events.Message{Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	select {
	case f.ch <- m:
	default:
	}
}

func (f *fakeEvents) actions(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.msgs {
		if m.Actor.ID == id {
			out = append(out, string(m.Action))
		}
	}
	return out
}

func (f *fakeEvents) find(id, action string) *events.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.msgs {
		if f.msgs[i].Actor.ID == id && string(f.msgs[i].Action) == action {
			m := f.msgs[i]
			return &m
		}
	}
	return nil
}

// fakeShims runs "programs" chosen by the container's command:
//
//	true          exits 0 at once      false   exits 1 at once
//	echo ARGS     prints ARGS, exits 0 sleep   runs until signalled
//	trap          ignores SIGTERM      nope    not found in $PATH
//	cat           copies stdin to stdout until stdin EOF, exits 0
type fakeShims struct {
	mu    sync.Mutex
	live  map[string]*fakeShim // by state dir
	exits map[string]*Exit     // recorded by shims that are gone
	spawn int
}

func (f *fakeShims) Spawn(_ context.Context, cfg ShimConfig) (Shim, error) {
	data, err := os.ReadFile(filepath.Join(cfg.Bundle, "config.json"))
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, err
	}
	args := spec.Process.Args
	if args[0] == "nope" {
		return nil, errors.New(`runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH`)
	}
	sh := &fakeShim{owner: f, cfg: cfg, args: args, exited: make(chan struct{}), stdin: make(chan []byte, 16)}
	f.mu.Lock()
	f.live[cfg.StateDir] = sh
	f.spawn++
	f.mu.Unlock()
	return sh, nil
}

func (f *fakeShims) Connect(_ context.Context, stateDir string) (Shim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sh, ok := f.live[stateDir]; ok {
		return sh.client(), nil
	}
	return nil, errdefs.ErrNotFound.WithMessage("no shim")
}

func (f *fakeShims) ReadExit(stateDir string) (*Exit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e, ok := f.exits[stateDir]; ok {
		return e, nil
	}
	return nil, errdefs.ErrNotFound.WithMessage("no exit file")
}

func (f *fakeShims) get(stateDir string) *fakeShim {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live[stateDir]
}

// vanish makes a running shim disappear as if the container exited while
// nobody listened, leaving its exit file.
func (f *fakeShims) vanish(stateDir string, code int) {
	f.mu.Lock()
	sh := f.live[stateDir]
	delete(f.live, stateDir)
	f.exits[stateDir] = &Exit{Code: code, ExitedAt: time.Now()}
	f.mu.Unlock()
	if sh != nil {
		sh.finish(code)
	}
}

type fakeShim struct {
	owner *fakeShims
	cfg   ShimConfig
	args  []string

	mu        sync.Mutex
	attaches  []net.Conn // server ends of attach streams
	started   bool
	exit      Exit
	exited    chan struct{}
	shutdown  bool
	signals   []syscall.Signal
	paused    bool
	stdin     chan []byte
	stdinOnce sync.Once
	execs     map[string]*fakeExec
	closed    bool
}

type fakeExec struct {
	args   []string
	conns  []net.Conn
	exited chan struct{}
	code   int
}

// client is a second client of the same shim (after a reconnect).
func (sh *fakeShim) client() Shim { return sh }

func (sh *fakeShim) Start(ctx context.Context) (int, error) {
	sh.mu.Lock()
	sh.started = true
	conns := append([]net.Conn(nil), sh.attaches...)
	sh.mu.Unlock()
	out := func(s string) {
		for _, c := range conns {
			if sh.cfg.Terminal {
				c.Write([]byte(s))
			} else {
				writeFrame(c, streamStdout, []byte(s))
			}
		}
	}
	switch sh.args[0] {
	case "true":
		go sh.finish(0)
	case "false":
		go sh.finish(1)
	case "echo":
		go func() {
			line := ""
			for i, a := range sh.args[1:] {
				if i > 0 {
					line += " "
				}
				line += a
			}
			out(line + "\n")
			sh.finish(0)
		}()
	case "cat":
		go func() {
			for b := range sh.stdin {
				out(string(b))
			}
			sh.finish(0)
		}()
	}
	return 4242, nil
}

func (sh *fakeShim) finish(code int) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	select {
	case <-sh.exited:
		return
	default:
	}
	sh.exit = Exit{Code: code, ExitedAt: time.Now().UTC()}
	for _, c := range sh.attaches {
		c.Close()
	}
	close(sh.exited)
}

func (sh *fakeShim) Attach(ctx context.Context, opts StreamOptions) (net.Conn, error) {
	client, server := net.Pipe()
	sh.mu.Lock()
	sh.attaches = append(sh.attaches, server)
	sh.mu.Unlock()
	if opts.Stdin {
		go func() {
			buf := make([]byte, 1024)
			for {
				n, err := server.Read(buf)
				if n > 0 {
					sh.stdin <- append([]byte(nil), buf[:n]...)
				}
				if err != nil {
					// As the real shim: any end of an attach stream is
					// stdin EOF, which closes stdin with StdinOnce.
					if sh.cfg.StdinOnce {
						sh.stdinOnce.Do(func() { close(sh.stdin) })
					}
					return
				}
			}
		}()
	}
	return client, nil
}

func (sh *fakeShim) Wait(ctx context.Context) (Exit, error) {
	select {
	case <-sh.exited:
		sh.mu.Lock()
		defer sh.mu.Unlock()
		return sh.exit, nil
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
}

func (sh *fakeShim) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	select {
	case <-sh.exited:
		// As the real shim: the process is gone, its exit on the way.
		return errdefs.ErrConflict.WithMessage("container is not running")
	default:
	}
	sh.mu.Lock()
	sh.signals = append(sh.signals, sig)
	prog := sh.args[0]
	sh.mu.Unlock()
	switch {
	case sig == syscall.SIGKILL:
		go sh.finish(137)
	case sig == syscall.SIGTERM && prog != "trap":
		go sh.finish(143)
	}
	return nil
}

func (sh *fakeShim) Resize(ctx context.Context, w, h uint16) error { return nil }
func (sh *fakeShim) Pause(ctx context.Context) error {
	sh.mu.Lock()
	sh.paused = true
	sh.mu.Unlock()
	return nil
}
func (sh *fakeShim) Resume(ctx context.Context) error {
	sh.mu.Lock()
	sh.paused = false
	sh.mu.Unlock()
	return nil
}
func (sh *fakeShim) Update(ctx context.Context, res *specs.LinuxResources) error { return nil }
func (sh *fakeShim) Pids(ctx context.Context) ([]int, error)                     { return []int{os.Getpid()}, nil }

func (sh *fakeShim) Exec(ctx context.Context, cfg ExecConfig) error {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.execs == nil {
		sh.execs = map[string]*fakeExec{}
	}
	sh.execs[cfg.ID] = &fakeExec{args: cfg.Process.Args, exited: make(chan struct{})}
	return nil
}

func (sh *fakeShim) ExecAttach(ctx context.Context, id string, opts StreamOptions) (net.Conn, error) {
	client, server := net.Pipe()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.execs[id].conns = append(sh.execs[id].conns, server)
	return client, nil
}

func (sh *fakeShim) ExecStart(ctx context.Context, id string) (int, error) {
	sh.mu.Lock()
	e := sh.execs[id]
	sh.mu.Unlock()
	if e.args[0] == "nope" {
		return 0, errors.New(`exec failed: unable to start container process: exec: "nope": executable file not found in $PATH`)
	}
	go func() {
		code := 0
		if e.args[0] == "echo" {
			for _, c := range e.conns {
				writeFrame(c, streamStdout, []byte(e.args[1]+"\n"))
			}
		}
		if e.args[0] == "false" {
			code = 1
		}
		e.code = code
		for _, c := range e.conns {
			c.Close()
		}
		close(e.exited)
	}()
	return 5000, nil
}

func (sh *fakeShim) ExecWait(ctx context.Context, id string) (Exit, error) {
	sh.mu.Lock()
	e := sh.execs[id]
	sh.mu.Unlock()
	select {
	case <-e.exited:
		return Exit{Code: e.code}, nil
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
}

func (sh *fakeShim) ExecResize(ctx context.Context, id string, w, h uint16) error { return nil }

func (sh *fakeShim) Shutdown(ctx context.Context) error {
	sh.mu.Lock()
	sh.shutdown = true
	sh.mu.Unlock()
	sh.owner.mu.Lock()
	if sh.owner.live[sh.cfg.StateDir] == sh {
		delete(sh.owner.live, sh.cfg.StateDir)
	}
	sh.owner.mu.Unlock()
	return nil
}

func (sh *fakeShim) Close() error {
	sh.mu.Lock()
	sh.closed = true
	sh.mu.Unlock()
	return nil
}

func (sh *fakeShim) gotSignals() []syscall.Signal {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return append([]syscall.Signal(nil), sh.signals...)
}

// fakeSpec is a minimal spec builder: the process and the rootfs.
func fakeResources(*containertypes.Resources) (*specs.LinuxResources, error) {
	return &specs.LinuxResources{}, nil
}

func fakeSpec(in SpecInput) (*specs.Spec, error) {
	return &specs.Spec{
		Root:     &specs.Root{Path: in.Rootfs},
		Hostname: in.Hostname,
		Process:  &specs.Process{Args: in.Args, Env: in.Config.Env, Terminal: in.Config.Tty, Cwd: "/"},
		Mounts:   in.ExtraMounts,
	}, nil
}

func fakeExecProcess(base *specs.Spec, rootfs string, in ExecInput) (*specs.Process, error) {
	return &specs.Process{Args: in.Cmd, Env: in.Env, Terminal: in.Tty, Cwd: "/"}, nil
}

// fakeLogs keeps every container's log in memory, keyed by path.
type fakeLogs struct {
	mu   sync.Mutex
	logs map[string][]LogMessage
}

func (f *fakeLogs) read(ctx context.Context, driver, path string, cfg LogReadConfig, stopped <-chan struct{}, emit func(LogMessage) error) error {
	f.mu.Lock()
	msgs := append([]LogMessage(nil), f.logs[path]...)
	f.mu.Unlock()
	if cfg.Tail >= 0 && len(msgs) > cfg.Tail {
		msgs = msgs[len(msgs)-cfg.Tail:]
	}
	for _, m := range msgs {
		if !cfg.Since.IsZero() && m.Time.Before(cfg.Since) {
			continue
		}
		if err := emit(m); err != nil {
			return err
		}
	}
	if cfg.Follow {
		select {
		case <-stopped:
		case <-ctx.Done():
		}
	}
	return nil
}

// validateLogOpts knows the drivers internal/logs has, and only their
// rotation options.
func validateLogOpts(driver string, opts map[string]string) error {
	switch driver {
	case "json-file", "local", "none":
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error looking up logging plugin %s: plugin %q not found", driver, driver))
	}
	for k := range opts {
		if k != "max-size" && k != "max-file" {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown log opt '%s' for %s log driver", k, driver))
		}
	}
	return nil
}
