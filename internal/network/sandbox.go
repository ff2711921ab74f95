package network

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/berth-dev/berth/internal/network/dns"
)

// sandbox is a container's network namespace and the endpoints in it.
// Its fields other than the DNS server are guarded by Service.mu.
type sandbox struct {
	id   string // container ID
	path string
	eps  []*Endpoint // in connect order
	gw   *Endpoint   // the endpoint the default routes go through

	dnsMu sync.Mutex
	dns   *dns.Server
}

func (sb *sandbox) endpointOn(netID string) *Endpoint {
	for _, ep := range sb.eps {
		if ep.NetworkID == netID {
			return ep
		}
	}
	return nil
}

func (sb *sandbox) removeEndpoint(ep *Endpoint) {
	sb.eps = slices.DeleteFunc(sb.eps, func(e *Endpoint) bool { return e == ep })
	if sb.gw == ep {
		sb.gw = nil
	}
}

func (sb *sandbox) gateway() *Endpoint { return sb.gw }

// nextIfName is the first of eth0, eth1... that no endpoint of the
// sandbox uses.
func (sb *sandbox) nextIfName() string {
	used := func(name string) bool {
		for _, ep := range sb.eps {
			// Records from before several networks have eth0, unnamed.
			if ep.IfName == name || (ep.IfName == "" && ep.IPAddress.IsValid() && name == "eth0") {
				return true
			}
		}
		return false
	}
	for i := 0; ; i++ {
		if name := fmt.Sprintf("eth%d", i); !used(name) {
			return name
		}
	}
}

// chooseGatewayLocked picks the endpoint the sandbox's default routes go
// through, as Docker orders a sandbox's endpoints: networks that are not
// internal first, then those with both IPv4 and IPv6 gateways, then by
// network name. nil when no endpoint has a gateway. s.mu held.
func (s *Service) chooseGatewayLocked(sb *sandbox) *Endpoint {
	rank := func(ep *Endpoint) (internal, single int) {
		if n := s.nets[ep.NetworkID]; n != nil && n.rec.Internal {
			internal = 1
		}
		if !ep.IPv6Gateway.IsValid() {
			single = 1
		}
		return internal, single
	}
	var best *Endpoint
	for _, ep := range sb.eps {
		if !ep.Gateway.IsValid() {
			continue
		}
		if best == nil {
			best = ep
			continue
		}
		bi, bs := rank(best)
		ei, es := rank(ep)
		if c := cmp.Or(cmp.Compare(ei, bi), cmp.Compare(es, bs), strings.Compare(ep.Network, best.Network)); c < 0 {
			best = ep
		}
	}
	return best
}

// startDNS starts the sandbox's embedded DNS server unless it runs. The
// upstreams are the container's own --dns servers, else the daemon's,
// else the host's resolvers (reached from the host's namespace, where
// the server's goroutines run: a loopback resolver works too).
func (s *Service) startDNS(sb *sandbox, containerDNS []string) error {
	sb.dnsMu.Lock()
	defer sb.dnsMu.Unlock()
	if sb.dns != nil {
		return nil
	}
	srv, err := dns.Start(sb.path, dnsView{s: s, id: sb.id}, s.upstreams(containerDNS))
	if err != nil {
		return err
	}
	sb.dns = srv
	return nil
}

func (sb *sandbox) stopDNS() {
	sb.dnsMu.Lock()
	srv := sb.dns
	sb.dns = nil
	sb.dnsMu.Unlock()
	if srv != nil {
		if err := srv.Close(); err != nil {
			slog.Debug("embedded DNS close", "container", shortID(sb.id), "err", err)
		}
	}
}

func (s *Service) upstreams(containerDNS []string) []string {
	if len(containerDNS) > 0 {
		return containerDNS
	}
	if len(s.cfg.DNS) > 0 {
		return s.cfg.DNS
	}
	if ns := nameservers(readHostResolvConf(s.resolvConfPath)); len(ns) > 0 {
		return ns
	}
	return defaultNameservers
}

// dnsView is one container's view of names, for its embedded DNS server:
// the containers on the user-defined networks it is on, and nothing else.
type dnsView struct {
	s  *Service
	id string
}

// LookupIP answers a container name, network alias, short ID or hostname,
// or "<name>.<network>", of an endpoint on one of the container's
// user-defined networks.
func (v dnsView) LookupIP(name string) (v4, v6 []netip.Addr, found bool) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[v.id]
	if sb == nil {
		return nil, nil, false
	}
	add := func(ep *Endpoint) {
		found = true
		if ep.IPAddress.IsValid() && !slices.Contains(v4, ep.IPAddress) {
			v4 = append(v4, ep.IPAddress)
		}
		if ep.IPv6Address.IsValid() && !slices.Contains(v6, ep.IPv6Address) {
			v6 = append(v6, ep.IPv6Address)
		}
	}
	for _, mine := range sb.eps {
		n := s.nets[mine.NetworkID]
		if n == nil || !n.userDefined() {
			continue
		}
		short, qualified := name, false
		if base, ok := strings.CutSuffix(name, "."+strings.ToLower(n.name())); ok {
			short, qualified = base, true
		}
		for _, ep := range n.eps {
			for _, dn := range ep.DNSNames {
				if strings.EqualFold(dn, short) || (!qualified && strings.EqualFold(dn, name)) {
					add(ep)
					break
				}
			}
		}
		// The querying container's links on this network.
		for _, l := range mine.Links {
			target, alias, _ := strings.Cut(l, ":")
			if !strings.EqualFold(alias, short) {
				continue
			}
			for _, ep := range n.eps {
				if ep.Name == target || ep.ContainerID == target {
					add(ep)
				}
			}
		}
	}
	return v4, v6, found
}

// LookupPTR answers reverse lookups of addresses on the container's
// user-defined networks with "<name>.<network>".
func (v dnsView) LookupPTR(ip netip.Addr) (string, bool) {
	s := v.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sb := s.sandboxes[v.id]
	if sb == nil {
		return "", false
	}
	for _, mine := range sb.eps {
		n := s.nets[mine.NetworkID]
		if n == nil || !n.userDefined() {
			continue
		}
		for _, ep := range n.eps {
			if (ep.IPAddress == ip || ep.IPv6Address == ip) && ep.Name != "" {
				return ep.Name + "." + n.name(), true
			}
		}
	}
	return "", false
}
