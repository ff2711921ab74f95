package container

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
)

// attachment is one network a container is attached to, with what the
// user asked of it (run --network/--network-alias/--ip/--mac-address,
// network connect). It outlives the runs: every start connects it again.
type attachment struct {
	NetworkID   string
	Driver      string     `json:",omitempty"`
	Primary     bool       `json:",omitempty"` // the network mode's: default route, published ports
	Aliases     []string   `json:",omitempty"`
	IPv4Address netip.Addr `json:",omitzero"`
	IPv6Address netip.Addr `json:",omitzero"`
	MacAddress  string     `json:",omitempty"`
	DriverOpts  map[string]string
}

// Docker's texts for network settings that do not go together.
var (
	errUnsupportedNetworkAndIP    = errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported on user defined networks only")
	errUnsupportedNetworkAndAlias = errdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
	errConflictSharedNetwork      = errdefs.ErrInvalidArgument.WithMessage("container sharing network namespace with another container or host cannot be connected to any other network")
	errConflictHostNetwork        = errdefs.ErrInvalidArgument.WithMessage("container cannot be disconnected from host network or connected to host network")
	errConflictNoNetwork          = errdefs.ErrInvalidArgument.WithMessage("container cannot be connected to multiple networks with one of the networks in private (none) mode")
)

// userDefined reports whether a network (by its name) is one the user
// created: only those have aliases, static addresses and the embedded DNS.
func userDefined(name string) bool {
	switch name {
	case "", network.NetworkDefault, network.NetworkBridge, network.NetworkHost, network.NetworkNone:
		return false
	}
	return !strings.HasPrefix(name, "container:")
}

func cloneAttachments(m map[string]*attachment) map[string]*attachment {
	if m == nil {
		return nil
	}
	out := make(map[string]*attachment, len(m))
	for k, a := range m {
		c := *a
		c.Aliases = slices.Clone(a.Aliases)
		c.DriverOpts = maps.Clone(a.DriverOpts)
		out[k] = &c
	}
	return out
}

func cloneEndpoints(eps []*Endpoint) []*Endpoint {
	if eps == nil {
		return nil
	}
	out := make([]*Endpoint, len(eps))
	for i, ep := range eps {
		c := *ep
		out[i] = &c
	}
	return out
}

// upgradeRecord moves the single endpoint of records written before
// several networks into Endpoints and Networks.
func upgradeRecord(r *record) {
	ep := r.Endpoint
	r.Endpoint = nil
	mode := r.HostConfig.NetworkMode
	if r.Networks == nil && !mode.IsContainer() {
		a := &attachment{Primary: true}
		if ep != nil {
			a.NetworkID = ep.NetworkID
		}
		r.Networks = map[string]*attachment{networkName(mode): a}
	}
	if ep != nil && r.State.Running && r.Endpoints == nil {
		ep.Network = networkName(mode)
		r.Endpoints = []*Endpoint{ep}
	}
}

