package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/ipam"
	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/portmap"
)

// EndpointRequest asks for one of a container's endpoints.
type EndpointRequest struct {
	ContainerID string
	// Name is the container's name without "/": its DNS name, and the
	// name in Docker's error messages ("driver failed programming
	// external connectivity on endpoint <name> ..."); the short ID when
	// empty.
	Name string
	// Network is a network name, ID or ID prefix; "" and "default" mean
	// the default bridge.
	Network                  string
	Aliases                  []string   // network-scoped aliases, user-defined networks only
	IPv4Address, IPv6Address netip.Addr // --ip, --ip6; zero: allocate
	MacAddress               string     // zero: derived from the address
	Ports                    network.PortMap
	Exposed                  network.PortSet
	PublishAll               bool
	Hostname                 string
	// Primary is the container's first endpoint: the ports are published
	// on it.
	Primary bool
	// DNS are the container's own --dns servers: the upstreams of its
	// embedded DNS server, when it has one.
	DNS []string
	// Links are the container's links as "name:alias": on a user-defined
	// network, alias resolves to the linked container for this container
	// only, as Docker does.
	Links []string
}

// Endpoint is one attachment of a container to a network. It is
// JSON-serialisable: the container store persists it and hands it back
// to Disconnect and Restore. Records written before several networks have
// no Network, Driver or IfName; NetworkID and Mode say what they were.
type Endpoint struct {
	ContainerID, Name, Network, NetworkID, EndpointID, Driver string
	Mode                                                      string // "bridge", "macvlan", "none" or "host"
	NetNSPath, Bridge, MacAddress                             string
	IfName                                                    string // eth0, eth1... in the container
	IPAddress, Gateway                                        netip.Addr
	PrefixLen                                                 int
	IPv6Address, IPv6Gateway                                  netip.Addr
	IPv6PrefixLen                                             int
	Aliases, DNSNames                                         []string
	Ports                                                     network.PortMap // actual bindings, allocated host ports filled in
	// DNS are the upstreams the container's embedded DNS server forwards
	// to, when it has one and they are its own (--dns).
	DNS []string
	// Links are the container's links on a user-defined network,
	// "name:alias".
	Links []string
}

// addrsOf are the endpoint's addresses.
func addrsOf(ep *Endpoint) []netip.Addr {
	var out []netip.Addr
	for _, a := range []netip.Addr{ep.IPAddress, ep.IPv6Address} {
		if a.IsValid() {
			out = append(out, a)
		}
	}
	return out
}

// vethName is the host end of the endpoint's veth pair, derived from the
// endpoint ID so that it needs no state of its own ("veth" and 7 hex
// digits, as Docker names them).
func vethName(endpointID string) string {
	if len(endpointID) < 7 {
		return ""
	}
	return "veth" + endpointID[:7]
}

// ifName is the endpoint's interface in the container; eth0 for records
// from before several networks.
func (ep *Endpoint) ifName() string {
	if ep.IfName == "" {
		return bridge.ContainerIfName
	}
	return ep.IfName
}

func validID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func newEndpointID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Docker's texts for endpoint settings that need a user-defined network.
var (
	errUserIP    = errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported on user defined networks only")
	errUserAlias = errdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
)

