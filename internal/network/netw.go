package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/ipam"
	"github.com/berth-dev/berth/internal/network/nat"
)

// Driver options, as Docker names them.
const (
	optDefaultBridge = "com.docker.network.bridge.default_bridge"
	optBridgeName    = "com.docker.network.bridge.name"
	optICC           = "com.docker.network.bridge.enable_icc"
	optMasq          = "com.docker.network.bridge.enable_ip_masquerade"
	optHostIP        = "com.docker.network.bridge.host_binding_ipv4"
	optMTU           = "com.docker.network.driver.mtu"
	optParent        = "parent"
	optMacvlanMode   = "macvlan_mode"
)

// netRecord is a user-defined network as <root>/networks/<id>.json keeps
// it.
type netRecord struct {
	ID         string
	Name       string
	Driver     string
	Created    time.Time
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	// IPAM is the configuration in use: what was asked, completed with
	// what was chosen (a subnet from the default pools, gateways).
	IPAM network.IPAM
	// Requested is IPAM.Config as the user gave it, which inspect shows
	// (as Docker does) unless nothing was given.
	Requested []network.IPAMConfig `json:",omitempty"`
	Options   map[string]string
	Labels    map[string]string
	// Bridge is the Linux bridge (driver bridge), and CreatedBridge
	// whether berth made it and so deletes it with the network.
	Bridge        string `json:",omitempty"`
	CreatedBridge bool   `json:",omitempty"`
}

// netw is one network the service serves: a default one (bridge, host,
// none) or a user-defined one.
type netw struct {
	rec     netRecord
	builtin bool
	// unlisted is the default bridge under NoBridge: the default network
	// mode resolves to it, the API does not show it.
	unlisted bool
	br       *bridge.Bridge // driver bridge
	nat      *nat.Table     // driver bridge, unless --iptables=false
	pools    []*ipam.Pool   // IPv4, in IPAM.Config order (one on a bridge)
	pool6    *ipam.Pool     // IPv6, when enabled
	hostIP   netip.Addr     // default host address for published ports
	// err is why the network could not be brought up after a restart;
	// it can only be removed then.
	err error

	eps map[string]*Endpoint // by container ID; guarded by Service.mu

	removed      atomic.Bool
	fwdInstalled atomic.Bool // iptables accept rules in place
	fwdChain     string      // guarded by Service.fwdMu
}

func (n *netw) id() string     { return n.rec.ID }
func (n *netw) name() string   { return n.rec.Name }
func (n *netw) driver() string { return n.rec.Driver }

// userDefined reports whether containers on n get the embedded DNS.
func (n *netw) userDefined() bool { return !n.builtin }

// hasInterface reports whether an endpoint on n is an interface in the
// container (bridge and macvlan; not none or host).
func (n *netw) hasInterface() bool { return n.rec.Driver == "bridge" || n.rec.Driver == "macvlan" }

// mode is the Endpoint.Mode of endpoints on n.
func (n *netw) mode() string {
	switch n.rec.Driver {
	case "null":
		return "none"
	}
	return n.rec.Driver
}

// allPools are n's pools, IPv4 and IPv6.
func (n *netw) allPools() []*ipam.Pool {
	out := append([]*ipam.Pool(nil), n.pools...)
	if n.pool6 != nil {
		out = append(out, n.pool6)
	}
	return out
}

// poolFor is the pool whose subnet holds a, or nil.
func (n *netw) poolFor(a netip.Addr) *ipam.Pool {
	if a.Is6() {
		if n.pool6 != nil && n.pool6.Contains(a) {
			return n.pool6
		}
		return nil
	}
	for _, p := range n.pools {
		if p.Contains(a) {
			return p
		}
	}
	return nil
}

// builtinNetworks makes the three default networks around the default
// bridge.
func (s *Service) builtinNetworks(br *bridge.Bridge, pool *ipam.Pool, fixed netip.Prefix) error {
	icc := s.cfg.ICC == nil || *s.cfg.ICC
	masq := s.cfg.IPMasq == nil || *s.cfg.IPMasq
	cfg := network.IPAMConfig{Subnet: br.Subnet(), Gateway: br.Addr.Addr(), IPRange: fixed}
	def := &netw{builtin: true, br: br, pools: []*ipam.Pool{pool}, hostIP: netip.IPv4Unspecified(), eps: map[string]*Endpoint{},
		rec: netRecord{ID: s.networkID("bridge"), Name: "bridge", Driver: "bridge", Created: s.created, Bridge: br.Name,
			IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{cfg}},
			Options: map[string]string{
				optDefaultBridge: "true",
				optICC:           strconv.FormatBool(icc),
				optMasq:          strconv.FormatBool(masq),
				optHostIP:        "0.0.0.0",
				optBridgeName:    br.Name,
				optMTU:           strconv.Itoa(br.MTU),
			}, Labels: map[string]string{}}}
	if s.iptables() {
		opts := []nat.Option{nat.WithOwner(s.owner)}
		if !icc {
			opts = append(opts, nat.NoICC())
		}
		if !masq {
			opts = append(opts, nat.NoMasquerade())
		}
		var err error
		if def.nat, err = nat.Setup(br.Name, br.Subnet(), opts...); err != nil {
			return err
		}
	}
	s.def = def
	for _, n := range []*netw{def, s.plainNetwork("host", "host"), s.plainNetwork("none", "null")} {
		s.nets[n.id()] = n
	}
	return nil
}

