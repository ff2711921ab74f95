package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"

	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/ipam"
	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/portmap"
)

// DefaultBridge is the bridge's name when Config.BridgeName is empty.
const DefaultBridge = "berth0"

// NoBridge as Config.BridgeName means no default bridge, as dockerd's
// --bridge none: no "bridge" network to list, inspect or connect to, and
// containers whose network mode is the default (or "bridge") get a
// namespace with lo only and publish no ports. User-defined networks work
// as ever.
const NoBridge = "none"

// Config configures the network service.
type Config struct {
	// Root is the service's state directory (for example
	// /var/lib/berth/network).
	Root string
	// NetNSDir is where container network namespaces are mounted; it
	// belongs on the exec root (a tmpfs, like Docker's /run/docker/netns)
	// so that the data root never keeps a mount. Default: Root/netns.
	NetNSDir string
	// BridgeName is the default bridge, created if missing (berth0), or
	// NoBridge for none.
	BridgeName string
	// BridgeCIDR is the bridge's address and prefix (dockerd's --bip),
	// for example 172.18.0.1/16. Empty: keep the bridge's current address,
	// else 172.17.0.1/16 if free, else the first free subnet of the
	// default address pools.
	BridgeCIDR string
	// FixedCIDR limits the default bridge's addresses to a part of its
	// subnet (dockerd's --fixed-cidr).
	FixedCIDR string
	// DNS, DNSSearch and DNSOptions override the host's resolv.conf for
	// containers (daemon.json dns, dns-search, dns-opts).
	DNS, DNSSearch, DNSOptions []string
	// IPForward, when set to false, leaves net.ipv4.ip_forward alone
	// (dockerd's --ip-forward=false); nil or true turns it on.
	IPForward *bool
	// ICC, when false, drops traffic between containers of the default
	// bridge (dockerd's --icc=false).
	ICC *bool
	// IPTables, when false, programs no nftables rules at all (dockerd's
	// --iptables=false): published ports only through the userland
	// proxy, no masquerade, no isolation.
	IPTables *bool
	// IPMasq, when false, leaves the default bridge's outbound traffic
	// with its container sources (dockerd's --ip-masq=false).
	IPMasq *bool
	// DefaultAddressPools are where new networks without a --subnet get
	// theirs (dockerd's default-address-pools); empty: Docker's defaults.
	DefaultAddressPools []AddressPool
	// Events receives the networks' create and destroy events; optional.
	Events EventPublisher
}

// EventPublisher is the daemon's event bus.
type EventPublisher interface {
	Publish(typ events.Type, action events.Action, id string, attrs map[string]string)
}

// publish sends a network event, as Docker's: the network's ID, its name
// and driver ("type").
func (s *Service) publish(action events.Action, n *netw) {
	if s.cfg.Events != nil {
		s.cfg.Events.Publish(events.NetworkEventType, action, n.id(), map[string]string{"name": n.name(), "type": n.driver()})
	}
}

// AddressPool is one entry of dockerd's default-address-pools: subnets of
// Size bits carved out of Base.
type AddressPool struct {
	Base netip.Prefix
	Size int
}

// Service manages networks (the three default ones and those users
// create) and container endpoints on them. It is safe for concurrent use;
// calls for one container must not overlap.
//
// A container's endpoints share one network namespace, its sandbox: the
// first Connect creates it, later ones add interfaces (eth1, eth2...), the
// last Disconnect removes it.
type Service struct {
	cfg            Config
	owner          nat.Owner       // the mark on the tables this service programs
	startTables    []nat.TableInfo // the tables found while New brings bridges up
	nl             *bridge.Conn
	ports          *portmap.Allocator
	hostIPv6       bool // default bindings take their port on :: too
	created        time.Time
	resolvConfPath string
	def            *netw // the default bridge network; nil with NoBridge

	netMu     sync.Mutex // serialises creating and removing networks
	mu        sync.Mutex
	nets      map[string]*netw       // by network ID
	sandboxes map[string]*sandbox    // by container ID
	portOwner map[portmap.Key]string // reserved host port → container ID

	fwdMu    sync.Mutex  // serialises syncForward
	watching atomic.Bool // watchFirewall is subscribed to changes
	kick     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup // watchFirewall, forwardSyncer
	bg       sync.WaitGroup // background halves of Disconnect
}

