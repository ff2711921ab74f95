package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/ipam"
	"github.com/berth-dev/berth/internal/network/nat"
)

// CreateNetwork creates a user-defined network (POST /networks/create):
// a bridge network on its own Linux bridge (br-<12 hex> unless
// com.docker.network.bridge.name is given) with its own nftables table,
// or a macvlan network on a parent interface.
func (s *Service) CreateNetwork(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	fail := func(err error) (network.CreateResponse, error) { return network.CreateResponse{}, err }
	if req.Name == "" {
		return fail(errdefs.ErrInvalidArgument.WithMessage("invalid name: network name cannot be empty"))
	}
	if !validNetworkName(req.Name) {
		return fail(errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"invalid name: %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", req.Name)))
	}
	switch req.Name {
	case network.NetworkBridge, network.NetworkHost, network.NetworkNone, network.NetworkDefault:
		// Docker's check, also of "bridge" under NoBridge.
		return fail(errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("operation is not permitted on predefined %s network ", req.Name)))
	}
	driver := req.Driver
	if driver == "" {
		driver = "bridge"
	}
	switch driver {
	case "bridge", "macvlan":
	case "host", "null":
		return fail(errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("only one instance of %q network is allowed", driver)))
	default:
		return fail(errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", driver)))
	}
	if req.Scope != "" && req.Scope != "local" {
		return fail(errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("scope %q is not supported: berth has local networks only", req.Scope)))
	}
	if req.Ingress || req.ConfigOnly || req.ConfigFrom != nil && req.ConfigFrom.Network != "" {
		return fail(errdefs.ErrNotImplemented.WithMessage("swarm and config-only networks are not supported"))
	}
	if req.EnableIPv4 != nil && !*req.EnableIPv4 {
		return fail(errdefs.ErrNotImplemented.WithMessage("IPv6-only networks are not supported"))
	}
	s.mu.Lock()
	for _, n := range s.nets {
		if n.name() == req.Name {
			s.mu.Unlock()
			return fail(errdefs.ErrConflict.WithMessage("network with name " + req.Name + " already exists"))
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
	r.IPAM = network.IPAM{Driver: "default"}
	var asked []network.IPAMConfig
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return fail(errdefs.ErrNotFound.WithMessage(fmt.Sprintf("plugin %q not found", req.IPAM.Driver)))
		}
		if req.IPAM.Options != nil {
			r.IPAM.Options = maps.Clone(req.IPAM.Options)
		}
		asked = req.IPAM.Config
	}
	if err := validateOptions(r.Options); err != nil {
		return fail(err)
	}
	var err error
	if r.IPAM.Config, r.Requested, err = s.completeIPAM(r, asked); err != nil {
		return fail(err)
	}

	switch driver {
	case "bridge":
		r.Bridge = r.Options[optBridgeName]
		if r.Bridge == "" {
			r.Bridge = "br-" + r.ID[:12]
		}
		if len(r.Bridge) > 15 {
			return fail(errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("bridge name %q is longer than 15 characters", r.Bridge)))
		}
		s.mu.Lock()
		for _, n := range s.nets {
			if n.rec.Bridge == r.Bridge {
				s.mu.Unlock()
				return fail(errdefs.ErrConflict.WithMessage(fmt.Sprintf("bridge name %s is already used by network %s", r.Bridge, n.name())))
			}
		}
		s.mu.Unlock()
		r.CreatedBridge = !s.nl.LinkExists(r.Bridge)
	case "macvlan":
		parent := r.Options[optParent]
		if parent == "" {
			return fail(errdefs.ErrNotImplemented.WithMessage(
				"macvlan without -o parent= is not supported: this kernel has no dummy links to make a parent of"))
		}
		if !s.nl.LinkExists(parent) {
			// Docker takes a missing parent for a VLAN sub-interface
			// (eth0.10) to create; berth does not create them.
			base, vlan, ok := strings.Cut(parent, ".")
			switch {
			case !ok || vlan == "":
				return fail(errdefs.ErrInvalidArgument.WithMessage(
					fmt.Sprintf("invalid subinterface vlan name %s, example formatting is eth0.10", parent)))
			case !s.nl.LinkExists(base):
				return fail(errdefs.ErrInvalidArgument.WithMessage("-o parent interface was not found on the host: " + base))
			default:
				return fail(errdefs.ErrNotImplemented.WithMessage("creating the VLAN sub-interface " + parent + " is not supported: create it first"))
			}
		}
		if m := r.Options[optMacvlanMode]; m != "" && m != "bridge" {
			return fail(errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("macvlan mode %q is not supported, only bridge", m)))
		}
		s.mu.Lock()
		for _, n := range s.nets {
			if n.driver() == "macvlan" && n.rec.Options[optParent] == parent {
				s.mu.Unlock()
				return fail(errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("network %s is already using parent interface %s", n.name(), parent)))
			}
		}
		s.mu.Unlock()
	}

	// Record first: a crash after the kernel work leaves a network a
	// restart brings up and rm removes, never an unknown bridge.
	if err := s.writeNetRecord(r); err != nil {
		return fail(err)
	}
	n, err := s.bringUp(r, true)
	if err != nil {
		_ = os.Remove(s.netRecordPath(r.ID))
		return fail(err)
	}
	s.mu.Lock()
	s.nets[r.ID] = n
	s.mu.Unlock()
	s.publish(events.ActionCreate, n)
	slog.Debug("network created", "name", r.Name, "id", r.ID, "driver", driver, "bridge", r.Bridge)
	return network.CreateResponse{ID: r.ID}, nil
}