// Connect makes one of the container's endpoints. The container's first
// endpoint creates its network namespace (mounted under NetNSDir); the
// others add an interface to it, also while the container runs. On a
// bridge network: a veth pair into the bridge, addresses from the
// network's pools, the MAC Docker derives from the address, the default
// route when this network is the one Docker would route through, and
// the published ports (reserved on the host, DNATed by nftables). On
// macvlan: a macvlan interface on the parent. On none: lo only. On host:
// nothing. On a user-defined network the namespace gets the embedded DNS
// server. On failure everything done so far is undone.
func (s *Service) Connect(ctx context.Context, req EndpointRequest) (_ *Endpoint, retErr error) {
	n, err := s.lookup(req.Network)
	if err != nil {
		return nil, err
	}
	if n.driver() == "host" {
		return &Endpoint{ContainerID: req.ContainerID, Name: req.Name, Network: n.name(), NetworkID: n.id(),
			EndpointID: newEndpointID(), Driver: "host", Mode: "host"}, nil
	}
	if !validID(req.ContainerID) {
		return nil, fmt.Errorf("%w %q: %w", errBadID, req.ContainerID, errdefs.ErrInvalidArgument)
	}
	if n.err != nil {
		return nil, fmt.Errorf("network %s is not available: %w", n.name(), n.err)
	}
	if n.builtin && (req.IPv4Address.IsValid() || req.IPv6Address.IsValid()) {
		return nil, errUserIP
	}
	if n.builtin && len(req.Aliases) > 0 {
		return nil, errUserAlias
	}
	var mac net.HardwareAddr
	if req.MacAddress != "" && n.hasInterface() {
		if mac, err = net.ParseMAC(req.MacAddress); err != nil || len(mac) != 6 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(req.MacAddress + " is not a valid mac address")
		}
	}
	var requests []portRequest
	if n.driver() == "bridge" && !n.rec.Internal {
		if requests, err = expandPorts(req.Ports, req.Exposed, req.PublishAll); err != nil {
			return nil, err
		}
	}

	ep := &Endpoint{
		ContainerID: req.ContainerID,
		Name:        strings.TrimPrefix(req.Name, "/"),
		Network:     n.name(),
		NetworkID:   n.id(),
		EndpointID:  newEndpointID(),
		Driver:      n.driver(),
		Mode:        n.mode(),
	}
	if n.unlisted {
		ep.EndpointID = "" // as dockerd shows it: there is no endpoint
	}
	if n.userDefined() {
		ep.Aliases = slices.Clone(req.Aliases)
		ep.DNSNames = dnsNames(req)
		ep.DNS = slices.Clone(req.DNS)
		ep.Links = slices.Clone(req.Links)
	}
	if n.br != nil {
		ep.Bridge = n.br.Name
	}
	var undo []func()
	defer func() {
		if retErr != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	// Claim the endpoint's place in the sandbox, and its addresses.
	s.mu.Lock()
	if n.removed.Load() {
		s.mu.Unlock()
		return nil, errdefs.ErrNotFound.WithMessage("network " + n.name() + " not found")
	}
	sb := s.sandboxes[req.ContainerID]
	fresh := sb == nil
	if fresh {
		sb = &sandbox{id: req.ContainerID, path: filepath.Join(s.cfg.NetNSDir, req.ContainerID)}
	} else if sb.endpointOn(n.id()) != nil {
		s.mu.Unlock()
		return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s",
			endpointName(req), n.name()))
	}
	ep.NetNSPath = sb.path
	if n.hasInterface() {
		ep.IfName = sb.nextIfName()
		if err := s.allocateLocked(n, ep, req); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if mac == nil {
			mac = bridge.MAC(ep.IPAddress)
		}
		ep.MacAddress = mac.String()
	}
	if fresh {
		s.sandboxes[req.ContainerID] = sb
	}
	sb.eps = append(sb.eps, ep)
	n.eps[ep.ContainerID] = ep
	prevGW := sb.gateway()
	gw := s.chooseGatewayLocked(sb)
	sb.gw = gw
	s.mu.Unlock()
	undo = append(undo, func() {
		s.mu.Lock()
		s.releaseAddrsLocked(n, ep)
		if n.eps[ep.ContainerID] == ep {
			delete(n.eps, ep.ContainerID)
		}
		sb.removeEndpoint(ep)
		sb.gw = prevGW
		if len(sb.eps) == 0 && s.sandboxes[ep.ContainerID] == sb {
			delete(s.sandboxes, ep.ContainerID)
		}
		s.mu.Unlock()
	})

	// Host ports.
	if len(requests) > 0 {
		ep.Ports = network.PortMap{}
	}
	for _, r := range requests {
		proto := string(r.port.Proto())
		hostIPs := []netip.Addr{r.hostIP}
		if !r.explicitIP {
			hostIPs = s.defaultHostIPs(n)
		}
		hp, err := s.ports.ReserveAll(proto, hostIPs, r.begin, r.end)
		if err != nil {
			return nil, externalConnectivityError(req, ep, err)
		}
		for _, hostIP := range hostIPs {
			k := portmap.Key{Proto: proto, IP: hostIP, Port: hp}
			s.mu.Lock()
			s.portOwner[k] = ep.ContainerID
			s.mu.Unlock()
			undo = append(undo, func() { s.releasePort(k, ep.ContainerID) })
			ep.Ports[r.port] = append(ep.Ports[r.port], network.PortBinding{HostIP: hostIP, HostPort: strconv.Itoa(int(hp))})
		}
	}

	// Write ahead: from here on, a crash leaves a record Restore cleans up.
	if err := s.writeEndpoint(ep); err != nil {
		return nil, err
	}
	undo = append(undo, func() { s.removeEndpointRecord(ep) })

	// The namespace, and in it the container's interface.
	setup := s.interfaceSetup(n, ep, mac, gw == ep, fresh)
	switch {
	case fresh:
		err = netns.Create(ep.NetNSPath, setup)
	case setup != nil:
		err = netns.Do(ep.NetNSPath, setup)
	}
	if err != nil {
		s.dropInterface(n, ep, !fresh)
		return nil, fmt.Errorf("container %s network namespace: %w", shortID(req.ContainerID), err)
	}
	undo = append(undo, func() {
		s.dropInterface(n, ep, !fresh)
		if fresh {
			_ = netns.Delete(ep.NetNSPath)
		} else if gw == ep && prevGW != nil {
			_ = netns.Do(ep.NetNSPath, func() error {
				return bridge.SetDefaultRoutes(prevGW.ifName(), prevGW.Gateway, prevGW.IPv6Gateway)
			})
		}
	})

	if n.nat != nil {
		if ms := natMappings(mappings(ep)); len(ms) > 0 {
			if err := n.nat.Add(ms); err != nil {
				return nil, externalConnectivityError(req, ep, err)
			}
			undo = append(undo, func() { _ = n.nat.Remove(ms) })
		}
	}
	if err := s.proxyPorts(n, ep); err != nil {
		return nil, externalConnectivityError(req, ep, err)
	}
	if n.userDefined() {
		if err := s.startDNS(sb, req.DNS); err != nil {
			return nil, err
		}
	}
	if n.nat != nil && (!n.fwdInstalled.Load() || !s.watching.Load()) {
		// The accept rules are checked here on the network's first
		// endpoint, or when the iptables table cannot be watched;
		// otherwise the watcher keeps them in place.
		s.syncForwardNet(n)
	}
	return ep.clone(), nil
}