// state is Root/network.json: the default bridge.
type state struct {
	Bridge  string       `json:"bridge"`
	Address netip.Prefix `json:"address"`
	Created time.Time    `json:"created"`
	IPAM    *ipam.Pool   `json:"ipam"`
}

// New brings the default bridge up (creating or adopting it), chooses its
// subnet, enables IPv4 forwarding, programs the bridges' nftables tables,
// brings the user-defined networks back, and reloads the endpoints a
// previous run left. It is idempotent across restarts; running containers
// keep their addresses and published ports.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("network: no state directory: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = DefaultBridge
	}
	if len(cfg.BridgeName) > 15 {
		return nil, fmt.Errorf("bridge name %q is longer than 15 characters: %w", cfg.BridgeName, errdefs.ErrInvalidArgument)
	}
	noBridge := cfg.BridgeName == NoBridge
	if noBridge && cfg.BridgeCIDR != "" {
		return nil, fmt.Errorf("bridge address %q given with no default bridge (bridge %q): %w", cfg.BridgeCIDR, NoBridge, errdefs.ErrInvalidArgument)
	}
	var want netip.Prefix
	if cfg.BridgeCIDR != "" {
		p, err := netip.ParsePrefix(cfg.BridgeCIDR)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 || p.Addr() == p.Masked().Addr() {
			return nil, fmt.Errorf("invalid bridge address %q: want an IPv4 host address and prefix such as 172.18.0.1/16: %w",
				cfg.BridgeCIDR, errdefs.ErrInvalidArgument)
		}
		want = p
	}
	var fixed netip.Prefix
	if cfg.FixedCIDR != "" && !noBridge { // dockerd ignores it with --bridge none
		p, err := netip.ParsePrefix(cfg.FixedCIDR)
		if err != nil || !p.Addr().Is4() {
			return nil, fmt.Errorf("invalid fixed-cidr %q: want an IPv4 subnet: %w", cfg.FixedCIDR, errdefs.ErrInvalidArgument)
		}
		fixed = p.Masked()
	}
	for _, p := range cfg.DefaultAddressPools {
		if !p.Base.IsValid() || !p.Base.Addr().Is4() || p.Size < p.Base.Bits() || p.Size > 30 {
			return nil, fmt.Errorf("invalid default address pool base %s size %d: %w", p.Base, p.Size, errdefs.ErrInvalidArgument)
		}
	}
	for _, d := range []string{cfg.Root, filepath.Join(cfg.Root, "endpoints")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
	}
	if cfg.NetNSDir == "" {
		cfg.NetNSDir = filepath.Join(cfg.Root, "netns")
	}
	if err := netns.PrepareDir(cfg.NetNSDir); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}

	s := &Service{
		cfg:            cfg,
		owner:          nat.Self(cfg.Root),
		resolvConfPath: hostResolvConf,
		nets:           map[string]*netw{},
		sandboxes:      map[string]*sandbox{},
		portOwner:      map[portmap.Key]string{},
		kick:           make(chan struct{}, 1),
		stop:           make(chan struct{}),
	}
	st, err := s.loadState()
	if err != nil {
		return nil, err
	}
	if s.nl, err = bridge.Open(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.closeHandles()
			s.releaseNetNSDir()
		}
	}()
	if cfg.IPForward == nil || *cfg.IPForward {
		if err := bridge.EnableIPForward(); err != nil {
			return nil, err
		}
	}
	first, last := portmap.EphemeralRange()
	s.ports = portmap.New(first, last)
	s.hostIPv6 = portmap.IPv6Listenable()
	s.created = st.Created
	if s.created.IsZero() || st.Bridge != cfg.BridgeName {
		s.created = time.Now().UTC()
	}
	if s.iptables() {
		// Listed once for the checks of every bridge brought up here.
		if s.startTables, err = nat.Tables(); err != nil {
			return nil, err
		}
	}
	if noBridge {
		s.noDefaultBridge()
	} else if err := s.defaultBridge(st, want, fixed); err != nil {
		return nil, err
	}
	if err := s.loadNetworks(); err != nil {
		return nil, err
	}
	s.startTables = nil
	if err := s.loadEndpoints(); err != nil {
		return nil, err
	}
	if err := s.saveState(); err != nil {
		return nil, err
	}
	ok = true

	s.removeStaleTables()
	if s.iptables() {
		if b, err := os.ReadFile("/proc/net/ip_tables_names"); err == nil && strings.Contains(string(b), "filter") {
			slog.Warn("a legacy iptables filter table is loaded; berth programs nftables only and cannot add its accept rules there: "+
				"if its FORWARD policy is DROP, allow the bridges by hand (iptables -I FORWARD -i BRIDGE -j ACCEPT; iptables -I FORWARD -o BRIDGE -j ACCEPT)",
				"bridge", cfg.BridgeName)
		}
		s.wg.Add(2)
		go s.watchFirewall()
		go s.forwardSyncer()
		s.syncForward()
	}
	slog.Debug("network ready", "bridge", cfg.BridgeName, "networks", len(s.nets))
	return s, nil
}

