package daemon

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-dev/berth/internal/config"
	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/network"
	"github.com/berth-dev/berth/internal/oci"
	"github.com/berth-dev/berth/internal/runtime/shim"
)

// The adapters below connect the container service to the engine's real
// services through the small interfaces it declares.

type imageGetter struct{ s *image.Service }

func (g imageGetter) GetImage(ctx context.Context, ref string) (*ctr.Image, error) {
	img, err := g.s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return &ctr.Image{ID: img.ID, Config: img.Config, RepoTags: img.RepoTags}, nil
}

type networkAttacher struct{ s *network.Service }

func (n networkAttacher) Connect(ctx context.Context, req ctr.EndpointRequest) (*ctr.Endpoint, error) {
	ep, err := n.s.Connect(ctx, network.EndpointRequest(req))
	return (*ctr.Endpoint)(ep), err
}

func (n networkAttacher) Disconnect(ctx context.Context, ep *ctr.Endpoint) error {
	return n.s.Disconnect(ctx, (*network.Endpoint)(ep))
}

func (n networkAttacher) Restore(ctx context.Context, eps []*ctr.Endpoint) error {
	out := make([]*network.Endpoint, len(eps))
	for i, ep := range eps {
		out[i] = (*network.Endpoint)(ep)
	}
	return n.s.Restore(ctx, out)
}

func (n networkAttacher) ResolvConfWith(dns, search, options []string, embedded bool) []byte {
	return n.s.ResolvConfWith(dns, search, options, embedded)
}

func (n networkAttacher) Hosts(hostname string, ip netip.Addr) []byte { return n.s.Hosts(hostname, ip) }

func (n networkAttacher) LookupNetwork(ref string) (id, name, driver string, err error) {
	return n.s.LookupNetwork(ref)
}

func (n networkAttacher) HostGateway() netip.Addr { return n.s.HostGateway() }

// shimLauncher re-executes binary as `berth shim` ("" = this executable).
type shimLauncher struct{ binary string }

func (l shimLauncher) Spawn(ctx context.Context, cfg ctr.ShimConfig) (ctr.Shim, error) {
	c, err := shim.Spawn(ctx, shim.Config{
		ID: cfg.ID, Bundle: cfg.Bundle, StateDir: cfg.StateDir,
		Runtime: cfg.Runtime, RuntimeArgs: cfg.RuntimeArgs, RuntimeRoot: cfg.RuntimeRoot,
		Terminal: cfg.Terminal, OpenStdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce,
		Log:    shim.LogConfig(cfg.Log),
		Binary: l.binary,
	})
	if err != nil {
		return nil, err
	}
	return shimClient{c}, nil
}

func (l shimLauncher) Connect(ctx context.Context, stateDir string) (ctr.Shim, error) {
	c, err := shim.Connect(ctx, stateDir)
	if err != nil {
		return nil, err
	}
	return shimClient{c}, nil
}

func (l shimLauncher) ReadExit(stateDir string) (*ctr.Exit, error) {
	e, err := shim.ReadExit(stateDir)
	if err != nil {
		return nil, err
	}
	return (*ctr.Exit)(e), nil
}

type shimClient struct{ *shim.Client }

func (c shimClient) Attach(ctx context.Context, o ctr.StreamOptions) (net.Conn, error) {
	return c.Client.Attach(ctx, shim.AttachOptions(o))
}

func (c shimClient) Wait(ctx context.Context) (ctr.Exit, error) {
	e, err := c.Client.Wait(ctx)
	return ctr.Exit(e), err
}

func (c shimClient) Exec(ctx context.Context, cfg ctr.ExecConfig) error {
	return c.Client.Exec(ctx, shim.ExecConfig(cfg))
}

func (c shimClient) ExecAttach(ctx context.Context, id string, o ctr.StreamOptions) (net.Conn, error) {
	return c.Client.ExecAttach(ctx, id, shim.AttachOptions(o))
}

func (c shimClient) ExecWait(ctx context.Context, id string) (ctr.Exit, error) {
	e, err := c.Client.ExecWait(ctx, id)
	return ctr.Exit(e), err
}

