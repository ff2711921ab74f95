package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Start starts a created or exited container (docker start).
func (s *Service) Start(ctx context.Context, ref string) error {
	c, err := s.lockContainer(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	switch {
	case c.State.Paused:
		err = errdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
	case c.State.Running:
		err = errdefs.ErrNotModified.WithMessage("container is already running")
	case c.State.RemovalInProgress || c.State.Dead:
		err = errdefs.ErrConflict.WithMessage("container is marked for removal and cannot be started")
	}
	if err != nil {
		c.mu.Unlock()
		c.op.Unlock()
		return err
	}
	// A manual start resets the restart manager, as Docker's does.
	c.restart = restartState{}
	c.RestartCount = 0
	c.HasBeenManuallyStopped = false
	c.mu.Unlock()
	err = s.start(ctx, c)
	c.op.Unlock()
	if err != nil {
		c.mu.Lock()
		autoRemove := c.HostConfig.AutoRemove
		c.mu.Unlock()
		if autoRemove {
			s.autoRemove(c)
		}
		return startError(err)
	}
	return nil
}

// start brings the container up; c.op is held. Mounting the rootfs and
// writing the container's files run while the network is connected; then
// the spec is written, the shim spawned (container created), pending
// attaches connected, and the process started. On any failure everything
// done is undone and the failure is recorded in the state.
func (s *Service) start(ctx context.Context, c *Container) (retErr error) {
	ctx = context.WithoutCancel(ctx)
	rec := c.snapshot()
	id, cfg, hc := rec.ID, rec.Config, rec.HostConfig

	var undo []func()
	defer func() {
		if retErr == nil {
			return
		}
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		c.failPending(retErr)
		msg, code := startFailure(retErr)
		c.mu.Lock()
		c.State.setStartFailed(msg, code)
		c.mu.Unlock()
		c.saveOrLog()
	}()

	rt, ok := s.cfg.Runtimes[hc.Runtime]
	if !ok {
		return errdefs.ErrInvalidArgument.WithMessage("Unknown runtime specified " + hc.Runtime)
	}

	// Another container's network namespace (--network container:x).
	var (
		joined     *record
		joinNetNS  string
		hostNet    = hc.NetworkMode.IsHost()
		hostname   = cfg.Hostname
		domainname = cfg.Domainname
	)
	if hc.NetworkMode.IsContainer() {
		other, err := s.idx.get(hc.NetworkMode.ConnectedContainer())
		if err != nil {
			return fmt.Errorf("cannot join network of a non running container: %w", err)
		}
		o, err := runningOwner(other, "network")
		if err != nil {
			return err
		}
		joined = &o
		joinNetNS = fmt.Sprintf("/proc/%d/ns/net", o.State.Pid)
		hostname, domainname = o.Config.Hostname, o.Config.Domainname
	}
	links, err := s.links(&rec)
	if err != nil {
		return err
	}
	netNames := orderedAttachments(rec.Networks)

	// Storage and files, while the network is connected.
	var (
		wg       sync.WaitGroup
		rootfs   string
		mounts   []specs.Mount
		volumes  func() // unmounts the volumes mounted for this start
		unpin    func() // takes away the volume subpaths' pins
		prepErr  error
		eps      []*Endpoint
		netErr   error
		bundle   = s.cfg.bundleDir(id)
		stateDir = s.cfg.shimDir(id)
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rootfs, prepErr = s.deps.Layers.MountRWLayer(id)
		if prepErr != nil {
			prepErr = fmt.Errorf("mount container rootfs: %w", prepErr)
			return
		}
		for _, dir := range []string{bundle, stateDir, filepath.Dir(rec.LogPath)} {
			if dir == "." {
				continue
			}
			if prepErr = os.MkdirAll(dir, 0o710); prepErr != nil {
				return
			}
		}
		if joined == nil {
			if prepErr = os.WriteFile(rec.HostnamePath, []byte(hostname+"\n"), 0o644); prepErr != nil {
				return
			}
			if prepErr = os.WriteFile(rec.ResolvConfPath, s.resolvConf(hc, hostNet, embeddedDNS(rec.Networks)), 0o644); prepErr != nil {
				return
			}
		}
		mounts, volumes, unpin, prepErr = s.startMounts(ctx, id, rootfs, rec.MountPoints, hc.Tmpfs)
	}()
	// The primary network creates the namespace while the rootfs is
	// prepared; the others add their interfaces to it after.
	if joined == nil {
		var ep *Endpoint
		if len(netNames) == 0 {
			// Disconnected from every network: a namespace with lo only.
			ep, netErr = s.deps.Network.Connect(ctx, EndpointRequest{ContainerID: id, Name: strings.TrimPrefix(rec.Name, "/"), Network: "none", Hostname: hostname, Primary: true})
		} else {
			ep, netErr = s.connect(ctx, &rec, netNames[0], rec.Networks[netNames[0]], true, hostname)
		}
		if ep != nil {
			eps = append(eps, ep)
		}
	}
	wg.Wait()
	if unpin != nil {
		defer unpin() // the runtime has mounted them, or the start failed
	}
	if volumes != nil {
		undo = append(undo, volumes)
	}
	if netErr == nil && len(netNames) > 1 && joined == nil {
		var rest []*Endpoint
		rest, netErr = s.connectRest(ctx, &rec, netNames, hostname)
		eps = append(eps, rest...)
	}
	if len(eps) > 0 {
		undo = append(undo, func() { s.disconnectAll(ctx, id, eps) })
	}
	if rootfs != "" {
		undo = append(undo, func() {
			if err := s.deps.Layers.UnmountRWLayer(id); err != nil {
				slog.Warn("unmounting rootfs after failed start", "container", id, "err", err)
			}
		})
	}
	if netErr != nil {
		return netErr
	}
	if prepErr != nil {
		return prepErr
	}

	// /etc/hosts needs the address the network gave.
	filesFrom := rec
	if joined != nil {
		filesFrom = *joined
	} else {
		hostsRec := rec
		hostsRec.Endpoints = eps
		if err := os.WriteFile(rec.HostsPath, s.hostsFile(&hostsRec, hostname, links), 0o644); err != nil {
			return err
		}
	}
	extra := containerFileMounts(filesFrom, mounts, hc.ReadonlyRootfs)

	specCfg := *cfg
	specCfg.Hostname, specCfg.Domainname = hostname, domainname
	if len(links) > 0 {
		// Docker puts the links' variables before the container's own.
		var env []string
		for _, l := range links {
			env = append(env, linkEnv(rec.Name, l)...)
		}
		specCfg.Env = append(env, specCfg.Env...)
	}
	in := SpecInput{
		ID:          id,
		Hostname:    hostname,
		Domainname:  domainname,
		Config:      &specCfg,
		HostConfig:  hc,
		Args:        append([]string{rec.Path}, rec.Args...),
		Rootfs:      rootfs,
		HostNetwork: hostNet,
		ExtraMounts: append(extra, mounts...),
		CgroupsPath: s.cfg.cgroupsPath(hc, id),
	}
	switch {
	case joinNetNS != "":
		in.NetNSPath = joinNetNS
	case len(eps) > 0:
		in.NetNSPath = eps[0].NetNSPath
	}
	if in.IPCNSPath, err = s.namespaceOf(hc.IpcMode.Container(), "ipc"); err != nil {
		return err
	}
	if in.PIDNSPath, err = s.namespaceOf(hc.PidMode.Container(), "pid"); err != nil {
		return err
	}
	spec, err := s.deps.Spec(in)
	if err != nil {
		return fmt.Errorf("build runtime spec: %w", err)
	}
	if p := rootfsPropagation(mounts); p != "" && spec.Linux != nil {
		spec.Linux.RootfsPropagation = p
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return err
	}
	undo = append(undo, func() { os.RemoveAll(bundle) })

	sh, err := s.deps.Shims.Spawn(ctx, ShimConfig{
		ID:          id,
		Bundle:      bundle,
		StateDir:    stateDir,
		Runtime:     rt.Path,
		RuntimeArgs: rt.Args,
		RuntimeRoot: s.cfg.runtimeRoot(hc.Runtime),
		Terminal:    cfg.Tty,
		OpenStdin:   cfg.OpenStdin,
		StdinOnce:   cfg.StdinOnce,
		Log:         LogConfig{Driver: hc.LogConfig.Type, Path: rec.LogPath, Opts: hc.LogConfig.Config},
	})
	if err != nil {
		return runtimeError(err)
	}
	undo = append(undo, func() {
		c.mu.Lock()
		c.shim = nil
		c.mu.Unlock()
		_ = sh.Kill(ctx, syscall.SIGKILL, true)
		if err := sh.Shutdown(ctx); err != nil {
			slog.Warn("shutting the shim down after failed start", "container", id, "err", err)
		}
		sh.Close()
	})

	// Attaches made before the start get the stream from the first byte.
	c.mu.Lock()
	c.shim = sh
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range pending {
		conn, err := sh.Attach(ctx, p.opts)
		p.ready <- handoff{conn: conn, err: err}
	}

	pid, err := sh.Start(ctx)
	if err != nil {
		return runtimeError(err)
	}

	c.mu.Lock()
	c.State.setRunning(pid, now())
	c.HasBeenStartedBefore = true
	c.Endpoints = eps
	c.restart.manualRestart = false
	c.mu.Unlock()
	c.saveOrLog()
	for _, ep := range eps {
		publishNetworkEvent(s.deps.Events, events.ActionConnect, id, ep)
	}
	s.publish(c, events.ActionStart, nil)
	s.mon.watch(c, sh)
	return nil
}

// failPending ends the attaches that waited for a start that failed.
func (c *Container) failPending(err error) {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range pending {
		p.ready <- handoff{err: err}
	}
}

// runtimeErr marks errors that come from the runtime (through the
// shim): their text is the runtime's and decides the exit code.
type runtimeErr struct{ msg string }

func (e *runtimeErr) Error() string { return e.msg }

func runtimeError(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "failed to create task for container") {
		msg = "failed to create task for container: " + msg
	}
	return &runtimeErr{msg: msg}
}

