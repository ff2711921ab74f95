package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/ipam"
	"github.com/berth-dev/berth/internal/network/nat"
)

// Bridge driver options, as Docker names them.
const (
	optBridgeName = "com.docker.network.bridge.name"
	optICC        = "com.docker.network.bridge.enable_icc"
	optMasq       = "com.docker.network.bridge.enable_ip_masquerade"
	optHostIP     = "com.docker.network.bridge.host_binding_ipv4"
	optMTU        = "com.docker.network.driver.mtu"
	optParent     = "parent"
	optMacvlan    = "macvlan_mode"
)

// netRecord is a user-defined network as <root>/networks/<id>.json keeps
// it: what was asked for, completed with what was chosen (subnets,
// gateways, the bridge's name).
type netRecord struct {
	ID         string
	Name       string
	Driver     string
	Created    time.Time
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	IPAM       network.IPAM
	// Requested is IPAM.Config as the user gave it: Docker shows that, not
	// the chosen subnet, when nothing was given... but clients expect the
	// subnet, so IPAM holds the completed form and Requested only serves
	// to recreate the network the same way.
	Options map[string]string
	Labels  map[string]string
	// Bridge is the Linux bridge (driver bridge) and CreatedBridge whether
	// berth made it (and so deletes it with the network).
	Bridge        string
	CreatedBridge bool
}

// netw is one network the service serves: a default one (bridge, host,
// none) or a user-defined one.
type netw struct {
	rec     netRecord
	builtin bool
	br      *bridge.Bridge // driver bridge
	nat     *nat.Table     // driver bridge, unless iptables is off
	pools   []*ipam.Pool   // one per IPv4 subnet, in IPAM.Config order
	gw6     netip.Addr
	sub6    netip.Prefix
	hostIP  netip.Addr // default host address for published ports
}

func (n *netw) id() string     { return n.rec.ID }
func (n *netw) name() string   { return n.rec.Name }
func (n *netw) driver() string { return n.rec.Driver }

// userDefined reports whether containers on n get the embedded DNS.
func (n *netw) userDefined() bool { return !n.builtin && n.rec.Driver != "null" && n.rec.Driver != "host" }

// mode is the Endpoint.Mode of endpoints on n.
func (n *netw) mode() string {
	switch n.rec.Driver {
	case "null":
		return "none"
	case "host":
		return "host"
	}
	return n.rec.Driver
}

// poolFor is the pool whose subnet holds a, or nil.
func (n *netw) poolFor(a netip.Addr) *ipam.Pool {
	for _, p := range n.pools {
		if p.Contains(a) {
			return p
		}
	}
	return nil
}

func newNetworkID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Service) networksDir() string { return filepath.Join(s.cfg.Root, "networks") }

func (s *Service) netRecordPath(id string) string {
	return filepath.Join(s.networksDir(), id+".json")
}

func (s *Service) writeNetRecord(r *netRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// Networks are created rarely and must outlive a power loss: synced.
	if err := atomicfile.WriteFile(s.netRecordPath(r.ID), b, 0o600, true); err != nil {
		return fmt.Errorf("save network: %w", err)
	}
	return nil
}