// noDefaultBridge makes the default networks under NoBridge: host, none,
// and in place of the default bridge an unlisted network named "bridge"
// with no ID whose endpoints are those of none (lo only, no published
// ports), which is what dockerd 20.10 with --bridge none gives containers
// whose network mode is the default or "bridge": inspect shows them on
// "bridge" with no network or endpoint ID and no address.
func (s *Service) noDefaultBridge() {
	unlisted := s.plainNetwork("bridge", "null")
	unlisted.rec.ID = ""
	unlisted.unlisted = true
	for _, n := range []*netw{unlisted, s.plainNetwork("host", "host"), s.plainNetwork("none", "null")} {
		s.nets[n.id()] = n
	}
}

// plainNetwork is a default network without a bridge.
func (s *Service) plainNetwork(name, driver string) *netw {
	return &netw{builtin: true, eps: map[string]*Endpoint{}, rec: netRecord{ID: s.networkID(name), Name: name, Driver: driver,
		Created: s.created, IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
		Options: map[string]string{}, Labels: map[string]string{}}}
}

// bringUp makes the kernel side of a user-defined network: pools, and for
// the bridge driver the bridge with its gateway addresses and its
// nftables table. On failure, a bridge it created is deleted again when
// fresh (at create).
func (s *Service) bringUp(r *netRecord, fresh bool) (_ *netw, retErr error) {
	n := &netw{rec: *r, hostIP: netip.IPv4Unspecified(), eps: map[string]*Endpoint{}}
	var gw6 netip.Prefix
	for _, c := range r.IPAM.Config {
		if !c.Subnet.IsValid() {
			continue
		}
		is4 := c.Subnet.Addr().Is4()
		if !is4 && !r.EnableIPv6 {
			continue // Docker 20.10 accepts and ignores it
		}
		gw := c.Gateway
		if !gw.IsValid() {
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
			if p.Contains(a) && a != gw {
				_ = p.Reserve(a, auxOwner)
			}
		}
		if is4 {
			n.pools = append(n.pools, p)
		} else if n.pool6 == nil {
			n.pool6 = p
			gw6 = netip.PrefixFrom(gw, c.Subnet.Bits())
		}
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
	if err := s.checkTableOwner(r.Bridge); err != nil {
		return nil, err
	}
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
	if gw6.IsValid() {
		if err := s.nl.AddAddr(n.br, gw6); err != nil {
			return nil, err
		}
	}
	if err := bridge.SetRouteLocalnet(n.br.Name); err != nil {
		return nil, err
	}
	if s.iptables() {
		opts := []nat.Option{nat.WithOwner(s.owner)}
		if r.Internal {
			opts = append(opts, nat.Internal())
		}
		if r.Options[optICC] == "false" {
			opts = append(opts, nat.NoICC())
		}
		if r.Options[optMasq] == "false" {
			opts = append(opts, nat.NoMasquerade())
		}
		if fresh {
			// A table left for this bridge name by a daemon that is gone
			// would lend the new network its published ports.
			if err := nat.DestroyTable(r.Bridge); err != nil {
				return nil, err
			}
		}
		if n.nat, err = nat.Setup(n.br.Name, first.Subnet(), opts...); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// auxOwner holds the addresses of --aux-address in a pool.
const auxOwner = "aux-address"

// lookupLocked finds a network by exact name, full ID, then unique ID
// prefix. "" and "default" are the default bridge. s.mu held.
func (s *Service) lookupLocked(ref string) (*netw, error) {
	if ref == "" || ref == network.NetworkDefault {
		ref = network.NetworkBridge
	}
	if n, ok := s.nets[ref]; ok {
		return n, nil
	}
	for _, n := range s.nets {
		if n.name() == ref {
			return n, nil
		}
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

func errNotListed(ref string) error {
	return errdefs.ErrNotFound.WithMessage("network " + ref + " not found")
}

// lookupListedLocked is lookupLocked for the API: the unlisted network is not
// found. s.mu held.
func (s *Service) lookupListedLocked(ref string) (*netw, error) {
	n, err := s.lookupLocked(ref)
	if err == nil && n.unlisted {
		return nil, errNotListed(ref)
	}
	return n, err
}

func (s *Service) lookup(ref string) (*netw, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(ref)
}

// LookupNetwork resolves a network reference (name, full ID or unique ID
// prefix) for the container service. Unlike the API, it resolves the
// unlisted default bridge of NoBridge: the default network mode of a
// container being created names it.
func (s *Service) LookupNetwork(idOrName string) (id, name, driver string, err error) {
	n, err := s.lookup(idOrName)
	if err != nil {
		return "", "", "", err
	}
	return n.id(), n.name(), n.driver(), nil
}