// startFailure turns a start error into the State.Error text and the
// exit code Docker reports (126 cannot invoke, 127 not found, 128 other).
func startFailure(err error) (string, int) {
	msg := err.Error()
	var rt *runtimeErr
	if !errors.As(err, &rt) {
		return msg, exitUnknown
	}
	lower := strings.ToLower(msg)
	switch {
	case strings.Contains(lower, "permission denied"):
		return msg, exitEaccess
	case strings.Contains(lower, "is a directory"):
		return msg + ": permission denied", exitEaccess
	case strings.Contains(lower, "not a directory"):
		return msg + ": Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type", exitCmdNotFound
	case strings.Contains(lower, "executable file not found"), strings.Contains(lower, "no such file or directory"):
		return msg, exitCmdNotFound
	}
	return msg, exitUnknown
}

// startError is the error a failed start returns to the client: runtime
// failures that are the user's (bad command, bad mount) are 400s, as in
// Docker; others keep their class.
func startError(err error) error {
	var rt *runtimeErr
	if !errors.As(err, &rt) {
		return err
	}
	msg, code := startFailure(err)
	if code == exitUnknown {
		return fmt.Errorf("%s: %w", msg, errdefs.ErrUnknown)
	}
	return errdefs.ErrInvalidArgument.WithMessage(msg)
}

