package network

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

// portRequest is one binding to make: a container port on a host address,
// on a host port, a range of host ports, or (begin == 0) any ephemeral one.
type portRequest struct {
	port       network.Port
	hostIP     netip.Addr // 0.0.0.0 for every address (:: too on an IPv6 host)
	explicitIP bool       // hostIP was given; else the network's default applies
	begin, end uint16
}

// expandPorts turns the requested bindings (and, with PublishAll, every
// exposed port without one) into a sorted list of requests, so that
// ephemeral ports are handed out in a stable order.
func expandPorts(bindings network.PortMap, exposed network.PortSet, publishAll bool) ([]portRequest, error) {
	var out []portRequest
	for port, list := range bindings {
		if !port.IsValid() {
			return nil, fmt.Errorf("invalid port specification: %q: %w", port.String(), errdefs.ErrInvalidArgument)
		}
		switch port.Proto() {
		case network.TCP, network.UDP:
		default:
			return nil, fmt.Errorf("publishing %s ports is not supported: %w", port.Proto(), errdefs.ErrNotImplemented)
		}
		for _, b := range list {
			r := portRequest{port: port, hostIP: b.HostIP, explicitIP: b.HostIP.IsValid()}
			if !r.hostIP.IsValid() {
				r.hostIP = netip.IPv4Unspecified()
			}
			r.hostIP = r.hostIP.Unmap()
			var err error
			if r.begin, r.end, err = parseHostPort(b.HostPort); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	if publishAll {
		for port := range exposed {
			if _, ok := bindings[port]; ok || !port.IsValid() {
				continue
			}
			if port.Proto() != network.TCP && port.Proto() != network.UDP {
				continue // nothing to publish it with; Docker would need SCTP
			}
			out = append(out, portRequest{port: port, hostIP: netip.IPv4Unspecified()})
		}
	}
	slices.SortFunc(out, func(a, b portRequest) int {
		return cmp.Or(
			cmp.Compare(a.port.Num(), b.port.Num()),
			cmp.Compare(a.port.Proto(), b.port.Proto()),
			a.hostIP.Compare(b.hostIP),
			cmp.Compare(a.begin, b.begin),
		)
	})
	return out, nil
}

// parseHostPort reads a binding's HostPort: "" or "0" for any, "8080", or
// "8000-8010".
func parseHostPort(s string) (begin, end uint16, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, 0, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	b, err1 := strconv.ParseUint(lo, 10, 16)
	e := b
	var err2 error
	if isRange {
		e, err2 = strconv.ParseUint(hi, 10, 16)
	}
	if err1 != nil || err2 != nil || e < b || (isRange && b == 0) {
		return 0, 0, fmt.Errorf("invalid port specification: %q: %w", s, errdefs.ErrInvalidArgument)
	}
	return uint16(b), uint16(e), nil
}