// builtinNetworks makes the three default networks from the default
// bridge.
func (s *Service) builtinNetworks() {
	icc := "true"
	if s.cfg.ICC != nil && !*s.cfg.ICC {
		icc = "false"
	}
	cfg := network.IPAMConfig{Subnet: s.br.Subnet(), Gateway: s.br.Addr.Addr()}
	if s.cfg.FixedCIDR != "" {
		if p, err := netip.ParsePrefix(s.cfg.FixedCIDR); err == nil {
			cfg.IPRange = p.Masked()
		}
	}
	br := &netw{builtin: true, br: s.br, nat: s.nat, pools: []*ipam.Pool{s.pool}, hostIP: netip.IPv4Unspecified(),
		rec: netRecord{ID: s.networkID("bridge"), Name: "bridge", Driver: "bridge", Created: s.created, Bridge: s.br.Name,
			IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{cfg}},
			Options: map[string]string{
				"com.docker.network.bridge.default_bridge": "true",
				optICC:  icc,
				optMasq: "true",
				optHostIP: "0.0.0.0",
				optBridgeName: s.br.Name,
				optMTU:        strconv.Itoa(s.br.MTU),
			}, Labels: map[string]string{}}}
	host := &netw{builtin: true, rec: netRecord{ID: s.networkID("host"), Name: "host", Driver: "host", Created: s.created,
		IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{}}, Options: map[string]string{}, Labels: map[string]string{}}}
	none := &netw{builtin: true, rec: netRecord{ID: s.networkID("none"), Name: "none", Driver: "null", Created: s.created,
		IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{}}, Options: map[string]string{}, Labels: map[string]string{}}}
	for _, n := range []*netw{br, host, none} {
		s.nets[n.id()] = n
	}
}

// loadNetworks brings back the user-defined networks: records read, bridges
// and rules ensured (they survive a daemon restart, but not a reboot).
// A network that cannot be brought up is kept (it can still be removed)
// and logged.
func (s *Service) loadNetworks() error {
	if err := os.MkdirAll(s.networksDir(), 0o700); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	names, err := readDirNames(s.networksDir())
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	for _, fn := range names {
		if strings.HasPrefix(fn, ".") {
			_ = os.Remove(filepath.Join(s.networksDir(), fn))
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.networksDir(), fn))
		if err != nil {
			return fmt.Errorf("network: %w", err)
		}
		var r netRecord
		if err := json.Unmarshal(b, &r); err != nil || r.ID+".json" != fn {
			slog.Warn("ignoring damaged network record", "path", filepath.Join(s.networksDir(), fn), "err", err)
			continue
		}
		n, err := s.bringUp(&r, false)
		if err != nil {
			slog.Warn("network cannot be brought up", "network", r.Name, "err", err)
			n = &netw{rec: r}
		}
		s.nets[r.ID] = n
	}
	return nil
}