// interfaceSetup is what runs inside the container's namespace to add
// ep's interface (nil when there is nothing to do). makeGW makes its
// network the namespace's default route.
func (s *Service) interfaceSetup(n *netw, ep *Endpoint, mac net.HardwareAddr, makeGW, fresh bool) func() error {
	ifc := bridge.Interface{Name: ep.IfName}
	if ep.IPAddress.IsValid() {
		ifc.Addr = netip.PrefixFrom(ep.IPAddress, ep.PrefixLen)
	}
	if ep.IPv6Address.IsValid() {
		ifc.Addr6 = netip.PrefixFrom(ep.IPv6Address, ep.IPv6PrefixLen)
	}
	if makeGW {
		ifc.Gateway, ifc.Gateway6 = ep.Gateway, ep.IPv6Gateway
	}
	switch n.driver() {
	case "bridge", "macvlan":
		return func() error {
			fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if n.driver() == "bridge" {
				err = s.nl.AddVethNamed(n.br, vethName(ep.EndpointID), ep.IfName, fd, mac)
			} else {
				err = s.nl.AddMacvlan(n.rec.Options[optParent], ep.IfName, fd, mac)
			}
			if err != nil {
				return err
			}
			return bridge.ConfigureInterface(ifc)
		}
	}
	if !fresh {
		return nil // none in an existing namespace: nothing to add
	}
	return bridge.LoopbackUp
}

// dropInterface deletes ep's interface: the host end of its veth pair
// (which takes the container's end with it), or the macvlan inside the
// namespace (inNS: the namespace stays).
func (s *Service) dropInterface(n *netw, ep *Endpoint, inNS bool) {
	switch n.driver() {
	case "bridge":
		_ = s.nl.DelLink(vethName(ep.EndpointID))
	case "macvlan":
		if inNS {
			_ = netns.Do(ep.NetNSPath, func() error { return bridge.DelLinkIn(ep.ifName()) })
		}
	}
}

