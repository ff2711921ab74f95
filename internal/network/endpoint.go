package network

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/portmap"
)

// EndpointRequest asks for a container's network endpoint.
type EndpointRequest struct {
	ContainerID string
	// Name is the container's name, used in Docker's error messages
	// ("driver failed programming external connectivity on endpoint
	// <name> ..."); the short ID when empty.
	Name string
	// Mode is the network mode: "", "default" and "bridge" mean the
	// default bridge; "none" a namespace with only lo; "host" the host's
	// namespace.
	Mode       string
	Ports      network.PortMap // requested bindings
	Exposed    network.PortSet
	PublishAll bool
	Hostname   string
}

// Endpoint is a container's attachment to a default network. It is
// JSON-serialisable: the container store persists it and hands it back to
// Disconnect and Restore.
type Endpoint struct {
	ContainerID string
	Mode        string // "bridge", "none" or "host"
	NetworkID   string
	EndpointID  string
	NetNSPath   string // the namespace the container joins; "" for host
	Bridge      string
	MacAddress  string
	IPAddress   netip.Addr
	Gateway     netip.Addr
	PrefixLen   int
	Ports       network.PortMap // actual bindings, allocated host ports filled in
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

func normMode(m string) string {
	switch m {
	case "", "default", "bridge":
		return "bridge"
	}
	return m
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

// Connect makes the container's endpoint. For the default bridge: a
// network namespace mounted under Root/netns, a veth pair into the bridge,
// an address from the pool (the bridge is the gateway), the MAC Docker
// derives from it, and the published ports (reserved on the host, DNATed
// by nftables). For "none": a namespace with lo up. For "host": nothing.
// On failure everything done so far is undone.
func (s *Service) Connect(ctx context.Context, req EndpointRequest) (_ *Endpoint, retErr error) {
	mode := normMode(req.Mode)
	switch mode {
	case "host":
		return &Endpoint{ContainerID: req.ContainerID, Mode: "host", NetworkID: s.networkID("host"), EndpointID: newEndpointID()}, nil
	case "bridge", "none":
	default:
		if strings.HasPrefix(mode, "container:") {
			return nil, fmt.Errorf("network mode %q is resolved by the container service: %w", mode, errdefs.ErrInvalidArgument)
		}
		return nil, errdefs.ErrNotFound.WithMessage("network " + req.Mode + " not found")
	}
	if !validID(req.ContainerID) {
		return nil, fmt.Errorf("%w %q: %w", errBadID, req.ContainerID, errdefs.ErrInvalidArgument)
	}
	var requests []portRequest
	if mode == "bridge" {
		var err error
		if requests, err = expandPorts(req.Ports, req.Exposed, req.PublishAll); err != nil {
			return nil, err
		}
	}

	ep := &Endpoint{
		ContainerID: req.ContainerID,
		Mode:        mode,
		NetworkID:   s.networkID(mode),
		EndpointID:  newEndpointID(),
		NetNSPath:   filepath.Join(s.cfg.NetNSDir, req.ContainerID),
	}
	var undo []func()
	defer func() {
		if retErr != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()

	// Claim the container's slot and its address.
	s.mu.Lock()
	if old, ok := s.endpoints[req.ContainerID]; ok {
		s.mu.Unlock()
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s",
			endpointName(req), networkName(old.Mode)))
	}
	if mode == "bridge" {
		ip, err := s.pool.Allocate(req.ContainerID)
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		ep.IPAddress, ep.Gateway, ep.PrefixLen = ip, s.br.Addr.Addr(), s.br.Addr.Bits()
		ep.Bridge = s.br.Name
		ep.MacAddress = bridge.MAC(ip).String()
	}
	s.endpoints[req.ContainerID] = ep
	s.mu.Unlock()
	undo = append(undo, func() {
		s.mu.Lock()
		if ep.IPAddress.IsValid() && s.pool.Owner(ep.IPAddress) == ep.ContainerID {
			s.pool.Release(ep.IPAddress)
		}
		if s.endpoints[ep.ContainerID] == ep {
			delete(s.endpoints, ep.ContainerID)
		}
		s.mu.Unlock()
	})

	// Host ports.
	if len(requests) > 0 {
		ep.Ports = network.PortMap{}
	}
	for _, r := range requests {
		proto := string(r.port.Proto())
		hp, err := s.ports.Reserve(proto, r.hostIP, r.begin, r.end)
		if err != nil {
			return nil, externalConnectivityError(req, ep, err)
		}
		k := portmap.Key{Proto: proto, IP: r.hostIP, Port: hp}
		s.mu.Lock()
		s.portOwner[k] = ep.ContainerID
		s.mu.Unlock()
		undo = append(undo, func() { s.releasePort(k, ep.ContainerID) })
		ep.Ports[r.port] = append(ep.Ports[r.port], network.PortBinding{HostIP: r.hostIP, HostPort: strconv.Itoa(int(hp))})
	}

	// Write ahead: from here on, a crash leaves a record Restore cleans up.
	if err := s.writeEndpoint(ep); err != nil {
		return nil, err
	}
	undo = append(undo, func() { s.removeEndpointRecord(ep.ContainerID) })

	// The namespace, and in it the container's end of the veth pair.
	veth := vethName(ep.EndpointID)
	var setup func() error
	if mode == "bridge" {
		addr := netip.PrefixFrom(ep.IPAddress, ep.PrefixLen)
		setup = func() error {
			fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			if err := s.nl.AddVeth(s.br, veth, fd, bridge.MAC(ep.IPAddress)); err != nil {
				return err
			}
			return bridge.ConfigureContainer(addr, ep.Gateway)
		}
	} else {
		setup = bridge.LoopbackUp
	}
	if err := netns.Create(ep.NetNSPath, setup); err != nil {
		if mode == "bridge" {
			_ = s.nl.DelLink(veth)
		}
		return nil, fmt.Errorf("container %s network namespace: %w", shortID(req.ContainerID), err)
	}
	undo = append(undo, func() {
		if mode == "bridge" {
			_ = s.nl.DelLink(veth)
		}
		_ = netns.Delete(ep.NetNSPath)
	})

	if mode == "bridge" {
		if ms := mappings(ep); len(ms) > 0 {
			if err := s.nat.Add(ms); err != nil {
				return nil, externalConnectivityError(req, ep, err)
			}
			undo = append(undo, func() { _ = s.nat.Remove(ms) })
		}
		// The accept rules are checked here on the first endpoint, or when
		// the iptables table cannot be watched; otherwise the watcher
		// keeps them in place.
		if !s.fwdInstalled.Load() || !s.watching.Load() {
			s.syncForward()
		}
	}

	return ep.clone(), nil
}

func endpointName(req EndpointRequest) string {
	if n := strings.TrimPrefix(req.Name, "/"); n != "" {
		return n
	}
	return shortID(req.ContainerID)
}

func networkName(mode string) string {
	if mode == "none" {
		return "none"
	}
	return "bridge"
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

// Disconnect removes an endpoint: its published ports (rules and
// reservations), the namespace, the veth pair, conntrack entries for its
// address, and the address itself. It can be repeated, and works on an
// endpoint from before a restart.
//
// What users can observe (the ports, the namespace, the record) is undone
// before Disconnect returns. Deleting the veth pair (the kernel waits for
// RCU grace periods, ~25 ms here) and flushing conntrack (a walk of the
// whole table, ~10 ms) happen in the background; the address stays
// allocated until they are done, so it is not handed out while the old
// interface may still exist.
func (s *Service) Disconnect(ctx context.Context, ep *Endpoint) error {
	if ep == nil || normMode(ep.Mode) == "host" || !validID(ep.ContainerID) {
		return nil
	}
	var errs []error
	mode := normMode(ep.Mode)

	// Only undo what is still this container's: after a restart a stale
	// Endpoint may name ports or an address someone else holds now.
	var ms []nat.Mapping
	var keys []portmap.Key
	for _, m := range mappings(ep) {
		k := portKey(m)
		owner, held := s.portHolder(k)
		if !held || owner == ep.ContainerID {
			ms = append(ms, m)
			keys = append(keys, k)
		}
	}
	if err := s.nat.Remove(ms); err != nil {
		errs = append(errs, err)
	}
	for _, k := range keys {
		s.releasePort(k, ep.ContainerID)
	}
	if s.ownNetNS(ep.NetNSPath) {
		if err := netns.Delete(ep.NetNSPath); err != nil {
			errs = append(errs, err)
		}
	}

	s.mu.Lock()
	removed := false
	if cur, ok := s.endpoints[ep.ContainerID]; ok && (cur.EndpointID == ep.EndpointID || ep.EndpointID == "") {
		delete(s.endpoints, ep.ContainerID)
		removed = true
	}
	s.mu.Unlock()
	if removed {
		s.removeEndpointRecord(ep.ContainerID)
	}
	if mode == "bridge" && s.bridgeEndpoints() == 0 {
		s.syncForward()
	}

	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.finishDisconnect(ep)
	}()
	if len(errs) > 0 {
		return fmt.Errorf("disconnect %s: %w", shortID(ep.ContainerID), errors.Join(errs...))
	}
	return nil
}

// finishDisconnect is the slow half of Disconnect.
func (s *Service) finishDisconnect(ep *Endpoint) {
	if normMode(ep.Mode) == "bridge" {
		if v := vethName(ep.EndpointID); v != "" {
			if err := s.nl.DelLink(v); err != nil {
				slog.Warn("delete veth", "container", shortID(ep.ContainerID), "veth", v, "err", err)
			}
		}
		if ep.IPAddress.IsValid() {
			// Established flows (UDP above all) would otherwise keep their
			// NAT to an address the next container may get; Docker flushes
			// them for the same reason (moby#8795).
			f := &netlink.ConntrackFilter{}
			if err := f.AddIP(netlink.ConntrackNatAnyIP, ep.IPAddress.AsSlice()); err == nil {
				_, _ = s.nl.Handle().ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, f)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Release the address unless the container got it again meanwhile
	// (Restore re-marking a live endpoint).
	cur, again := s.endpoints[ep.ContainerID]
	if ep.IPAddress.IsValid() && s.pool.Owner(ep.IPAddress) == ep.ContainerID && (!again || cur.IPAddress != ep.IPAddress) {
		s.pool.Release(ep.IPAddress)
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
	dir := s.cfg.NetNSDir
	return filepath.Dir(filepath.Clean(path)) == dir
}

// Restore takes over after a daemon restart. live are the endpoints of the
// containers still running: their addresses and host ports are marked used
// again (ports re-reserved with sockets) and their nftables mappings
// re-created if missing. Everything else this service finds (endpoint
// records, namespaces, veths on the bridge, mappings) belongs to containers
// that are gone and is removed. Call it once after New, before any
// Connect: an endpoint being connected meanwhile would count as gone.
// Restore carries on past errors (a host port another program took while
// the daemon was down, a namespace that vanished) and returns them joined;
// they are for the log, everything else is restored.
func (s *Service) Restore(ctx context.Context, live []*Endpoint) error {
	var errs []error
	keep := map[string]*Endpoint{}
	for _, ep := range live {
		if ep == nil || !validID(ep.ContainerID) {
			continue
		}
		if m := normMode(ep.Mode); m == "bridge" || m == "none" {
			keep[ep.ContainerID] = ep
		}
	}

	// Endpoints recorded here whose containers are gone.
	s.mu.Lock()
	var gone []*Endpoint
	for id, ep := range s.endpoints {
		// A live endpoint with another endpoint ID simply replaces the
		// record below; its namespace path is the same, so it must not be
		// "disconnected" here. Its old veth goes with the orphans.
		if _, ok := keep[id]; !ok {
			gone = append(gone, ep)
		}
	}
	s.mu.Unlock()
	for _, ep := range gone {
		if err := s.Disconnect(ctx, ep); err != nil {
			errs = append(errs, err)
		}
	}

	// The live ones: addresses, ports, records.
	var want []nat.Mapping
	for _, ep := range keep {
		ep = ep.clone()
		ep.Mode = normMode(ep.Mode)
		s.mu.Lock()
		if ep.Mode == "bridge" && ep.IPAddress.IsValid() {
			if err := s.pool.Reserve(ep.IPAddress, ep.ContainerID); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", shortID(ep.ContainerID), err))
			}
		}
		s.endpoints[ep.ContainerID] = ep
		s.mu.Unlock()
		if err := s.writeEndpoint(ep); err != nil {
			errs = append(errs, err)
		}
		for _, m := range mappings(ep) {
			k := portKey(m)
			owner, held := s.portHolder(k)
			if held && owner == ep.ContainerID {
				want = append(want, m)
				continue
			}
			if held {
				errs = append(errs, fmt.Errorf("container %s: host port %s:%d/%s is held by container %s",
					shortID(ep.ContainerID), m.HostIP, m.HostPort, m.Proto, shortID(owner)))
				continue
			}
			if _, err := s.ports.Reserve(m.Proto, m.HostIP, m.HostPort, m.HostPort); err != nil {
				// Another program took the port while the daemon was down.
				// Keep the mapping: traffic still reaches the container.
				errs = append(errs, fmt.Errorf("container %s: %w", shortID(ep.ContainerID), err))
			} else {
				s.mu.Lock()
				s.portOwner[k] = ep.ContainerID
				s.mu.Unlock()
			}
			want = append(want, m)
		}
		if !netns.IsNS(ep.NetNSPath) {
			errs = append(errs, fmt.Errorf("container %s: network namespace %s is gone", shortID(ep.ContainerID), ep.NetNSPath))
		}
	}

	// Mappings: drop strays, add what is missing.
	if have, err := s.nat.Mappings(); err != nil {
		errs = append(errs, err)
	} else {
		wanted := map[nat.Mapping]bool{}
		for _, m := range want {
			m.Owner = ""
			wanted[m] = true
		}
		present := map[nat.Mapping]bool{}
		var stray []nat.Mapping
		for _, m := range have {
			m.Owner = ""
			if wanted[m] {
				present[m] = true
			} else {
				stray = append(stray, m)
			}
		}
		var missing []nat.Mapping
		for _, m := range want {
			k := m
			k.Owner = ""
			if !present[k] {
				missing = append(missing, m)
			}
		}
		if err := s.nat.Remove(stray); err != nil {
			errs = append(errs, err)
		}
		if err := s.nat.Add(missing); err != nil {
			errs = append(errs, err)
		}
	}

	errs = append(errs, s.removeOrphans(keep)...)

	s.mu.Lock()
	for a, owner := range s.pool.Allocated() {
		if _, ok := keep[owner]; !ok {
			s.pool.Release(a)
		}
	}
	if err := s.saveStateLocked(); err != nil {
		errs = append(errs, err)
	}
	s.mu.Unlock()
	s.syncForward()
	if err := errors.Join(errs...); err != nil {
		slog.Warn("network restore", "err", err)
		return err
	}
	return nil
}

// removeOrphans deletes namespaces under Root/netns and veths on the bridge
// that no live endpoint uses: leftovers of a crash between the kernel work
// and the record, or of containers whose records were lost.
func (s *Service) removeOrphans(keep map[string]*Endpoint) []error {
	var errs []error
	dir := s.cfg.NetNSDir
	if names, err := readDirNames(dir); err == nil {
		for _, n := range names {
			if _, ok := keep[n]; !ok {
				if err := netns.Delete(filepath.Join(dir, n)); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	vethOK := map[string]bool{}
	for _, ep := range keep {
		vethOK[vethName(ep.EndpointID)] = true
	}
	ports, err := s.nl.Ports(s.br)
	if err != nil {
		return append(errs, err)
	}
	for _, p := range ports {
		if strings.HasPrefix(p, "veth") && !vethOK[p] {
			if err := s.nl.DelLink(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

func (ep *Endpoint) clone() *Endpoint {
	c := *ep
	if ep.Ports != nil {
		c.Ports = network.PortMap{}
		for k, v := range ep.Ports {
			c.Ports[k] = append([]network.PortBinding(nil), v...)
		}
	}
	return &c
}
