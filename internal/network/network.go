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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/ipam"
	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/portmap"
)

// DefaultBridge is the bridge's name when Config.BridgeName is empty.
const DefaultBridge = "berth0"

// Config configures the network service.
type Config struct {
	// Root is the service's state directory (for example
	// /var/lib/berth/network).
	Root string
	// NetNSDir is where container network namespaces are mounted; it
	// belongs on the exec root (a tmpfs, like Docker's /run/docker/netns)
	// so that the data root never keeps a mount. Default: Root/netns.
	NetNSDir string
	// BridgeName is the default bridge, created if missing (berth0).
	BridgeName string
	// BridgeCIDR is the bridge's address and prefix (dockerd's --bip),
	// for example 172.18.0.1/16. Empty: keep the bridge's current address,
	// else 172.17.0.1/16 if free, else the first free subnet of Docker's
	// default pools.
	BridgeCIDR string
	// DNS, DNSSearch and DNSOptions override the host's resolv.conf for
	// containers (daemon.json dns, dns-search, dns-opts).
	DNS, DNSSearch, DNSOptions []string
	// IPForward, when set to false, leaves net.ipv4.ip_forward alone
	// (dockerd's --ip-forward=false); nil or true turns it on.
	IPForward *bool
}

// Service manages the default networks and container endpoints. It is safe
// for concurrent use; calls for one container must not overlap.
type Service struct {
	cfg            Config
	nl             *bridge.Conn
	br             *bridge.Bridge
	nat            *nat.Table
	ports          *portmap.Allocator
	created        time.Time
	resolvConfPath string

	mu        sync.Mutex
	pool      *ipam.Pool
	endpoints map[string]*Endpoint   // by container ID, bridge and none modes
	portOwner map[portmap.Key]string // reserved host port → container ID

	fwdMu        sync.Mutex  // serialises syncForward
	fwdInstalled atomic.Bool // accept rules in place for the current endpoints
	watching     atomic.Bool // watchFirewall is subscribed to changes
	fwdChain     string      // guarded by fwdMu
	kick         chan struct{}
	stop         chan struct{}
	wg           sync.WaitGroup // watchFirewall, forwardSyncer
	bg           sync.WaitGroup // background halves of Disconnect
}

// state is Root/network.json.
type state struct {
	Bridge  string       `json:"bridge"`
	Address netip.Prefix `json:"address"`
	Created time.Time    `json:"created"`
	IPAM    *ipam.Pool   `json:"ipam"`
}

// New brings the default bridge up (creating or adopting it), chooses its
// subnet, enables IPv4 forwarding, programs the bridge's nftables table,
// and reloads the endpoints a previous run left. It is idempotent across
// restarts; running containers keep their addresses and published ports.
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
	var want netip.Prefix
	if cfg.BridgeCIDR != "" {
		p, err := netip.ParsePrefix(cfg.BridgeCIDR)
		if err != nil || !p.Addr().Is4() || p.Bits() > 30 || p.Addr() == p.Masked().Addr() {
			return nil, fmt.Errorf("invalid bridge address %q: want an IPv4 host address and prefix such as 172.18.0.1/16: %w",
				cfg.BridgeCIDR, errdefs.ErrInvalidArgument)
		}
		want = p
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
		resolvConfPath: hostResolvConf,
		endpoints:      map[string]*Endpoint{},
		portOwner:      map[portmap.Key]string{},
		kick:           make(chan struct{}, 1),
		stop:           make(chan struct{}),
	}
	st, err := s.loadState()
	if err != nil {
		return nil, err
	}
	prefer := netip.MustParsePrefix("172.17.0.1/16")
	if st.Bridge == cfg.BridgeName && st.Address.IsValid() {
		prefer = st.Address
	}

	if s.nl, err = bridge.Open(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			s.closeHandles()
		}
	}()
	if s.br, err = s.nl.Ensure(cfg.BridgeName, want, prefer); err != nil {
		return nil, err
	}
	if cfg.IPForward == nil || *cfg.IPForward {
		if err := bridge.EnableIPForward(); err != nil {
			return nil, err
		}
	}
	if err := bridge.SetRouteLocalnet(s.br.Name); err != nil {
		return nil, err
	}
	if s.nat, err = nat.Setup(s.br.Name, s.br.Subnet()); err != nil {
		return nil, err
	}
	first, last := portmap.EphemeralRange()
	s.ports = portmap.New(first, last)

	s.created = st.Created
	if s.created.IsZero() || st.Bridge != cfg.BridgeName {
		s.created = time.Now().UTC()
	}
	s.pool = st.IPAM
	if s.pool == nil || s.pool.Subnet() != s.br.Subnet() || s.pool.Gateway() != s.br.Addr.Addr() {
		if s.pool, err = ipam.New(s.br.Subnet(), s.br.Addr.Addr()); err != nil {
			return nil, err
		}
	}
	if err := s.loadEndpoints(); err != nil {
		return nil, err
	}
	if err := s.saveState(); err != nil {
		return nil, err
	}
	ok = true

	if b, err := os.ReadFile("/proc/net/ip_tables_names"); err == nil && strings.Contains(string(b), "filter") {
		slog.Warn("a legacy iptables filter table is loaded; berth programs nftables only and cannot add its accept rules there: "+
			"if its FORWARD policy is DROP, allow the bridge by hand (iptables -I FORWARD -i BRIDGE -j ACCEPT; iptables -I FORWARD -o BRIDGE -j ACCEPT)",
			"bridge", s.br.Name)
	}
	s.wg.Add(2)
	go s.watchFirewall()
	go s.forwardSyncer()
	s.syncForward()
	slog.Debug("network ready", "bridge", s.br.Name, "address", s.br.Addr.String(), "endpoints", len(s.endpoints))
	return s, nil
}