// namespaceOf is the path of a namespace of another running container
// (--ipc/--pid container:<id>); "" when ref is empty.
func (s *Service) namespaceOf(ref, ns string) (string, error) {
	if ref == "" {
		return "", nil
	}
	other, err := s.idx.get(ref)
	if err != nil {
		return "", err
	}
	o, err := runningOwner(other, ns)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("/proc/%d/ns/%s", o.State.Pid, ns), nil
}

// runningOwner is the record of a container whose namespace (named ns
// in Docker's error) another container joins; it must be running.
func runningOwner(c *Container, ns string) (record, error) {
	o := c.snapshot()
	if !o.State.Running || o.State.Pid == 0 {
		return o, errdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join %s namespace of a non running container: container %s is not running", ns, shortID(o.ID)))
	}
	return o, nil
}

// cgroupsPath is the cgroup of a container: under its --cgroup-parent,
// else the daemon's.
func (cfg *Config) cgroupsPath(hc *containertypes.HostConfig, id string) string {
	parent := cfg.CgroupParent
	if hc.CgroupParent != "" {
		parent = hc.CgroupParent
	}
	if !strings.HasPrefix(parent, "/") {
		parent = "/" + parent
	}
	return path.Join(parent, id)
}

// resolvConf is the container's /etc/resolv.conf: the host's own with
// host networking, else the network's with the container's DNS options;
// on a user-defined network it points at the embedded DNS server.
func (s *Service) resolvConf(hc *containertypes.HostConfig, hostNet, embedded bool) []byte {
	if hostNet && len(hc.DNS) == 0 && len(hc.DNSSearch) == 0 && len(hc.DNSOptions) == 0 {
		if data, err := os.ReadFile("/etc/resolv.conf"); err == nil {
			return data
		}
	}
	dns := make([]string, len(hc.DNS))
	for i, a := range hc.DNS {
		dns[i] = a.String()
	}
	return s.deps.Network.ResolvConfWith(dns, hc.DNSSearch, hc.DNSOptions, embedded)
}