// defaultBridge brings the default bridge up (creating or adopting it),
// choosing its subnet, and makes the three default networks around it.
func (s *Service) defaultBridge(st state, want, fixed netip.Prefix) error {
	cfg := s.cfg
	prefer := netip.MustParsePrefix("172.17.0.1/16")
	if len(cfg.DefaultAddressPools) > 0 {
		if sub := s.candidatePools(); len(sub) > 0 {
			prefer = netip.PrefixFrom(sub[0].Addr().Next(), sub[0].Bits())
		}
	}
	if st.Bridge == cfg.BridgeName && st.Address.IsValid() {
		prefer = st.Address
	}
	if err := s.checkTableOwner(cfg.BridgeName); err != nil {
		return err
	}
	br, err := s.nl.Ensure(cfg.BridgeName, want, prefer)
	if err != nil {
		return err
	}
	if fixed.IsValid() && (fixed.Bits() < br.Addr.Bits() || !br.Subnet().Contains(fixed.Addr())) {
		return fmt.Errorf("fixed-cidr %s is not within the bridge's subnet %s: %w", fixed, br.Subnet(), errdefs.ErrInvalidArgument)
	}
	if err := bridge.SetRouteLocalnet(br.Name); err != nil {
		return err
	}
	pool := st.IPAM
	if pool == nil || pool.Subnet() != br.Subnet() || pool.Gateway() != br.Addr.Addr() {
		if pool, err = ipam.New(br.Subnet(), br.Addr.Addr()); err != nil {
			return err
		}
	}
	if err := pool.SetRange(fixed); err != nil {
		return err
	}
	return s.builtinNetworks(br, pool, fixed)
}

// Close stops the service's goroutines and embedded DNS servers and
// releases its sockets (port reservations included). Bridges, rules,
// namespaces and state stay, for the containers still running and the
// next New.
func (s *Service) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	s.wg.Wait()
	s.bg.Wait()
	s.mu.Lock()
	var servers []*sandbox
	for _, sb := range s.sandboxes {
		servers = append(servers, sb)
	}
	s.mu.Unlock()
	for _, sb := range servers {
		sb.stopDNS()
	}
	s.closeHandles()
	s.releaseNetNSDir()
	return nil
}

// releaseNetNSDir drops the namespace directory's bind mount when no
// namespace is left, so that a stopped daemon (or one that failed to
// start) leaves no mount behind; live containers keep it.
func (s *Service) releaseNetNSDir() {
	if entries, err := os.ReadDir(s.cfg.NetNSDir); err == nil && len(entries) == 0 {
		_ = netns.ReleaseDir(s.cfg.NetNSDir)
	}
}