// allocateLocked gives ep its addresses on n: the requested ones if free
// and in a subnet of n, else the lowest free of the first pool that has
// one. s.mu held.
func (s *Service) allocateLocked(n *netw, ep *Endpoint, req EndpointRequest) error {
	take := func(pools []*ipam.Pool, want netip.Addr, family string) (netip.Addr, *ipam.Pool, error) {
		if want.IsValid() {
			want = want.Unmap()
			var p *ipam.Pool
			for _, c := range pools {
				if c.Contains(want) {
					p = c
				}
			}
			if p == nil {
				return netip.Addr{}, nil, errdefs.ErrInvalidArgument.WithMessage(
					fmt.Sprintf("Invalid address %s: It does not belong to any of this network's subnets", want))
			}
			if owner := p.Owner(want); (owner != "" && owner != ep.ContainerID) || want == p.Gateway() {
				return netip.Addr{}, nil, errdefs.ErrConflict.WithMessage("Address already in use")
			}
			if err := p.Reserve(want, ep.ContainerID); err != nil {
				return netip.Addr{}, nil, errdefs.ErrInvalidArgument.WithMessage(
					fmt.Sprintf("Invalid address %s: It does not belong to any of this network's subnets", want))
			}
			return want, p, nil
		}
		for _, p := range pools {
			if a, err := p.Allocate(ep.ContainerID); err == nil {
				return a, p, nil
			}
		}
		return netip.Addr{}, nil, errdefs.ErrResourceExhausted.WithMessage(fmt.Sprintf(
			"no available %s addresses on this network's address pools: %s (%s)", family, n.name(), n.id()))
	}
	a, p, err := take(n.pools, req.IPv4Address, "IPv4")
	if err != nil {
		return err
	}
	ep.IPAddress, ep.PrefixLen, ep.Gateway = a, p.Subnet().Bits(), p.Gateway()
	if n.pool6 == nil {
		if req.IPv6Address.IsValid() {
			n.pools[0].Release(a)
			return errdefs.ErrInvalidArgument.WithMessage(
				fmt.Sprintf("Invalid address %s: It does not belong to any of this network's subnets", req.IPv6Address))
		}
		return nil
	}
	a6, p6, err := take([]*ipam.Pool{n.pool6}, req.IPv6Address, "IPv6")
	if err != nil {
		p.Release(a)
		return err
	}
	ep.IPv6Address, ep.IPv6PrefixLen, ep.IPv6Gateway = a6, p6.Subnet().Bits(), p6.Gateway()
	return nil
}

// releaseAddrsLocked frees ep's addresses, unless the container holds
// them again through another endpoint (Restore re-marking a live one).
// s.mu held.
func (s *Service) releaseAddrsLocked(n *netw, ep *Endpoint) {
	if n == nil {
		return
	}
	cur := n.eps[ep.ContainerID]
	for _, a := range []netip.Addr{ep.IPAddress, ep.IPv6Address} {
		if !a.IsValid() {
			continue
		}
		p := n.poolFor(a)
		if p == nil || p.Owner(a) != ep.ContainerID {
			continue
		}
		if cur != nil && cur != ep && (cur.IPAddress == a || cur.IPv6Address == a) {
			continue
		}
		p.Release(a)
	}
}