// bringUp makes the kernel side of a user-defined network: pools, and for
// the bridge driver the bridge with its gateway address and the nftables
// table. fresh is true on create: a pre-existing bridge is adopted then
// only when named by the user.
func (s *Service) bringUp(r *netRecord, fresh bool) (_ *netw, retErr error) {
	n := &netw{rec: *r, hostIP: netip.IPv4Unspecified()}
	for _, c := range r.IPAM.Config {
		if !c.Subnet.Addr().Is4() {
			if c.Subnet.IsValid() {
				n.sub6, n.gw6 = c.Subnet, c.Gateway
			}
			continue
		}
		gw := c.Gateway
		if r.Driver == "macvlan" && !gw.IsValid() {
			gw = c.Subnet.Addr().Next()
		}
		p, err := ipam.New(c.Subnet, gw)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		if c.IPRange.IsValid() {
			if err := p.SetRange(c.IPRange); err != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
		}
		for _, a := range c.AuxAddress {
			if p.Contains(a) {
				_ = p.Reserve(a, "aux-address")
			}
		}
		n.pools = append(n.pools, p)
	}
	if v := r.Options[optHostIP]; v != "" {
		if a, err := netip.ParseAddr(v); err == nil {
			n.hostIP = a
		}
	}
	if r.Driver != "bridge" {
		return n, nil
	}
	if len(n.pools) == 0 {
		return nil, fmt.Errorf("network %s has no IPv4 subnet: %w", r.Name, errdefs.ErrInvalidArgument)
	}
	first := n.pools[0]
	var err error
	if n.br, err = s.nl.Ensure(r.Bridge, netip.PrefixFrom(first.Gateway(), first.Subnet().Bits()), netip.Prefix{}); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil && fresh && r.CreatedBridge {
			_ = s.nl.Delete(r.Bridge)
		}
	}()
	if mtu, err := strconv.Atoi(r.Options[optMTU]); err == nil && mtu > 0 {
		if err := s.nl.SetMTU(n.br, mtu); err != nil {
			return nil, err
		}
	}
	// The other subnets' gateways on the same bridge.
	for _, p := range n.pools[1:] {
		if err := s.nl.AddAddr(n.br, netip.PrefixFrom(p.Gateway(), p.Subnet().Bits())); err != nil {
			return nil, err
		}
	}
	if err := bridge.SetRouteLocalnet(n.br.Name); err != nil {
		return nil, err
	}
	if s.iptables() {
		var opts []nat.Option
		if r.Internal {
			opts = append(opts, nat.Internal())
		}
		if r.Options[optICC] == "false" {
			opts = append(opts, nat.NoICC())
		}
		if r.Options[optMasq] == "false" {
			opts = append(opts, nat.NoMasquerade())
		}
		for _, p := range n.pools[1:] {
			opts = append(opts, nat.WithSubnets(p.Subnet()))
		}
		if n.nat, err = nat.Setup(n.br.Name, first.Subnet(), opts...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// iptables reports whether berth programs nftables at all (dockerd's
// --iptables).
func (s *Service) iptables() bool { return s.cfg.IPTables == nil || *s.cfg.IPTables }

// CreateNetwork creates a user-defined network (POST /networks/create).
func (s *Service) CreateNetwork(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	if req.Name == "" {
		return network.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("network name cannot be empty")
	}
	if strings.ContainsAny(req.Name, "/\\:") {
		return network.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid network name %q", req.Name))
	}
	driver := req.Driver
	if driver == "" {
		driver = "bridge"
	}
	switch driver {
	case "bridge", "macvlan":
	case "host", "null":
		return network.CreateResponse{}, errdefs.ErrPermissionDenied.WithMessage(
			fmt.Sprintf("only one instance of %q network is allowed", driver))
	default:
		return network.CreateResponse{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", driver))
	}
	if req.Scope != "" && req.Scope != "local" {
		return network.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(
			fmt.Sprintf("scope %q is not supported: berth has local networks only", req.Scope))
	}
	if req.Ingress || req.ConfigOnly || req.ConfigFrom != nil && req.ConfigFrom.Network != "" {
		return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage("swarm and config-only networks are not supported")
	}
	s.mu.Lock()
	for _, n := range s.nets {
		if n.name() == req.Name {
			s.mu.Unlock()
			return network.CreateResponse{}, errdefs.ErrConflict.WithMessage("network with name " + req.Name + " already exists")
		}
	}
	s.mu.Unlock()

	r := &netRecord{
		ID: newNetworkID(), Name: req.Name, Driver: driver, Created: time.Now().UTC(),
		Internal: req.Internal, Attachable: req.Attachable, EnableIPv6: req.EnableIPv6 != nil && *req.EnableIPv6,
		Options: maps.Clone(req.Options), Labels: maps.Clone(req.Labels),
	}
	if r.Options == nil {
		r.Options = map[string]string{}
	}
	if r.Labels == nil {
		r.Labels = map[string]string{}
	}
	r.IPAM = network.IPAM{Driver: "default", Options: map[string]string{}}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return network.CreateResponse{}, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", req.IPAM.Driver))
		}
		if req.IPAM.Options != nil {
			r.IPAM.Options = maps.Clone(req.IPAM.Options)
		}
	}
	if err := validateOptions(driver, r.Options); err != nil {
		return network.CreateResponse{}, err
	}
	var asked []network.IPAMConfig
	if req.IPAM != nil {
		asked = req.IPAM.Config
	}
	cfgs, err := s.completeIPAM(r, asked)
	if err != nil {
		return network.CreateResponse{}, err
	}
	r.IPAM.Config = cfgs

	switch driver {
	case "bridge":
		r.Bridge = r.Options[optBridgeName]
		if r.Bridge == "" {
			r.Bridge = "br-" + r.ID[:12]
		}
		if len(r.Bridge) > 15 {
			return network.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(
				fmt.Sprintf("bridge name %q is longer than 15 characters", r.Bridge))
		}
		s.mu.Lock()
		for _, n := range s.nets {
			if n.rec.Bridge == r.Bridge {
				s.mu.Unlock()
				return network.CreateResponse{}, errdefs.ErrConflict.WithMessage(
					fmt.Sprintf("bridge name %s is already used by network %s", r.Bridge, n.name()))
			}
		}
		s.mu.Unlock()
		r.CreatedBridge = !s.nl.LinkExists(r.Bridge)
	case "macvlan":
		parent := r.Options[optParent]
		if parent == "" {
			return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage(
				"macvlan without -o parent= (a dummy parent) is not supported")
		}
		if !s.nl.LinkExists(parent) {
			return network.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(
				fmt.Sprintf("-o parent interface was not found on the host: %s", parent))
		}
		if m := r.Options[optMacvlan]; m != "" && m != "bridge" {
			return network.CreateResponse{}, errdefs.ErrNotImplemented.WithMessage(
				fmt.Sprintf("macvlan mode %q is not supported, only bridge", m))
		}
	}

	// Record first: a crash after the kernel work leaves a network Restore
	// and rm can handle, never an unknown bridge.
	if err := s.writeNetRecord(r); err != nil {
		return network.CreateResponse{}, err
	}
	n, err := s.bringUp(r, true)
	if err != nil {
		_ = os.Remove(s.netRecordPath(r.ID))
		return network.CreateResponse{}, err
	}
	s.mu.Lock()
	s.nets[r.ID] = n
	s.mu.Unlock()
	slog.Debug("network created", "name", r.Name, "id", r.ID, "driver", driver, "bridge", r.Bridge)
	return network.CreateResponse{ID: r.ID}, nil
}

func validateOptions(driver string, opts map[string]string) error {
	for k, v := range opts {
		switch k {
		case optICC, optMasq:
			if _, err := strconv.ParseBool(v); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for %s: %q", k, v))
			}
		case optMTU:
			if n, err := strconv.Atoi(v); err != nil || n < 68 {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MTU number: %q", v))
			}
		case optHostIP:
			if _, err := netip.ParseAddr(v); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host binding address: %q", v))
			}
		}
	}
	return nil
}