func (s *Service) closeHandles() {
	if s.ports != nil {
		s.ports.Close()
	}
	for _, n := range s.nets {
		if n.nat != nil {
			_ = n.nat.Close()
		}
	}
	if s.nl != nil {
		s.nl.Close()
	}
}

// Bridge is the default bridge's name ("" with NoBridge).
func (s *Service) Bridge() string {
	if s.def == nil {
		return ""
	}
	return s.def.br.Name
}

// Subnet is the default bridge's subnet (invalid with NoBridge).
func (s *Service) Subnet() netip.Prefix {
	if s.def == nil {
		return netip.Prefix{}
	}
	return s.def.br.Subnet()
}

// Gateway is the default bridge's address, the containers' gateway
// (invalid with NoBridge).
func (s *Service) Gateway() netip.Addr {
	if s.def == nil {
		return netip.Addr{}
	}
	return s.def.br.Addr.Addr()
}

// HostGateway is the address --add-host name:host-gateway stands for: the
// default bridge's. With NoBridge there is none (the entry is left out;
// dockerd 20.10 writes "<nil>").
func (s *Service) HostGateway() netip.Addr { return s.Gateway() }

// networkID is a stable ID for a default network: the same across
// restarts, different for daemons on different bridges.
func (s *Service) networkID(name string) string {
	sum := sha256.Sum256([]byte("berth network " + name + " on " + s.cfg.BridgeName))
	return hex.EncodeToString(sum[:])
}

// iptables reports whether berth programs nftables at all (dockerd's
// --iptables).
func (s *Service) iptables() bool { return s.cfg.IPTables == nil || *s.cfg.IPTables }

// syncForward puts the iptables accept rules of every bridge network in
// place while it has endpoints and takes them out when it has none
// ("removed when berth stops using them"). It runs at start, on a
// network's first endpoint, after its last one goes, and whenever the
// iptables filter table changes (dockerd starting after berth, or
// flushing DOCKER-USER).
func (s *Service) syncForward() {
	for _, n := range s.networks(func(n *netw) bool { return n.nat != nil }) {
		s.syncForwardNet(n)
	}
}

// networks are the networks for which keep is true, taken under s.mu.
func (s *Service) networks(keep func(*netw) bool) []*netw {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*netw
	for _, n := range s.nets {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

func (s *Service) syncForwardNet(n *netw) {
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	if n.nat == nil {
		return
	}
	s.mu.Lock()
	used := len(n.eps) > 0
	s.mu.Unlock()
	if used && !n.removed.Load() {
		chain, err := n.nat.EnsureForwardAccept()
		if err != nil {
			slog.Warn("cannot add accept rules for the bridge to the iptables FORWARD chain; containers may be cut off if its policy is DROP",
				"bridge", n.br.Name, "err", err)
			n.fwdInstalled.Store(false)
			return
		}
		if chain != n.fwdChain && chain != "" {
			slog.Info("accepting the bridge's traffic in iptables", "bridge", n.br.Name, "chain", chain)
		}
		n.fwdChain = chain
		n.fwdInstalled.Store(true)
		return
	}
	if err := n.nat.RemoveForwardAccept(); err != nil {
		slog.Warn("cannot remove the bridge's accept rules from iptables", "bridge", n.br.Name, "err", err)
	}
	n.fwdChain = ""
	n.fwdInstalled.Store(false)
}

func (s *Service) kickForward() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Service) forwardSyncer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
			s.syncForward()
		}
	}
}

// watchFirewall follows changes to the iptables filter table. If the
// kernel stops sending events (its buffer overflowed), it subscribes
// again and resynchronises, since changes may have been missed.
func (s *Service) watchFirewall() {
	defer s.wg.Done()
	for {
		s.watching.Store(true)
		err := nat.WatchFilter(s.stop, s.kickForward)
		// Until subscribed again, Connect checks the rules itself.
		s.watching.Store(false)
		select {
		case <-s.stop:
			return
		default:
		}
		slog.Debug("watching the iptables filter table", "err", err)
		s.kickForward()
		select {
		case <-s.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

var errBadID = errors.New("invalid container ID")