// specBuilder builds runtime specs with the daemon's init settings
// (daemon.json's init and init-path).
func specBuilder(defaultInit bool, initPath string) ctr.SpecFunc {
	return func(in ctr.SpecInput) (*specs.Spec, error) {
		return oci.Spec(oci.Input{
			ID: in.ID, Hostname: in.Hostname, Domainname: in.Domainname,
			Config: in.Config, HostConfig: in.HostConfig, Args: in.Args, Rootfs: in.Rootfs,
			NetNSPath: in.NetNSPath, HostNetwork: in.HostNetwork, ExtraMounts: in.ExtraMounts,
			CgroupsPath: in.CgroupsPath, IPCNSPath: in.IPCNSPath, PIDNSPath: in.PIDNSPath,
			DefaultInit: defaultInit, InitPath: initPath,
		})
	}
}

func execProcess(base *specs.Spec, rootfs string, in ctr.ExecInput) (*specs.Process, error) {
	return oci.ExecProcess(base, rootfs, oci.ExecInput{
		Cmd: in.Cmd, Env: in.Env, User: in.User, WorkingDir: in.WorkingDir,
		Tty: in.Tty, Privileged: in.Privileged, GroupAdd: in.GroupAdd, ConsoleSize: in.ConsoleSize,
	})
}

func readLogs(ctx context.Context, driver, path string, cfg ctr.LogReadConfig, stopped <-chan struct{}, emit func(ctr.LogMessage) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the reader when emit fails
	msgs, errc := logs.Read(ctx, driver, path, logs.ReadConfig(cfg), stopped)
	for m := range msgs {
		if err := emit(ctr.LogMessage(m)); err != nil {
			return err
		}
	}
	return <-errc
}

func hostConfigDefaults(hc *container.HostConfig) { oci.ApplyHostConfigDefaults(hc, nil) }

// ContainerDeps connects the container service to the real image store,
// network, shim, spec builder and log files. shimBinary is the berth
// binary re-executed as `berth shim` ("" = this executable). The
// container package's integration tests use it too.
func ContainerDeps(images *image.Service, net *network.Service, bus ctr.EventPublisher, shimBinary string) ctr.Deps {
	return ctr.Deps{
		Images:             imageGetter{images},
		Layers:             images.RWLayers(),
		Network:            networkAttacher{net},
		Shims:              shimLauncher{shimBinary},
		Events:             bus,
		Spec:               specBuilder(false, ""),
		Resources:          oci.Resources,
		ExecProcess:        execProcess,
		ReadLogs:           readLogs,
		ValidateLogOpts:    logs.ValidateOpts,
		ValidateHostConfig: oci.ValidateHostConfig,
		HostConfigDefaults: hostConfigDefaults,
		Commits:            imageCommitter{images},
		Files:              filesystemViews{images.RWLayers()},
	}
}

// networkConfig is the network service's configuration from the
// daemon's.
func networkConfig(cfg *config.Config, bus network.EventPublisher) network.Config {
	nc := network.Config{
		Root:       filepath.Join(cfg.DataRoot, "network"),
		NetNSDir:   filepath.Join(cfg.ExecRoot, "netns"),
		BridgeName: cfg.BridgeName,
		BridgeCIDR: cfg.BridgeIP,
		FixedCIDR:  cfg.FixedCIDR,
		DNS:        cfg.DNS,
		DNSSearch:  cfg.DNSSearch,
		DNSOptions: cfg.DNSOptions,
		IPForward:  cfg.IPForward,
		ICC:        cfg.ICC,
		IPTables:   cfg.IPTables,
		IPMasq:     cfg.IPMasq,
		Events:     bus,
	}
	for _, p := range cfg.DefaultAddressPools {
		// Validated with the configuration.
		base, _ := netip.ParsePrefix(p.Base)
		nc.DefaultAddressPools = append(nc.DefaultAddressPools, network.AddressPool{Base: base, Size: p.Size})
	}
	return nc
}
