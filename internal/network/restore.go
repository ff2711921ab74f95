package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
)

// Restore takes over after a daemon restart. live are the endpoints of
// the containers still running: their addresses and host ports are marked
// used again (ports re-reserved with sockets), their nftables mappings
// re-created if missing, and their embedded DNS servers started again.
// Everything else this service finds (endpoint records, namespaces, veths
// on the bridges, mappings) belongs to containers or endpoints that are
// gone and is removed. Call it once after New, before any Connect: an
// endpoint being connected meanwhile would count as gone. Restore carries
// on past errors (a host port another program took while the daemon was
// down, a namespace that vanished) and returns them joined; they are for
// the log, everything else is restored.
func (s *Service) Restore(ctx context.Context, live []*Endpoint) error {
	type key = epKey
	var errs []error
	keep := map[key]*Endpoint{}
	liveCtr := map[string]bool{}

	s.mu.Lock()
	for _, ep := range live {
		if ep == nil || !validID(ep.ContainerID) || ep.Mode == "host" || ep.Driver == "host" {
			continue
		}
		n := s.networkOfLocked(ep)
		if n == nil {
			errs = append(errs, fmt.Errorf("container %s: network %s is gone", shortID(ep.ContainerID), ep.NetworkID))
			continue
		}
		c := ep.clone()
		c.NetworkID, c.Network = n.id(), n.name()
		if c.Driver == "" {
			c.Driver = n.driver()
		}
		if c.Mode == "" || c.Mode == "default" {
			c.Mode = n.mode()
		}
		keep[key{c.ContainerID, n.id()}] = c
		liveCtr[c.ContainerID] = true
	}

	// What the records know and the containers do not: gone.
	type goneEP struct {
		n        *netw
		ep       *Endpoint
		ctrAlive bool
	}
	var gone []goneEP
	for id, sb := range s.sandboxes {
		for _, ep := range sb.eps {
			k := key{id, ep.NetworkID}
			if kept, ok := keep[k]; ok && kept.EndpointID == ep.EndpointID {
				continue
			}
			n := s.nets[ep.NetworkID]
			if n != nil && n.eps[id] == ep {
				delete(n.eps, id)
			}
			gone = append(gone, goneEP{n: n, ep: ep, ctrAlive: liveCtr[id]})
		}
		sb.eps = nil
		sb.gw = nil
		if !liveCtr[id] {
			delete(s.sandboxes, id)
		}
	}
	// The live ones, as the containers know them.
	for k, ep := range keep {
		n := s.nets[k.net]
		sb := s.sandboxes[k.ctr]
		if sb == nil {
			sb = &sandbox{id: k.ctr, path: ep.NetNSPath}
			s.sandboxes[k.ctr] = sb
		}
		sb.eps = append(sb.eps, ep)
		n.eps[k.ctr] = ep
		for _, a := range addrsOf(ep) {
			if p := n.poolFor(a); p == nil {
				errs = append(errs, fmt.Errorf("container %s: address %s is not in network %s", shortID(k.ctr), a, n.name()))
			} else if err := p.Reserve(a, k.ctr); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", shortID(k.ctr), err))
			}
		}
	}
	for _, sb := range s.sandboxes {
		sb.gw = s.chooseGatewayLocked(sb)
	}
	s.mu.Unlock()

	for _, g := range gone {
		s.releaseGone(g.n, g.ep, g.ctrAlive)
	}

	// Records, host ports and mappings of the live ones.
	want := map[*netw][]nat.Mapping{}
	for k, ep := range keep {
		n := s.nets[k.net]
		if err := s.writeEndpoint(ep); err != nil {
			errs = append(errs, err)
		}
		for _, m := range mappings(ep) {
			pk := portKey(m)
			owner, held := s.portHolder(pk)
			if held && owner == ep.ContainerID {
				want[n] = append(want[n], m)
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
				s.portOwner[pk] = ep.ContainerID
				s.mu.Unlock()
			}
			want[n] = append(want[n], m)
		}
		if err := s.proxyPorts(n, ep); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", shortID(ep.ContainerID), err))
		}
		if !netns.IsNS(ep.NetNSPath) {
			errs = append(errs, fmt.Errorf("container %s: network namespace %s is gone", shortID(ep.ContainerID), ep.NetNSPath))
		}
	}
	for _, n := range s.networks(func(n *netw) bool { return n.nat != nil }) {
		errs = append(errs, syncMappings(n.nat, natMappings(want[n]))...)
	}

	errs = append(errs, s.removeOrphans(liveCtr, keep)...)

	s.mu.Lock()
	for _, n := range s.nets {
		for _, p := range n.allPools() {
			for a, owner := range p.Allocated() {
				if owner == auxOwner {
					continue
				}
				if ep := n.eps[owner]; ep == nil || (ep.IPAddress != a && ep.IPv6Address != a) {
					p.Release(a)
				}
			}
		}
	}
	if err := s.saveStateLocked(); err != nil {
		errs = append(errs, err)
	}
	var dnsFor []*sandbox
	for _, sb := range s.sandboxes {
		for _, ep := range sb.eps {
			if n := s.nets[ep.NetworkID]; n != nil && n.userDefined() {
				dnsFor = append(dnsFor, sb)
				break
			}
		}
	}
	s.mu.Unlock()
	for _, sb := range dnsFor {
		var upstreams []string
		for _, ep := range sb.eps {
			if len(ep.DNS) > 0 {
				upstreams = ep.DNS
			}
		}
		if err := s.startDNS(sb, upstreams); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", shortID(sb.id), err))
		}
	}
	if s.iptables() {
		s.syncForward()
	}
	if err := errors.Join(errs...); err != nil {
		slog.Warn("network restore", "err", err)
		return err
	}
	return nil
}

// epKey names an endpoint: a container on a network.
type epKey struct{ ctr, net string }

// releaseGone undoes an endpoint found at Restore whose container is gone
// (or, ctrAlive, which the running container no longer has): ports,
// mappings, record, interface or namespace.
func (s *Service) releaseGone(n *netw, ep *Endpoint, ctrAlive bool) {
	_ = s.unpublish(n, ep)
	s.removeEndpointRecord(ep)
	if ctrAlive {
		if n != nil && netns.IsNS(ep.NetNSPath) {
			s.dropInterface(n, ep, true)
		}
		return
	}
	_ = s.dropNamespace(n, ep)
}

// syncMappings makes a table's mappings exactly want: strays removed,
// missing ones added.
func syncMappings(t *nat.Table, want []nat.Mapping) []error {
	have, err := t.Mappings()
	if err != nil {
		return []error{err}
	}
	var errs []error
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
	if err := t.Remove(stray); err != nil {
		errs = append(errs, err)
	}
	if err := t.Add(missing); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// removeOrphans deletes namespaces under NetNSDir and veths on the
// bridges that no live endpoint uses: leftovers of a crash between the
// kernel work and the record, or of containers whose records were lost.
func (s *Service) removeOrphans(liveCtr map[string]bool, keep map[epKey]*Endpoint) []error {
	var errs []error
	dir := s.cfg.NetNSDir
	if names, err := readDirNames(dir); err == nil {
		for _, n := range names {
			if !liveCtr[n] {
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
	for _, n := range s.networks(func(n *netw) bool { return n.br != nil }) {
		ports, err := s.nl.Ports(n.br)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range ports {
			if strings.HasPrefix(p, "veth") && !vethOK[p] {
				if err := s.nl.DelLink(p); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errs
}