// validNetworkName is Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func validNetworkName(name string) bool {
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '_' && c != '.' && c != '-')) {
			return false
		}
	}
	return true
}

func validateOptions(opts map[string]string) error {
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
			if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid host binding address: %q", v))
			}
		}
	}
	return nil
}

// completeIPAM validates the requested subnets and fills in what was not
// given: a free IPv4 subnet from the default pools, gateways. It returns
// the configuration to use and the one inspect shows: the user's own
// entries as given, with the chosen subnet when none was.
func (s *Service) completeIPAM(r *netRecord, asked []network.IPAMConfig) (use, shown []network.IPAMConfig, err error) {
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

	invalid := func(format string, args ...any) error {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
	}
	has4, has6 := false, false
	count4, count6 := 0, 0
	for _, c := range asked {
		if !c.Subnet.IsValid() {
			if c.IPRange.IsValid() || c.Gateway.IsValid() || len(c.AuxAddress) > 0 {
				return nil, nil, invalid("every ip-range or gateway must have a corresponding subnet")
			}
			continue
		}
		shown = append(shown, c)
		c.Subnet = c.Subnet.Masked()
		is4 := c.Subnet.Addr().Is4()
		if is4 {
			has4 = true
			count4++
		} else {
			has6 = true
			count6++
		}
		if c.Subnet.Bits() > c.Subnet.Addr().BitLen()-2 {
			return nil, nil, invalid("subnet %s is too small", c.Subnet)
		}
		if bridge.Overlaps(c.Subnet, taken) {
			return nil, nil, errdefs.ErrPermissionDenied.WithMessage("Pool overlaps with other one on this address space")
		}
		if c.IPRange.IsValid() {
			c.IPRange = c.IPRange.Masked()
			if c.IPRange.Addr().Is4() != is4 || c.IPRange.Bits() < c.Subnet.Bits() || !c.Subnet.Contains(c.IPRange.Addr()) {
				return nil, nil, invalid("no matching subnet for range %s", c.IPRange)
			}
		}
		if c.Gateway.IsValid() {
			if !c.Subnet.Contains(c.Gateway) {
				return nil, nil, invalid("failed to allocate gateway (%s): Requested address is out of range", c.Gateway)
			}
			if c.Gateway == c.Subnet.Addr() || c.Gateway == ipam.Broadcast(c.Subnet) {
				return nil, nil, invalid("failed to allocate gateway (%s): Address already in use", c.Gateway)
			}
		} else {
			c.Gateway = c.Subnet.Addr().Next()
		}
		for name, a := range c.AuxAddress {
			if !c.Subnet.Contains(a) {
				return nil, nil, errdefs.ErrPermissionDenied.WithMessage(
					fmt.Sprintf("auxiliary address: (%s:%s) must belong to the master pool: %s", name, a, c.Subnet))
			}
			if a == c.Gateway {
				return nil, nil, invalid("failed to allocate secondary ip address (%s:%s): Address already in use", name, a)
			}
		}
		taken = append(taken, c.Subnet)
		use = append(use, c)
	}
	if r.Driver == "bridge" && (count4 > 1 || count6 > 1) {
		return nil, nil, errdefs.ErrPermissionDenied.WithMessage("bridge driver doesn't support multiple subnets")
	}
	if r.EnableIPv6 && !has6 {
		return nil, nil, errdefs.ErrInvalidArgument.WithMessage(
			"could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network")
	}
	if !has4 {
		used, err := s.nl.UsedPrefixes()
		if err != nil {
			return nil, nil, err
		}
		sub, ok := bridge.FirstFree(s.candidatePools(), append(taken, used...))
		if !ok {
			return nil, nil, errdefs.ErrResourceExhausted.WithMessage(
				"could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		c := network.IPAMConfig{Subnet: sub, Gateway: sub.Addr().Next()}
		use = append([]network.IPAMConfig{c}, use...)
		shown = append([]network.IPAMConfig{c}, shown...)
	}
	return use, shown, nil
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

func (s *Service) summary(n *netw) network.Summary {
	r := n.rec
	cfg := slices.Clone(r.Requested)
	if len(cfg) == 0 {
		cfg = slices.Clone(r.IPAM.Config)
	}
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
	return network.Summary{Network: network.Network{
		Name:       r.Name,
		ID:         r.ID,
		Created:    r.Created,
		Scope:      "local",
		Driver:     r.Driver,
		EnableIPv4: true,
		EnableIPv6: r.EnableIPv6,
		IPAM:       network.IPAM{Driver: "default", Options: maps.Clone(r.IPAM.Options), Config: cfg},
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

// InspectNetwork is GET /networks/{id}: the network and the endpoints of
// the running containers on it.
func (s *Service) InspectNetwork(ctx context.Context, idOrName string) (network.Inspect, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookupListedLocked(idOrName)
	if err != nil {
		return network.Inspect{}, err
	}
	out := network.Inspect{Network: s.summary(n).Network, Containers: map[string]network.EndpointResource{}}
	for _, ep := range n.eps {
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
	out := []network.Summary{}
	for _, n := range s.nets {
		if n.unlisted {
			continue
		}
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
		// Docker: dangling=true are the custom networks without endpoints.
		if danglingSet && (!n.builtin && len(n.eps) == 0) != dangling {
			continue
		}
		out = append(out, s.summary(n))
	}
	slices.SortFunc(out, func(a, b network.Summary) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveNetwork is DELETE /networks/{id}: a user-defined network without
// endpoints, its bridge (unless berth adopted it) and its nftables table.
func (s *Service) RemoveNetwork(ctx context.Context, idOrName string) error {
	s.netMu.Lock()
	defer s.netMu.Unlock()
	s.mu.Lock()
	n, err := s.lookupListedLocked(idOrName)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	if n.builtin {
		s.mu.Unlock()
		return errdefs.ErrPermissionDenied.WithMessage(n.name() + " is a pre-defined network and cannot be removed")
	}
	if len(n.eps) > 0 {
		s.mu.Unlock()
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf(
			"error while removing network: network %s id %s has active endpoints", n.name(), n.id()))
	}
	// From here on Connect refuses the network.
	n.removed.Store(true)
	s.mu.Unlock()
	return s.removeNetwork(n)
}

// removeNetwork undoes bringUp and removes the record. s.netMu held.
func (s *Service) removeNetwork(n *netw) error {
	var errs []error
	if n.nat != nil {
		s.fwdMu.Lock()
		if err := n.nat.RemoveForwardAccept(); err != nil {
			errs = append(errs, err)
		}
		s.fwdMu.Unlock()
		if err := n.nat.Destroy(); err != nil {
			errs = append(errs, err)
		}
		_ = n.nat.Close()
	} else if n.rec.Driver == "bridge" && n.rec.Bridge != "" && s.iptables() && n.err != nil {
		// Never brought up in this run: its table may still be there.
		if err := nat.DestroyTable(n.rec.Bridge); err != nil {
			errs = append(errs, err)
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
	s.publish(events.ActionDestroy, n)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove network %s: %w", n.name(), err)
	}
	return nil
}

// PruneNetworks removes the user-defined networks without endpoints (POST
// /networks/prune), narrowed by until, label and label!.
func (s *Service) PruneNetworks(ctx context.Context, f filters.Args) (network.PruneReport, error) {
	if err := f.Validate("until", "label", "label!"); err != nil {
		return network.PruneReport{}, err
	}
	var until time.Time
	for v := range f["until"] {
		t, err := filters.ParseTime(v, time.Now())
		if err != nil {
			return network.PruneReport{}, err
		}
		until = t
	}
	s.netMu.Lock()
	defer s.netMu.Unlock()
	s.mu.Lock()
	var victims []*netw
	for _, n := range s.nets {
		if n.builtin || len(n.eps) > 0 {
			continue
		}
		if !until.IsZero() && !n.rec.Created.Before(until) {
			continue
		}
		if !f.MatchLabels("label", n.rec.Labels) || (f.Has("label!") && f.MatchLabels("label!", n.rec.Labels)) {
			continue
		}
		n.removed.Store(true)
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