// hostsFile is the container's /etc/hosts as Docker writes it: the
// boilerplate (the host's file with host networking), the legacy links,
// the --add-host entries, then the container's own addresses.
func (s *Service) hostsFile(r *record, hostname string, links []link) []byte {
	hc := r.HostConfig
	var data []byte
	if hc.NetworkMode.IsHost() {
		data, _ = os.ReadFile("/etc/hosts")
	}
	if data == nil {
		data = s.deps.Network.Hosts(hostname, netip.Addr{})
	}
	var b strings.Builder
	b.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		b.WriteByte('\n')
	}
	for _, l := range linkHosts(links) {
		b.WriteString(l + "\n")
	}
	for _, eh := range hc.ExtraHosts {
		host, addr, ok := strings.Cut(eh, ":")
		if i := strings.IndexByte(eh, '='); i >= 0 && (!ok || i < len(host)) {
			host, addr, ok = eh[:i], eh[i+1:], true
		}
		if !ok {
			continue
		}
		if addr == "host-gateway" {
			gw := s.deps.Network.HostGateway()
			if !gw.IsValid() {
				continue
			}
			addr = gw.String()
		}
		b.WriteString(addr + "\t" + host + "\n")
	}
	if !hc.NetworkMode.IsHost() && hostname != "" {
		fqdn := hostname
		if r.Config != nil && r.Config.Domainname != "" {
			fqdn = hostname + "." + r.Config.Domainname
		}
		names := fqdn
		if short, _, ok := strings.Cut(fqdn, "."); ok && short != "" {
			names = fqdn + " " + short
		}
		for _, ep := range r.Endpoints {
			for _, ip := range []netip.Addr{ep.IPAddress, ep.IPv6Address} {
				if ip.IsValid() {
					b.WriteString(ip.String() + "\t" + names + "\n")
				}
			}
		}
	}
	return []byte(b.String())
}

// containerFileMounts bind-mounts resolv.conf, hostname and hosts from
// the container directory (or the joined container's), unless the user
// mounts something there.
func containerFileMounts(from record, user []specs.Mount, readOnly bool) []specs.Mount {
	taken := map[string]bool{}
	for _, m := range user {
		taken[path.Clean(m.Destination)] = true
	}
	opts := []string{"rbind", "rprivate"}
	if readOnly {
		opts = append(opts, "ro")
	}
	var out []specs.Mount
	for _, f := range []struct{ src, dst string }{
		{from.ResolvConfPath, "/etc/resolv.conf"},
		{from.HostnamePath, "/etc/hostname"},
		{from.HostsPath, "/etc/hosts"},
	} {
		if taken[f.dst] {
			continue
		}
		out = append(out, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: opts})
	}
	return out
}