// completeIPAM validates the requested subnets and fills in what was not
// given: a free subnet from the default pools, gateways.
func (s *Service) completeIPAM(r *netRecord, asked []network.IPAMConfig) ([]network.IPAMConfig, error) {
	s.mu.Lock()
	var taken []netip.Prefix
	for _, n := range s.nets {
		for _, c := range n.rec.IPAM.Config {
			if c.Subnet.IsValid() {
				taken = append(taken, c.Subnet.Masked())
			}
		}
	}
	s.mu.Unlock()

	var out []network.IPAMConfig
	has4, has6 := false, false
	for _, c := range asked {
		if !c.Subnet.IsValid() {
			if c.IPRange.IsValid() || c.Gateway.IsValid() || len(c.AuxAddress) > 0 {
				return nil, errdefs.ErrInvalidArgument.WithMessage("ip-range, gateway and aux-address need a subnet")
			}
			continue
		}
		c.Subnet = c.Subnet.Masked()
		is4 := c.Subnet.Addr().Is4()
		if is4 {
			has4 = true
			if c.Subnet.Bits() > 30 {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("subnet %s is too small", c.Subnet))
			}
		} else {
			has6 = true
			if !r.EnableIPv6 {
				return nil, errdefs.ErrInvalidArgument.WithMessage("an IPv6 subnet needs --ipv6 (EnableIPv6)")
			}
		}
		if bridge.Overlaps(c.Subnet, taken) {
			return nil, errdefs.ErrPermissionDenied.WithMessage("Pool overlaps with other one on this address space")
		}
		if c.IPRange.IsValid() {
			c.IPRange = c.IPRange.Masked()
			if c.IPRange.Bits() < c.Subnet.Bits() || !c.Subnet.Contains(c.IPRange.Addr()) {
				return nil, errdefs.ErrInvalidArgument.WithMessage(
					fmt.Sprintf("Invalid ip-range %s: it must be within the subnet %s", c.IPRange, c.Subnet))
			}
		}
		if c.Gateway.IsValid() {
			if !c.Subnet.Contains(c.Gateway) {
				return nil, errdefs.ErrInvalidArgument.WithMessage(
					fmt.Sprintf("failed to allocate gateway (%s): Requested address is out of range", c.Gateway))
			}
		} else if is4 && r.Driver == "bridge" {
			c.Gateway = c.Subnet.Addr().Next()
		} else if !is4 {
			c.Gateway = c.Subnet.Addr().Next()
		}
		for name, a := range c.AuxAddress {
			if !c.Subnet.Contains(a) {
				return nil, errdefs.ErrPermissionDenied.WithMessage(
					fmt.Sprintf("auxiliary address: (%s:%s) must belong to the master pool: %s", name, a, c.Subnet))
			}
			if a == c.Gateway {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("auxiliary address %s is the gateway", a))
			}
		}
		taken = append(taken, c.Subnet)
		out = append(out, c)
	}
	if r.EnableIPv6 && !has6 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("an IPv6 network needs an IPv6 --subnet: berth has no default IPv6 pool")
	}
	if !has4 {
		used, err := s.nl.UsedPrefixes()
		if err != nil {
			return nil, err
		}
		var sub netip.Prefix
		found := false
		for _, cand := range s.candidatePools() {
			if !bridge.Overlaps(cand, taken) && !bridge.Overlaps(cand, used) {
				sub, found = cand, true
				break
			}
		}
		if !found {
			return nil, errdefs.ErrResourceExhausted.WithMessage(
				"could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		c := network.IPAMConfig{Subnet: sub, Gateway: sub.Addr().Next()}
		out = append([]network.IPAMConfig{c}, out...)
	}
	return out, nil
}

// candidatePools are the subnets a new network may get, in order:
// default-address-pools when configured, else Docker's defaults.
func (s *Service) candidatePools() []netip.Prefix {
	if len(s.cfg.DefaultAddressPools) == 0 {
		return bridge.DefaultPools()
	}
	var out []netip.Prefix
	for _, p := range s.cfg.DefaultAddressPools {
		base := p.Base.Masked()
		if !base.Addr().Is4() || p.Size < base.Bits() || p.Size > 30 {
			continue
		}
		step := uint32(1) << (32 - p.Size)
		b := base.Addr().As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		for n := 0; n < 1<<(p.Size-base.Bits()) && n < 65536; n++ {
			a := v + uint32(n)*step
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), p.Size))
		}
	}
	return out
}