// Close stops the service's goroutines and releases its sockets (port
// reservations included). The bridge, rules, namespaces and state stay,
// for the containers still running and the next New.
func (s *Service) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	s.wg.Wait()
	s.bg.Wait()
	s.closeHandles()
	// With no namespace left, drop the directory's bind mount too, so a
	// stopped daemon leaves no mount behind; live containers keep it.
	if entries, err := os.ReadDir(s.cfg.NetNSDir); err == nil && len(entries) == 0 {
		_ = netns.ReleaseDir(s.cfg.NetNSDir)
	}
	return nil
}

func (s *Service) closeHandles() {
	if s.ports != nil {
		s.ports.Close()
	}
	if s.nat != nil {
		_ = s.nat.Close()
	}
	if s.nl != nil {
		s.nl.Close()
	}
}

// Bridge is the default bridge's name.
func (s *Service) Bridge() string { return s.br.Name }

// Subnet is the default bridge's subnet.
func (s *Service) Subnet() netip.Prefix { return s.br.Subnet() }

// Gateway is the default bridge's address, the containers' gateway.
func (s *Service) Gateway() netip.Addr { return s.br.Addr.Addr() }

// networkID is a stable ID for a default network: the same across
// restarts, different for daemons on different bridges.
func (s *Service) networkID(name string) string {
	sum := sha256.Sum256([]byte("berth network " + name + " on " + s.cfg.BridgeName))
	return hex.EncodeToString(sum[:])
}

// Networks are the three default networks, as GET /networks lists them.
func (s *Service) Networks() []network.Summary {
	mk := func(name, driver string, ipamCfg []network.IPAMConfig, opts map[string]string) network.Summary {
		if ipamCfg == nil {
			ipamCfg = []network.IPAMConfig{}
		}
		if opts == nil {
			opts = map[string]string{}
		}
		return network.Summary{Network: network.Network{
			Name:       name,
			ID:         s.networkID(name),
			Created:    s.created,
			Scope:      "local",
			Driver:     driver,
			EnableIPv4: true,
			IPAM:       network.IPAM{Driver: "default", Config: ipamCfg},
			Options:    opts,
			Labels:     map[string]string{},
		}}
	}
	return []network.Summary{
		mk("bridge", "bridge",
			[]network.IPAMConfig{{Subnet: s.br.Subnet(), Gateway: s.br.Addr.Addr()}},
			map[string]string{
				"com.docker.network.bridge.default_bridge":       "true",
				"com.docker.network.bridge.enable_icc":           "true",
				"com.docker.network.bridge.enable_ip_masquerade": "true",
				"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
				"com.docker.network.bridge.name":                 s.br.Name,
				"com.docker.network.driver.mtu":                  strconv.Itoa(s.br.MTU),
			}),
		mk("host", "host", nil, nil),
		mk("none", "null", nil, nil),
	}
}

// syncForward puts the iptables accept rules in place while the bridge has
// endpoints and takes them out when it has none ("removed when berth stops
// using them"). It runs at start, on the first bridge endpoint, after the
// last one goes, and whenever the iptables filter table changes (dockerd
// starting after berth, or flushing DOCKER-USER).
func (s *Service) syncForward() {
	s.fwdMu.Lock()
	defer s.fwdMu.Unlock()
	if s.bridgeEndpoints() > 0 {
		chain, err := s.nat.EnsureForwardAccept()
		if err != nil {
			slog.Warn("cannot add accept rules for the bridge to the iptables FORWARD chain; containers may be cut off if its policy is DROP",
				"bridge", s.br.Name, "err", err)
			s.fwdInstalled.Store(false)
			return
		}
		if chain != s.fwdChain && chain != "" {
			slog.Info("accepting the bridge's traffic in iptables", "bridge", s.br.Name, "chain", chain)
		}
		s.fwdChain = chain
		s.fwdInstalled.Store(true)
		return
	}
	if err := s.nat.RemoveForwardAccept(); err != nil {
		slog.Warn("cannot remove the bridge's accept rules from iptables", "bridge", s.br.Name, "err", err)
	}
	s.fwdChain = ""
	s.fwdInstalled.Store(false)
}

func (s *Service) bridgeEndpoints() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ep := range s.endpoints {
		if ep.Mode == "bridge" {
			n++
		}
	}
	return n
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