// validateNetworkConfig makes Docker's checks of a create request's
// network settings that need nothing but the request (runconfig's
// validateNetMode): before the image config is merged in.
func validateNetworkConfig(cfg *containertypes.Config, hc *containertypes.HostConfig) error {
	mode := hc.NetworkMode
	invalid := func(msg string) error { return errdefs.ErrInvalidArgument.WithMessage(msg) }
	if ref, ok := strings.CutPrefix(string(mode), "container:"); ok || mode == "container" {
		if ref == "" {
			return invalid("Invalid network mode: invalid container format container:<name|id>")
		}
		switch {
		case cfg.Hostname != "":
			return invalid("conflicting options: hostname and the network mode")
		case len(hc.Links) > 0:
			return invalid("conflicting options: container type network can't be used with links. This would result in undefined behavior")
		case len(hc.DNS) > 0:
			return invalid("conflicting options: dns and the network mode")
		case len(hc.ExtraHosts) > 0:
			return invalid("conflicting options: custom host-to-IP mapping and the network mode")
		case len(hc.PortBindings) > 0 || hc.PublishAllPorts:
			return invalid("conflicting options: port publishing and the container type network mode")
		case len(cfg.ExposedPorts) > 0:
			return invalid("conflicting options: port exposing and the container type network mode")
		}
	}
	if hc.UTSMode.IsHost() && cfg.Hostname != "" {
		return invalid("conflicting options: hostname and the UTS mode")
	}
	if mode.IsHost() && len(hc.Links) > 0 {
		return invalid("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	}
	return nil
}

// networkAttachments resolves the networks of a create request: the
// network mode (primary) and the other EndpointsConfig entries, each
// checked as Docker checks them.
func (s *Service) networkAttachments(hc *containertypes.HostConfig, nc *network.NetworkingConfig) (map[string]*attachment, error) {
	mode := hc.NetworkMode
	var eps map[string]*network.EndpointSettings
	if nc != nil {
		eps = nc.EndpointsConfig
	}
	if mode.IsContainer() {
		return nil, nil
	}
	ref := string(mode)
	if ref == "" || ref == network.NetworkDefault {
		ref = network.NetworkBridge
	}
	id, name, driver, err := s.deps.Network.LookupNetwork(ref)
	if err != nil {
		return nil, err
	}
	out := map[string]*attachment{}
	add := func(id, name, driver string, es *network.EndpointSettings, primary bool) error {
		a := newAttachment(id, driver, es)
		a.Primary = primary
		if err := checkAttachment(name, a); err != nil {
			return err
		}
		out[name] = a
		return nil
	}
	// The CLI keys the network mode's settings by the name the user gave.
	var primaryES *network.EndpointSettings
	for _, k := range []string{string(mode), name, id, network.NetworkDefault} {
		if es, ok := eps[k]; ok && k != "" {
			primaryES = es
			break
		}
	}
	if err := add(id, name, driver, primaryES, true); err != nil {
		return nil, err
	}
	keys := slices.Sorted(maps.Keys(eps))
	for _, k := range keys {
		if k == string(mode) || k == name || k == id || (k == network.NetworkDefault && name == network.NetworkBridge) {
			continue
		}
		oid, oname, odriver, err := s.deps.Network.LookupNetwork(k)
		if err != nil {
			return nil, err
		}
		if _, dup := out[oname]; dup {
			continue
		}
		if err := sharesNetwork(mode, driver, name, odriver, oname); err != nil {
			return nil, err
		}
		if err := add(oid, oname, odriver, eps[k], false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newAttachment is an attachment to a network with the settings a create
// or connect request gives for it (es may be nil).
func newAttachment(netID, driver string, es *network.EndpointSettings) *attachment {
	a := &attachment{NetworkID: netID, Driver: driver}
	if es == nil {
		return a
	}
	a.Aliases = slices.Clone(es.Aliases)
	if es.IPAMConfig != nil {
		a.IPv4Address, a.IPv6Address = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
	}
	if len(es.MacAddress) > 0 {
		a.MacAddress = es.MacAddress.String()
	}
	a.DriverOpts = maps.Clone(es.DriverOpts)
	return a
}

// checkAttachment refuses what only user-defined networks have.
func checkAttachment(name string, a *attachment) error {
	if userDefined(name) {
		return nil
	}
	if a.IPv4Address.IsValid() || a.IPv6Address.IsValid() {
		return errUnsupportedNetworkAndIP
	}
	if len(a.Aliases) > 0 {
		return errUnsupportedNetworkAndAlias
	}
	return nil
}

// sharesNetwork is Docker's check that a container on network cur may
// also join network next: host and container namespaces are shared and
// take no second network, none takes none.
func sharesNetwork(mode containertypes.NetworkMode, curDriver, cur, nextDriver, next string) error {
	if !mode.IsHost() && nextDriver == network.NetworkHost {
		return errConflictHostNetwork
	}
	if curDriver == network.NetworkHost || nextDriver == network.NetworkHost || mode.IsContainer() {
		return errConflictSharedNetwork
	}
	if cur == network.NetworkNone || next == network.NetworkNone {
		return errConflictNoNetwork
	}
	return nil
}

// orderedAttachments lists a container's networks in connect order: the
// primary first, then by name.
func orderedAttachments(m map[string]*attachment) []string {
	names := slices.Sorted(maps.Keys(m))
	sort.SliceStable(names, func(i, j int) bool { return m[names[i]].Primary && !m[names[j]].Primary })
	return names
}

// endpointRequest is the request that connects one attachment.
func endpointRequest(r *record, name string, a *attachment, primary bool, hostname string) EndpointRequest {
	req := EndpointRequest{
		ContainerID: r.ID,
		Name:        strings.TrimPrefix(r.Name, "/"),
		Network:     name,
		Aliases:     slices.Clone(a.Aliases),
		IPv4Address: a.IPv4Address,
		IPv6Address: a.IPv6Address,
		MacAddress:  a.MacAddress,
		Hostname:    hostname,
		Primary:     primary,
	}
	for _, d := range r.HostConfig.DNS {
		req.DNS = append(req.DNS, d.String())
	}
	if userDefined(name) {
		req.Links = linkAliases(r)
	}
	if a.NetworkID != "" {
		req.Network = a.NetworkID
	}
	if primary {
		req.Ports = r.HostConfig.PortBindings
		req.Exposed = r.Config.ExposedPorts
		req.PublishAll = r.HostConfig.PublishAllPorts
	}
	return req
}

// connect connects one attachment; the endpoint is named by the
// network's name, which the container's records key it by.
func (s *Service) connect(ctx context.Context, r *record, name string, a *attachment, primary bool, hostname string) (*Endpoint, error) {
	ep, err := s.deps.Network.Connect(ctx, endpointRequest(r, name, a, primary, hostname))
	if err != nil {
		return nil, err
	}
	if ep.Network == "" {
		ep.Network = name
	}
	return ep, nil
}

// connectRest connects the networks after the primary one (already in
// eps); on failure it disconnects what it connected.
func (s *Service) connectRest(ctx context.Context, r *record, names []string, hostname string) ([]*Endpoint, error) {
	var eps []*Endpoint
	for _, name := range names[1:] {
		ep, err := s.connect(ctx, r, name, r.Networks[name], false, hostname)
		if err != nil {
			s.disconnectAll(ctx, r.ID, eps)
			return nil, err
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// disconnectAll releases endpoints, the first (primary) last: its
// namespace goes with the container's last endpoint.
func (s *Service) disconnectAll(ctx context.Context, id string, eps []*Endpoint) {
	disconnectEndpoints(ctx, s.deps.Network, id, eps)
}

func disconnectEndpoints(ctx context.Context, na NetworkAttacher, id string, eps []*Endpoint) {
	for i := len(eps) - 1; i >= 0; i-- {
		if err := na.Disconnect(ctx, eps[i]); err != nil {
			slog.Warn("disconnecting network", "container", id, "network", eps[i].Network, "err", err)
		}
	}
}

// publishNetworkEvent sends Docker's network event for a container
// joining or leaving a network.
func publishNetworkEvent(ev EventPublisher, action events.Action, containerID string, ep *Endpoint) {
	if ep == nil || ep.NetworkID == "" {
		return
	}
	name := ep.Network
	if name == "" {
		name = networkName(containertypes.NetworkMode(ep.Mode))
	}
	typ := ep.Driver
	if typ == "" {
		typ = ep.Mode
		if typ == network.NetworkNone {
			typ = "null"
		}
	}
	ev.Publish(events.NetworkEventType, action, ep.NetworkID, map[string]string{
		"container": containerID, "name": name, "type": typ,
	})
}

// embeddedDNS reports whether the container's resolv.conf points at the
// embedded DNS server: it is on a user-defined network.
func embeddedDNS(m map[string]*attachment) bool {
	for name := range m {
		if userDefined(name) {
			return true
		}
	}
	return false
}

// ConnectNetwork attaches a container to a network (POST
// /networks/{id}/connect): live when it runs, recorded for its next start
// otherwise.
func (s *Service) ConnectNetwork(ctx context.Context, containerRef, networkRef string, cfg *network.EndpointSettings) error {
	c, err := s.idx.get(containerRef)
	if err != nil {
		return err
	}
	netID, name, driver, err := s.deps.Network.LookupNetwork(networkRef)
	if err != nil {
		return err
	}
	c.op.Lock()
	defer c.op.Unlock()
	r := c.snapshot()
	if r.State.RemovalInProgress || r.State.Dead {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is marked for removal and cannot be connected or disconnected to the network", r.ID))
	}
	mode := r.HostConfig.NetworkMode
	if mode.IsContainer() {
		return errConflictSharedNetwork
	}
	a := newAttachment(netID, driver, cfg)
	if err := checkAttachment(name, a); err != nil {
		return err
	}
	if !mode.IsHost() && driver == network.NetworkHost {
		return errConflictHostNetwork
	}
	for other, oa := range r.Networks {
		if other == name {
			if !r.State.Running {
				return nil // Docker keeps the first config
			}
			return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", strings.TrimPrefix(r.Name, "/"), name))
		}
		if err := sharesNetwork(mode, oa.Driver, other, driver, name); err != nil {
			return err
		}
	}
	if len(r.Networks) == 0 {
		a.Primary = true
	}
	if r.State.Running {
		ep, err := s.connect(ctx, &r, name, a, a.Primary, r.Config.Hostname)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.Networks == nil {
			c.Networks = map[string]*attachment{}
		}
		c.Networks[name] = a
		eps := append(slices.Clone(c.Endpoints), ep)
		// The namespace no longer needs the placeholder that kept it
		// while the container had no network.
		var placeholder *Endpoint
		for i, e := range eps {
			if _, attached := c.Networks[e.Network]; !attached && e.Mode == network.NetworkNone {
				placeholder = e
				eps = slices.Delete(eps, i, i+1)
				break
			}
		}
		c.Endpoints = eps
		c.mu.Unlock()
		if placeholder != nil {
			if err := s.deps.Network.Disconnect(ctx, placeholder); err != nil {
				slog.Warn("releasing the namespace placeholder", "container", r.ID, "err", err)
			}
		}
		s.rewriteNetworkFiles(c)
		publishNetworkEvent(s.deps.Events, events.ActionConnect, r.ID, ep)
	} else {
		c.mu.Lock()
		if c.Networks == nil {
			c.Networks = map[string]*attachment{}
		}
		c.Networks[name] = a
		c.mu.Unlock()
	}
	return c.save(false)
}

// DisconnectNetwork detaches a container from a network (POST
// /networks/{id}/disconnect).
func (s *Service) DisconnectNetwork(ctx context.Context, containerRef, networkRef string, force bool) error {
	c, err := s.idx.get(containerRef)
	if err != nil {
		return err
	}
	netID, name, driver, lerr := s.deps.Network.LookupNetwork(networkRef)
	if lerr != nil && !(force && errdefs.IsNotFound(lerr)) {
		return lerr
	}
	if lerr != nil {
		name = networkRef
	}
	c.op.Lock()
	defer c.op.Unlock()
	r := c.snapshot()
	if r.State.RemovalInProgress || r.State.Dead {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is marked for removal and cannot be connected or disconnected to the network", r.ID))
	}
	if r.HostConfig.NetworkMode.IsHost() && driver == network.NetworkHost {
		return errConflictHostNetwork
	}
	if _, ok := r.Networks[name]; !ok {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container %s is not connected to network %s", r.ID, name))
	}
	var ep *Endpoint
	c.mu.Lock()
	delete(c.Networks, name)
	for _, e := range c.Endpoints {
		if e.Network == name || (netID != "" && e.NetworkID == netID) {
			ep = e
			break
		}
	}
	c.mu.Unlock()
	if ep != nil {
		// A failure leaves the container on the network, as it was.
		failed := func(err error) error {
			c.mu.Lock()
			c.Networks[name] = r.Networks[name]
			c.mu.Unlock()
			return fmt.Errorf("container %s failed to leave network %s: %w", r.ID, name, err)
		}
		// The container's last network: a placeholder keeps its namespace
		// (with lo only) while it runs, as Docker's sandbox does.
		var placeholder *Endpoint
		if len(r.Endpoints) == 1 {
			p, err := s.deps.Network.Connect(ctx, EndpointRequest{ContainerID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), Network: network.NetworkNone})
			if err != nil {
				return failed(err)
			}
			placeholder = p
		}
		if err := s.deps.Network.Disconnect(ctx, ep); err != nil {
			if placeholder != nil {
				_ = s.deps.Network.Disconnect(context.WithoutCancel(ctx), placeholder)
			}
			return failed(err)
		}
		c.mu.Lock()
		c.Endpoints = slices.DeleteFunc(slices.Clone(c.Endpoints), func(e *Endpoint) bool { return e == ep })
		if placeholder != nil {
			c.Endpoints = append(c.Endpoints, placeholder)
		}
		c.mu.Unlock()
		s.rewriteNetworkFiles(c)
		publishNetworkEvent(s.deps.Events, events.ActionDisconnect, r.ID, ep)
	}
	return c.save(false)
}

// rewriteNetworkFiles writes /etc/hosts and /etc/resolv.conf of a
// running container again after a live connect or disconnect. The files
// are written in place: the container sees them through bind mounts.
func (s *Service) rewriteNetworkFiles(c *Container) {
	r := c.snapshot()
	if r.HostConfig.NetworkMode.IsContainer() || r.HostConfig.NetworkMode.IsHost() {
		return
	}
	links, _ := s.links(&r) // a linked container that stopped loses its entry
	if err := os.WriteFile(r.HostsPath, s.hostsFile(&r, r.Config.Hostname, links), 0o644); err != nil {
		slog.Warn("rewriting hosts file", "container", r.ID, "err", err)
	}
	if err := os.WriteFile(r.ResolvConfPath, s.resolvConf(r.HostConfig, false, embeddedDNS(r.Networks)), 0o644); err != nil {
		slog.Warn("rewriting resolv.conf", "container", r.ID, "err", err)
	}
}

// endpointSettings is NetworkSettings.Networks: every attached network
// with what the user asked; addresses while the container runs.
func endpointSettings(r record) map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	live := map[string]*Endpoint{}
	for _, ep := range r.Endpoints {
		live[ep.Network] = ep
	}
	for name, a := range r.Networks {
		es := &network.EndpointSettings{NetworkID: a.NetworkID, Aliases: slices.Clone(a.Aliases), DriverOpts: maps.Clone(a.DriverOpts)}
		if a.IPv4Address.IsValid() || a.IPv6Address.IsValid() {
			es.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: a.IPv4Address, IPv6Address: a.IPv6Address}
		}
		if a.MacAddress != "" {
			es.MacAddress, _ = parseMAC(a.MacAddress)
		}
		if userDefined(name) {
			es.DNSNames = dnsNames(r, a.Aliases)
		}
		if ep := live[name]; ep != nil && r.State.Running {
			if ep.NetworkID != "" {
				es.NetworkID = ep.NetworkID
			}
			es.EndpointID = ep.EndpointID
			es.Gateway = ep.Gateway
			es.IPAddress = ep.IPAddress
			es.IPPrefixLen = ep.PrefixLen
			es.IPv6Gateway = ep.IPv6Gateway
			es.GlobalIPv6Address = ep.IPv6Address
			es.GlobalIPv6PrefixLen = ep.IPv6PrefixLen
			if ep.MacAddress != "" {
				if hw, err := parseMAC(ep.MacAddress); err == nil {
					es.MacAddress = hw
				}
			}
			if len(ep.DNSNames) > 0 {
				es.DNSNames = slices.Clone(ep.DNSNames)
			}
		}
		out[name] = es
	}
	return out
}

// dnsNames are the names a container answers to on a user-defined
// network, as Docker lists them: name, aliases, short ID, hostname.
func dnsNames(r record, aliases []string) []string {
	names := []string{strings.TrimPrefix(r.Name, "/")}
	names = append(names, aliases...)
	names = append(names, shortID(r.ID))
	if r.Config != nil && r.Config.Hostname != "" {
		names = append(names, r.Config.Hostname)
	}
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// primaryEndpoint is the endpoint that carries the ports.
func primaryEndpoint(r record) *Endpoint {
	if len(r.Endpoints) == 0 {
		return nil
	}
	return r.Endpoints[0]
}

// bridgeAddress is a container's address on the default bridge (links).
func bridgeAddress(r record) netip.Addr {
	for _, ep := range r.Endpoints {
		if ep.Network == network.NetworkBridge {
			return ep.IPAddress
		}
	}
	return netip.Addr{}
}

// link is one legacy link: the linked container and its alias.
type link struct {
	child *Container
	alias string
}

// resolveLinks checks HostConfig.Links at create and writes them as
// Docker records them: "/child:/parent/alias".
func (s *Service) resolveLinks(hc *containertypes.HostConfig, parent string) error {
	if len(hc.Links) == 0 {
		return nil
	}
	out := make([]string, 0, len(hc.Links))
	for _, l := range hc.Links {
		name, alias, err := parseLink(l)
		if err != nil {
			return err
		}
		child, err := s.idx.get(name)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("could not get container for %s: %s", name, err.Error()))
			}
			return err
		}
		cr := child.snapshot()
		if cr.HostConfig.NetworkMode.IsHost() {
			return errdefs.ErrInvalidArgument.WithMessage("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
		}
		out = append(out, cr.Name+":"+parent+"/"+alias)
	}
	hc.Links = out
	return nil
}

// parseLink splits "name[:alias]" (also Docker's recorded
// "/name:/parent/alias"); the alias defaults to the name.
func parseLink(l string) (name, alias string, err error) {
	name, alias, ok := strings.Cut(l, ":")
	name = strings.TrimPrefix(name, "/")
	if !ok {
		alias = name
	}
	if i := strings.LastIndexByte(alias, '/'); i >= 0 {
		alias = alias[i+1:]
	}
	if name == "" || alias == "" {
		return "", "", errdefs.ErrInvalidArgument.WithMessage("invalid link: " + l)
	}
	return name, alias, nil
}

// links resolves a container's legacy links at start: on the default
// bridge, each linked container must be running and on the default
// bridge too. On user-defined networks links are DNS aliases instead
// (linkAliases), and give no environment or hosts entries.
func (s *Service) links(r *record) ([]link, error) {
	if _, legacy := r.Networks[network.NetworkBridge]; !legacy {
		return nil, nil
	}
	var out []link
	for _, l := range r.HostConfig.Links {
		name, alias, err := parseLink(l)
		if err != nil {
			return nil, err
		}
		child, err := s.idx.get(name)
		if err != nil {
			return nil, fmt.Errorf("could not get container for %s: %w", name, err)
		}
		cr := child.snapshot()
		if !cr.State.Running {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot link to a non running container: %s AS %s%s", cr.Name, r.Name, "/"+alias))
		}
		// Membership, not an address: with no default bridge (dockerd
		// --bridge none) containers are on "bridge" without one.
		if _, ok := cr.Networks[network.NetworkBridge]; !ok {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Cannot link to %s, as it does not belong to the default network", cr.Name))
		}
		out = append(out, link{child: child, alias: alias})
	}
	return out, nil
}

// linkAliases are a container's links as the embedded DNS server of a
// user-defined network serves them to it: "name:alias".
func linkAliases(r *record) []string {
	var out []string
	for _, l := range r.HostConfig.Links {
		if name, alias, err := parseLink(l); err == nil {
			out = append(out, name+":"+alias)
		}
	}
	return out
}

// linkEnv is the environment a legacy link gives (moby's links.ToEnv):
// ALIAS_PORT, ALIAS_PORT_<port>_<PROTO>{,_ADDR,_PORT,_PROTO}, ranges of
// contiguous ports as _START/_END, ALIAS_NAME, ALIAS_ENV_<var>.
func linkEnv(parentName string, l link) []string {
	cr := l.child.snapshot()
	ip := ""
	if a := bridgeAddress(cr); a.IsValid() {
		ip = a.String()
	}
	alias := strings.ReplaceAll(strings.ToUpper(l.alias), "-", "_")
	var ports []network.Port
	for p := range cr.Config.ExposedPorts {
		ports = append(ports, p)
	}
	// By number, tcp before other protocols (nat.Sort withTCPPriority).
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Num() != ports[j].Num() {
			return ports[i].Num() < ports[j].Num()
		}
		return ports[i].Proto() == "tcp" && ports[j].Proto() != "tcp"
	})
	var env []string
	if len(ports) > 0 {
		p := ports[0]
		env = append(env, fmt.Sprintf("%s_PORT=%s://%s:%d", alias, p.Proto(), ip, p.Num()))
	}
	for i := 0; i < len(ports); {
		p := ports[i]
		j := i
		for j+1 < len(ports) && ports[j+1].Num() == ports[j].Num()+1 && ports[j+1].Proto() == p.Proto() {
			j++
		}
		if j > i {
			q := ports[j]
			pre := fmt.Sprintf("%s_PORT_%d_%s", alias, p.Num(), strings.ToUpper(string(p.Proto())))
			env = append(env,
				fmt.Sprintf("%s_START=%s://%s:%d", pre, p.Proto(), ip, p.Num()),
				fmt.Sprintf("%s_ADDR=%s", pre, ip),
				fmt.Sprintf("%s_PROTO=%s", pre, p.Proto()),
				fmt.Sprintf("%s_PORT_START=%d", pre, p.Num()),
				fmt.Sprintf("%s_END=%s://%s:%d", pre, q.Proto(), ip, q.Num()),
				fmt.Sprintf("%s_PORT_END=%d", pre, q.Num()))
			i = j + 1
			continue
		}
		i++
	}
	for _, p := range ports {
		pre := fmt.Sprintf("%s_PORT_%d_%s", alias, p.Num(), strings.ToUpper(string(p.Proto())))
		env = append(env,
			fmt.Sprintf("%s=%s://%s:%d", pre, p.Proto(), ip, p.Num()),
			fmt.Sprintf("%s_ADDR=%s", pre, ip),
			fmt.Sprintf("%s_PORT=%d", pre, p.Num()),
			fmt.Sprintf("%s_PROTO=%s", pre, p.Proto()))
	}
	env = append(env, fmt.Sprintf("%s_NAME=%s/%s", alias, parentName, l.alias))
	for _, v := range cr.Config.Env {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, fmt.Sprintf("%s_ENV_%s=%s", alias, k, val))
	}
	return env
}

// linkHosts are the /etc/hosts lines of legacy links: "ip alias
// hostname name", as Docker writes them.
func linkHosts(links []link) []string {
	var out []string
	for _, l := range links {
		cr := l.child.snapshot()
		ip := bridgeAddress(cr)
		if !ip.IsValid() {
			continue
		}
		names := l.alias + " " + cr.Config.Hostname
		if n := strings.TrimPrefix(cr.Name, "/"); n != l.alias {
			names += " " + n
		}
		out = append(out, ip.String()+"\t"+names)
	}
	return out
}