// AddressPool is one entry of dockerd's default-address-pools: subnets of
// Size bits carved out of Base.
type AddressPool struct {
	Base netip.Prefix
	Size int
}

// lookupLocked finds a network by exact name, full ID, then unique ID
// prefix. "" and "default" are the default bridge. s.mu held.
func (s *Service) lookupLocked(ref string) (*netw, error) {
	if ref == "" || ref == "default" {
		ref = "bridge"
	}
	for _, n := range s.nets {
		if n.name() == ref {
			return n, nil
		}
	}
	if n, ok := s.nets[ref]; ok {
		return n, nil
	}
	var found []*netw
	for id, n := range s.nets {
		if strings.HasPrefix(id, ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, errdefs.ErrNotFound.WithMessage("network " + ref + " not found")
	}
	return nil, errdefs.ErrInvalidArgument.WithMessage(
		fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(found)))
}

func (s *Service) lookup(ref string) (*netw, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(ref)
}

// LookupNetwork resolves a network reference (name, full ID or unique ID
// prefix) for the container service.
func (s *Service) LookupNetwork(idOrName string) (id, name, driver string, err error) {
	n, err := s.lookup(idOrName)
	if err != nil {
		return "", "", "", err
	}
	return n.id(), n.name(), n.driver(), nil
}