// dnsNames are the names a container answers to on a user-defined
// network, as Docker lists them: name, aliases, short ID, hostname.
func dnsNames(req EndpointRequest) []string {
	names := []string{strings.TrimPrefix(req.Name, "/")}
	names = append(names, req.Aliases...)
	names = append(names, shortID(req.ContainerID))
	names = append(names, req.Hostname)
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func endpointName(req EndpointRequest) string {
	if n := strings.TrimPrefix(req.Name, "/"); n != "" {
		return n
	}
	return shortID(req.ContainerID)
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// externalConnectivityError is Docker's wording for a failure to publish
// ports, which clients show and scripts match.
func externalConnectivityError(req EndpointRequest, ep *Endpoint, err error) error {
	return errdefs.ErrUnknown.WithMessage(fmt.Sprintf("driver failed programming external connectivity on endpoint %s (%s): %s",
		endpointName(req), ep.EndpointID, err.Error()))
}

// mappings are the nftables mappings for an endpoint's published ports.
func mappings(ep *Endpoint) []nat.Mapping {
	if !ep.IPAddress.IsValid() {
		return nil
	}
	var out []nat.Mapping
	for port, list := range ep.Ports {
		for _, b := range list {
			hp, err := strconv.ParseUint(b.HostPort, 10, 16)
			if err != nil || hp == 0 {
				continue
			}
			hip := b.HostIP
			if !hip.IsValid() {
				hip = netip.IPv4Unspecified()
			}
			out = append(out, nat.Mapping{
				Proto: string(port.Proto()), HostIP: hip, HostPort: uint16(hp),
				Addr: ep.IPAddress, Port: port.Num(), Owner: shortID(ep.ContainerID),
			})
		}
	}
	return out
}

// natMappings are the mappings nftables forwards: those on IPv4 host
// addresses (NAT cannot take IPv6 traffic to an IPv4 container).
func natMappings(ms []nat.Mapping) []nat.Mapping {
	out := make([]nat.Mapping, 0, len(ms))
	for _, m := range ms {
		if onIPv4(m) {
			out = append(out, m)
		}
	}
	return out
}

// onIPv4 reports whether m is published on an IPv4 host address (or all).
func onIPv4(m nat.Mapping) bool { return !m.HostIP.IsValid() || m.HostIP.Is4() }

// proxyPorts relays, through the userland proxy, the published ports of
// ep that nftables does not forward: all of them on a network without
// NAT (--iptables=false), else those on IPv6 host addresses.
func (s *Service) proxyPorts(n *netw, ep *Endpoint) error {
	if n == nil || !ep.IPAddress.IsValid() {
		return nil
	}
	for _, m := range mappings(ep) {
		if n.nat != nil && onIPv4(m) {
			continue
		}
		if owner, held := s.portHolder(portKey(m)); !held || owner != ep.ContainerID {
			continue
		}
		if err := s.ports.Proxy(portKey(m), netip.AddrPortFrom(ep.IPAddress, m.Port)); err != nil {
			return err
		}
	}
	return nil
}

// defaultHostIPs are where a binding without a host address takes its
// port on n: the network's host_binding_ipv4, and when that is 0.0.0.0
// on a host with IPv6, :: as well, as Docker binds them.
func (s *Service) defaultHostIPs(n *netw) []netip.Addr {
	if s.hostIPv6 && n.hostIP == netip.IPv4Unspecified() {
		return []netip.Addr{n.hostIP, netip.IPv6Unspecified()}
	}
	return []netip.Addr{n.hostIP}
}

// portKey is the host port reservation behind a mapping.
func portKey(m nat.Mapping) portmap.Key {
	return portmap.Key{Proto: m.Proto, IP: m.HostIP, Port: m.HostPort}
}

// portHolder reports which container holds the host port k, if any.
func (s *Service) portHolder(k portmap.Key) (owner string, held bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	owner, held = s.portOwner[k]
	return owner, held
}

func (s *Service) releasePort(k portmap.Key, owner string) {
	s.mu.Lock()
	mine := s.portOwner[k] == owner
	if mine {
		delete(s.portOwner, k)
	}
	s.mu.Unlock()
	if mine {
		s.ports.Release(k.Proto, k.IP, k.Port)
	}
}

// networkOf finds the network of an endpoint: by ID, or for records from
// before several networks by their mode. nil when it is gone.
func (s *Service) networkOfLocked(ep *Endpoint) *netw {
	if n, ok := s.nets[ep.NetworkID]; ok {
		return n
	}
	switch ep.Mode {
	case "", "bridge", "default":
		if ep.NetworkID == "" {
			return s.def
		}
	case "none":
		if ep.NetworkID == "" {
			return s.nets[s.networkID("none")]
		}
	}
	return nil
}

// Disconnect removes an endpoint: its published ports (rules and
// reservations), its interface, conntrack entries for its address, and
// the address itself; with the container's last endpoint, its namespace
// and embedded DNS server too. It can be repeated, and works on an
// endpoint from before a restart.
//
// What users can observe (the ports, the interface of a container that
// keeps running, the namespace, the record) is undone before Disconnect
// returns. With the last endpoint, deleting the veth pair (the kernel
// waits for RCU grace periods, ~25 ms here) and flushing conntrack (a
// walk of the whole table, ~10 ms) happen in the background; the address
// stays allocated until they are done, so it is not handed out while the
// old interface may still exist.
func (s *Service) Disconnect(ctx context.Context, ep *Endpoint) error {
	if ep == nil || ep.Mode == "host" || ep.Driver == "host" || !validID(ep.ContainerID) {
		return nil
	}
	var errs []error

	s.mu.Lock()
	n := s.networkOfLocked(ep)
	sb := s.sandboxes[ep.ContainerID]
	var cur *Endpoint
	if sb != nil && n != nil {
		cur = sb.endpointOn(n.id())
		if cur != nil && ep.EndpointID != "" && cur.EndpointID != ep.EndpointID {
			cur = nil
		}
	}
	if sb != nil && cur == nil {
		// Already disconnected; the sandbox is the container's current one.
		s.mu.Unlock()
		return nil
	}
	last := true
	var newGW *Endpoint
	if cur != nil {
		ep = cur.clone()
		wasGW := sb.gw == cur
		sb.removeEndpoint(cur)
		if n.eps[ep.ContainerID] == cur {
			delete(n.eps, ep.ContainerID)
		}
		last = len(sb.eps) == 0
		if last {
			delete(s.sandboxes, ep.ContainerID)
		} else if wasGW {
			newGW = s.chooseGatewayLocked(sb)
			sb.gw = newGW
		}
	}
	s.mu.Unlock()

	if err := s.unpublish(n, ep); err != nil {
		errs = append(errs, err)
	}
	if cur != nil {
		s.removeEndpointRecord(ep)
	}

	if last {
		if sb != nil {
			sb.stopDNS()
		}
		if err := s.dropNamespace(n, ep); err != nil {
			errs = append(errs, err)
		}
	} else {
		// The container keeps running: its interface goes now.
		if n != nil {
			s.dropInterface(n, ep, true)
		}
		if newGW != nil {
			if err := netns.Do(ep.NetNSPath, func() error {
				return bridge.SetDefaultRoutes(newGW.ifName(), newGW.Gateway, newGW.IPv6Gateway)
			}); err != nil {
				errs = append(errs, err)
			}
		}
		s.mu.Lock()
		s.releaseAddrsLocked(n, ep)
		s.mu.Unlock()
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.flushConntrack(ep)
		}()
	}
	if n != nil && n.nat != nil {
		s.mu.Lock()
		empty := len(n.eps) == 0
		s.mu.Unlock()
		if empty {
			s.syncForwardNet(n)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("disconnect %s: %w", shortID(ep.ContainerID), errors.Join(errs...))
	}
	return nil
}

// unpublish removes ep's published ports: their nftables mappings, then
// their host port reservations. Only what is still this container's: after
// a restart a stale Endpoint may name ports someone else holds now.
func (s *Service) unpublish(n *netw, ep *Endpoint) error {
	var ms []nat.Mapping
	var keys []portmap.Key
	for _, m := range mappings(ep) {
		k := portKey(m)
		if owner, held := s.portHolder(k); !held || owner == ep.ContainerID {
			ms = append(ms, m)
			keys = append(keys, k)
		}
	}
	var err error
	if n != nil && n.nat != nil {
		err = n.nat.Remove(natMappings(ms))
	}
	for _, k := range keys {
		s.releasePort(k, ep.ContainerID)
	}
	return err
}

// dropNamespace deletes the namespace of a container's last endpoint now
// and leaves the slow rest (finishDisconnect) to the background.
func (s *Service) dropNamespace(n *netw, ep *Endpoint) error {
	var err error
	if s.ownNetNS(ep.NetNSPath) {
		err = netns.Delete(ep.NetNSPath)
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.finishDisconnect(n, ep)
	}()
	return err
}

// finishDisconnect is the slow half of Disconnect.
func (s *Service) finishDisconnect(n *netw, ep *Endpoint) {
	if ep.Mode == "bridge" || ep.Mode == "" {
		if v := vethName(ep.EndpointID); v != "" {
			if err := s.nl.DelLink(v); err != nil {
				slog.Warn("delete veth", "container", shortID(ep.ContainerID), "veth", v, "err", err)
			}
		}
	}
	s.flushConntrack(ep)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseAddrsLocked(n, ep)
}

// flushConntrack drops the connection tracking entries of ep's address.
// Established flows (UDP above all) would otherwise keep their NAT to an
// address the next container may get; Docker flushes them for the same
// reason (moby#8795).
func (s *Service) flushConntrack(ep *Endpoint) {
	if !ep.IPAddress.IsValid() || ep.Mode == "macvlan" {
		return
	}
	f := &netlink.ConntrackFilter{}
	if err := f.AddIP(netlink.ConntrackNatAnyIP, ep.IPAddress.AsSlice()); err == nil {
		_, _ = s.nl.Handle().ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
	}
}

// settle waits for the background halves of Disconnect.
func (s *Service) settle() { s.bg.Wait() }

// ownNetNS reports whether path is one of the namespaces this service
// mounts, so that a stale or foreign Endpoint can never make it unmount
// something else.
func (s *Service) ownNetNS(path string) bool {
	if path == "" {
		return false
	}
	return filepath.Dir(filepath.Clean(path)) == s.cfg.NetNSDir
}

func (ep *Endpoint) clone() *Endpoint {
	c := *ep
	if ep.Ports != nil {
		c.Ports = network.PortMap{}
		for k, v := range ep.Ports {
			c.Ports[k] = append([]network.PortBinding(nil), v...)
		}
	}
	c.Aliases = slices.Clone(ep.Aliases)
	c.DNSNames = slices.Clone(ep.DNSNames)
	c.DNS = slices.Clone(ep.DNS)
	c.Links = slices.Clone(ep.Links)
	return &c
}
