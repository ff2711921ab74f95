package dns

import (
	"net/netip"

	"github.com/containerd/errdefs"
)

// Records is the querying container's view of names: the containers on
// its own networks only.
type Records interface {
	// LookupIP answers a container name, network alias, short ID or
	// "name.network" (case-insensitive); found is false for names that
	// are not the networks' own (they are forwarded).
	LookupIP(name string) (v4, v6 []netip.Addr, found bool)
	// LookupPTR answers reverse lookups of the networks' addresses.
	LookupPTR(ip netip.Addr) (name string, found bool)
}

// Server is the DNS server of one container network namespace.
type Server struct{}

// Start listens on 127.0.0.11:53 (UDP and TCP) inside the network
// namespace mounted at netnsPath and answers from rec; other names go to
// upstreams ("ip:port"), from the host's namespace.
func Start(netnsPath string, rec Records, upstreams []string) (*Server, error) {
	return nil, errdefs.ErrNotImplemented.WithMessage("embedded DNS is not implemented yet")
}

// Close stops the server and closes its sockets.
func (s *Server) Close() error { return nil }