// HostGateway is the address --add-host name:host-gateway stands for: the
// default bridge's.
func (s *Service) HostGateway() netip.Addr { return s.br.Addr.Addr() }

func (s *Service) summary(n *netw) network.Summary {
	r := n.rec
	cfg := slices.Clone(r.IPAM.Config)
	if cfg == nil {
		cfg = []network.IPAMConfig{}
	}
	opts := maps.Clone(r.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	labels := maps.Clone(r.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	ipamOpts := maps.Clone(r.IPAM.Options)
	return network.Summary{Network: network.Network{
		Name:       r.Name,
		ID:         r.ID,
		Created:    r.Created,
		Scope:      "local",
		Driver:     r.Driver,
		EnableIPv4: true,
		EnableIPv6: r.EnableIPv6,
		IPAM:       network.IPAM{Driver: "default", Options: ipamOpts, Config: cfg},
		Internal:   r.Internal,
		Attachable: r.Attachable,
		Options:    opts,
		Labels:     labels,
	}}
}

// Networks are all networks, as GET /networks lists them unfiltered.
func (s *Service) Networks() []network.Summary {
	out, _ := s.ListNetworks(context.Background(), nil)
	return out
}

// InspectNetwork is GET /networks/{id}.
func (s *Service) InspectNetwork(ctx context.Context, idOrName string, verbose bool) (network.Inspect, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookupLocked(idOrName)
	if err != nil {
		return network.Inspect{}, err
	}
	out := network.Inspect{Network: s.summary(n).Network, Containers: map[string]network.EndpointResource{}}
	for _, ep := range s.endpoints {
		if ep.NetworkID != n.id() {
			continue
		}
		res := network.EndpointResource{Name: ep.Name, EndpointID: ep.EndpointID}
		if hw, err := net.ParseMAC(ep.MacAddress); err == nil {
			res.MacAddress = network.HardwareAddr(hw)
		}
		if ep.IPAddress.IsValid() {
			res.IPv4Address = netip.PrefixFrom(ep.IPAddress, ep.PrefixLen)
		}
		if ep.IPv6Address.IsValid() {
			res.IPv6Address = netip.PrefixFrom(ep.IPv6Address, ep.IPv6PrefixLen)
		}
		out.Containers[ep.ContainerID] = res
	}
	return out, nil
}

// ListNetworks is GET /networks with Docker's filters.
func (s *Service) ListNetworks(ctx context.Context, f filters.Args) ([]network.Summary, error) {
	if err := f.Validate("driver", "id", "label", "name", "scope", "type", "dangling"); err != nil {
		return nil, err
	}
	for v := range f["type"] {
		if v != "custom" && v != "builtin" {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter: 'type'='%s'", v))
		}
	}
	dangling, danglingSet := false, false
	for v := range f["dangling"] {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=%s'", v))
		}
		dangling, danglingSet = b, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	used := s.usedNetworksLocked()
	out := []network.Summary{}
	for _, n := range s.nets {
		if !f.ExactMatch("driver", n.driver()) || !f.Match("name", n.name()) || !f.Match("id", n.id()) ||
			!f.ExactMatch("scope", "local") || !f.MatchLabels("label", n.rec.Labels) {
			continue
		}
		typ := "custom"
		if n.builtin {
			typ = "builtin"
		}
		if !f.ExactMatch("type", typ) {
			continue
		}
		if danglingSet {
			// Docker: dangling=true are the custom networks nobody uses.
			isDangling := !n.builtin && !used[n.id()]
			if isDangling != dangling {
				continue
			}
		}
		out = append(out, s.summary(n))
	}
	slices.SortFunc(out, func(a, b network.Summary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// usedNetworksLocked are the networks with at least one endpoint.
func (s *Service) usedNetworksLocked() map[string]bool {
	used := map[string]bool{}
	for _, ep := range s.endpoints {
		used[ep.NetworkID] = true
	}
	return used
}

// RemoveNetwork is DELETE /networks/{id}.
func (s *Service) RemoveNetwork(ctx context.Context, idOrName string) error {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	s.mu.Lock()
	n, err := s.lookupLocked(idOrName)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if n.builtin {
		s.mu.Unlock()
		return errdefs.ErrPermissionDenied.WithMessage(n.name() + " is a pre-defined network and cannot be removed")
	}
	if s.usedNetworksLocked()[n.id()] {
		s.mu.Unlock()
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf(
			"error while removing network: network %s id %s has active endpoints", n.name(), n.id()))
	}
	s.mu.Unlock()
	return s.removeNetwork(n)
}

func (s *Service) removeNetwork(n *netw) error {
	var errs []error
	if n.nat != nil {
		if err := n.nat.RemoveForwardAccept(); err != nil {
			errs = append(errs, err)
		}
		if err := n.nat.Destroy(); err != nil {
			errs = append(errs, err)
		}
		_ = n.nat.Close()
	} else if n.rec.Driver == "bridge" && n.rec.Bridge != "" && s.iptables() {
		// Not brought up in this run: its table may still be there.
		if t, err := nat.Setup(n.rec.Bridge, netip.MustParsePrefix("127.255.255.0/24")); err == nil {
			_ = t.RemoveForwardAccept()
			_ = t.Destroy()
			_ = t.Close()
		}
	}
	if n.rec.Driver == "bridge" && n.rec.CreatedBridge && n.rec.Bridge != "" {
		if err := s.nl.Delete(n.rec.Bridge); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(s.netRecordPath(n.id())); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	s.mu.Lock()
	delete(s.nets, n.id())
	s.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove network %s: %w", n.name(), err)
	}
	return nil
}

// PruneNetworks removes the custom networks without endpoints (POST
// /networks/prune), filtered by until and label.
func (s *Service) PruneNetworks(ctx context.Context, f filters.Args) (network.PruneReport, error) {
	if err := f.Validate("until", "label", "label!"); err != nil {
		return network.PruneReport{}, err
	}
	var until time.Time
	for v := range f["until"] {
		t, err := parseUntil(v)
		if err != nil {
			return network.PruneReport{}, err
		}
		until = t
	}
	s.netMu.Lock()
	defer s.netMu.Unlock()
	s.mu.Lock()
	used := s.usedNetworksLocked()
	var victims []*netw
	for _, n := range s.nets {
		if n.builtin || used[n.id()] {
			continue
		}
		if !until.IsZero() && !n.rec.Created.Before(until) {
			continue
		}
		if !f.MatchLabels("label", n.rec.Labels) {
			continue
		}
		if f.Has("label!") && !matchNotLabels(f, n.rec.Labels) {
			continue
		}
		victims = append(victims, n)
	}
	s.mu.Unlock()
	rep := network.PruneReport{NetworksDeleted: []string{}}
	for _, n := range victims {
		if err := s.removeNetwork(n); err != nil {
			slog.Warn("prune network", "network", n.name(), "err", err)
			continue
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.name())
	}
	slices.Sort(rep.NetworksDeleted)
	return rep, nil
}

// matchNotLabels is the "label!" prune filter: none of the given labels
// (key or key=value) may match.
func matchNotLabels(f filters.Args, labels map[string]string) bool {
	for v := range f["label!"] {
		k, val, hasVal := strings.Cut(v, "=")
		got, has := labels[k]
		if has && (!hasVal || got == val) {
			return false
		}
	}
	return true
}

// parseUntil reads a prune "until": a Unix timestamp, an RFC 3339 time or
// a duration before now.
func parseUntil(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(int64(secs), 0), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'until=%s'", v))
}
