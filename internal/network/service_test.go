package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/netns/netnstest"
)

// The tests below run as root against the real kernel, in the host's
// network namespace, each on a bridge of its own (named after the test)
// with a subnet under 10.213.0.0/16, and remove everything they create.

func isRoot() bool { return os.Geteuid() == 0 }

func needRoot(t *testing.T) {
	t.Helper()
	if !isRoot() {
		t.Skip("needs root")
	}
}

var ctx = context.Background()

// testEnv is one Root and bridge shared by the services a test builds.
type testEnv struct {
	t      testing.TB
	root   string
	bridge string
	cidr   string
}

func newEnv(t *testing.T, bridge, cidr string) *testEnv {
	t.Helper()
	needRoot(t)
	e := &testEnv{t: t, root: filepath.Join(t.TempDir(), "network"), bridge: bridge, cidr: cidr}
	t.Cleanup(e.cleanup)
	return e
}

func (e *testEnv) service() *Service {
	e.t.Helper()
	s, err := New(ctx, Config{Root: e.root, BridgeName: e.bridge, BridgeCIDR: e.cidr})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() })
	return s
}

// cleanup removes what the services left for their containers on purpose
// (live restore keeps the kernel state): endpoints, the table, the bridge.
func (e *testEnv) cleanup() {
	s, err := New(ctx, Config{Root: e.root, BridgeName: e.bridge, BridgeCIDR: e.cidr})
	if err == nil {
		_ = s.Restore(ctx, nil) // every container is gone
		s.settle()
		for _, n := range s.Networks() {
			if n.Name != "bridge" && n.Name != "host" && n.Name != "none" {
				if err := s.RemoveNetwork(ctx, n.ID); err != nil {
					e.t.Errorf("cleanup: %v", err)
				}
			}
		}
		if s.def != nil {
			_ = s.def.nat.Destroy()
			_ = s.nl.Delete(e.bridge)
		}
		s.Close()
	}
	_ = netns.ReleaseDir(filepath.Join(e.root, "netns"))
}

func (e *testEnv) connect(s *Service, id string, ports network.PortMap) *Endpoint {
	e.t.Helper()
	ep, err := s.Connect(ctx, EndpointRequest{ContainerID: id, Ports: ports})
	if err != nil {
		e.t.Fatalf("Connect(%s): %v", id, err)
	}
	return ep
}

func mustAsk(t *testing.T, path, proto, addr, wantPrefix string) string {
	t.Helper()
	got, err := netnstest.Ask(path, proto, addr, 2*time.Second)
	if err != nil {
		t.Fatalf("%s %s from %q: %v", proto, addr, path, err)
	}
	if !strings.HasPrefix(got, wantPrefix) {
		t.Fatalf("%s %s from %q: got %q, want %q...", proto, addr, path, got, wantPrefix)
	}
	return strings.TrimPrefix(got, wantPrefix)
}

// hostAddr is the host's address on the interface with the default
// route (eth0 here), as another machine would reach it.
func hostAddr(t *testing.T) netip.Addr {
	t.Helper()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
			continue
		}
		link, err := netlink.LinkByIndex(r.LinkIndex)
		if err != nil {
			continue
		}
		addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
		for _, a := range addrs {
			ip, _ := netip.AddrFromSlice(a.IP)
			return ip.Unmap()
		}
	}
	t.Skip("no default route: cannot test the host's external address")
	return netip.Addr{}
}

// freePort is a TCP and UDP port nobody holds right now.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", l.Addr().String())
		l.Close()
		if err == nil {
			u.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

func bindings(hostIP, hostPort string) []network.PortBinding {
	var ip netip.Addr
	if hostIP != "" {
		ip = netip.MustParseAddr(hostIP)
	}
	return []network.PortBinding{{HostIP: ip, HostPort: hostPort}}
}

func TestConnectBridge(t *testing.T) {
	e := newEnv(t, "btconn", "10.213.1.1/24")
	s := e.service()
	if s.Subnet().String() != "10.213.1.0/24" || s.Gateway().String() != "10.213.1.1" {
		t.Fatalf("bridge %s gw %s", s.Subnet(), s.Gateway())
	}
	a := e.connect(s, "ctr-a", nil)
	b := e.connect(s, "ctr-b", nil)

	if a.Mode != "bridge" || a.Bridge != "btconn" || a.IPAddress.String() != "10.213.1.2" || a.Gateway.String() != "10.213.1.1" ||
		a.PrefixLen != 24 || a.MacAddress != "02:42:0a:d5:01:02" || a.NetNSPath != filepath.Join(e.root, "netns", "ctr-a") ||
		a.NetworkID != s.Networks()[0].ID || len(a.EndpointID) != 64 {
		t.Fatalf("endpoint a: %+v", a)
	}
	if b.IPAddress.String() != "10.213.1.3" || b.MacAddress != "02:42:0a:d5:01:03" {
		t.Fatalf("endpoint b: %+v", b)
	}

	// Inside a's namespace: lo and eth0 up, the address, the MAC, the
	// bridge's MTU, and the default route through the bridge.
	netnstest.Do(t, a.NetNSPath, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		var names []string
		for _, l := range links {
			names = append(names, l.Attrs().Name)
			if l.Attrs().Flags&net.FlagUp == 0 {
				return fmt.Errorf("%s is down", l.Attrs().Name)
			}
		}
		sort.Strings(names)
		if !slices.Equal(names, []string{"eth0", "lo"}) {
			return fmt.Errorf("links %v", names)
		}
		eth, _ := netlink.LinkByName("eth0")
		if eth.Attrs().HardwareAddr.String() != a.MacAddress || eth.Attrs().MTU != 1500 {
			return fmt.Errorf("eth0 mac %s mtu %d", eth.Attrs().HardwareAddr, eth.Attrs().MTU)
		}
		addrs, _ := netlink.AddrList(eth, netlink.FAMILY_V4)
		if len(addrs) != 1 || addrs[0].IPNet.String() != "10.213.1.2/24" {
			return fmt.Errorf("addresses %v", addrs)
		}
		routes, _ := netlink.RouteList(eth, netlink.FAMILY_V4)
		var def *netlink.Route
		for i := range routes {
			if routes[i].Dst == nil || routes[i].Dst.String() == "0.0.0.0/0" {
				def = &routes[i]
			}
		}
		if def == nil || def.Gw.String() != "10.213.1.1" {
			return fmt.Errorf("routes %v", routes)
		}
		return nil
	})

	// The host end is on the bridge, in hairpin mode.
	br, _ := netlink.LinkByName("btconn")
	veth, err := netlink.LinkByName(vethName(a.EndpointID))
	if err != nil || veth.Attrs().MasterIndex != br.Attrs().Index || veth.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("host veth: %v %+v", err, veth)
	}
	if b, err := os.ReadFile("/sys/class/net/" + veth.Attrs().Name + "/brport/hairpin_mode"); err != nil || string(b) != "1\n" {
		t.Fatalf("hairpin mode: %q, %v", b, err)
	}

	// a and b reach each other, and the host reaches both.
	netnstest.Serve(t, b.NetNSPath, "tcp", ":80", "b ")
	netnstest.Serve(t, a.NetNSPath, "tcp", ":80", "a ")
	if from := mustAsk(t, a.NetNSPath, "tcp", "10.213.1.3:80", "b "); from != "10.213.1.2" {
		t.Fatalf("b saw %s", from)
	}
	mustAsk(t, "", "tcp", "10.213.1.2:80", "a ")

	// Connecting the same container again is a conflict.
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "ctr-a"}); err == nil {
		t.Fatal("second Connect of the same container succeeded")
	}

	// IP forwarding is on and the bridge routes loopback sources.
	for path, want := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                 "1\n",
		"/proc/sys/net/ipv4/conf/btconn/route_localnet": "1\n",
	} {
		if b, _ := os.ReadFile(path); string(b) != want {
			t.Fatalf("%s = %q", path, b)
		}
	}
}

func TestPublishedPorts(t *testing.T) {
	e := newEnv(t, "btpub", "10.213.2.1/24")
	s := e.service()
	ext := hostAddr(t)
	fixed := freePort(t)
	local := freePort(t)

	web := e.connect(s, "web", network.PortMap{
		network.MustParsePort("80/tcp"): bindings("", strconv.Itoa(fixed)),
		network.MustParsePort("53/udp"): bindings("", strconv.Itoa(fixed)),
		network.MustParsePort("81/tcp"): bindings("127.0.0.1", strconv.Itoa(local)),
		network.MustParsePort("82/tcp"): bindings("", ""),
	})
	netnstest.Serve(t, web.NetNSPath, "tcp", ":80", "web80 ")
	netnstest.Serve(t, web.NetNSPath, "udp", ":53", "web53 ")
	netnstest.Serve(t, web.NetNSPath, "tcp", ":81", "web81 ")
	netnstest.Serve(t, web.NetNSPath, "tcp", ":82", "web82 ")

	// The endpoint reports the actual bindings; the ephemeral one comes
	// from the kernel's ephemeral range.
	// On a host with IPv6, a binding without an address takes its port on
	// :: too, after 0.0.0.0, as Docker's.
	want80 := []network.PortBinding{{HostIP: netip.IPv4Unspecified(), HostPort: strconv.Itoa(fixed)}}
	if s.hostIPv6 {
		want80 = append(want80, network.PortBinding{HostIP: netip.IPv6Unspecified(), HostPort: strconv.Itoa(fixed)})
	}
	if got := web.Ports[network.MustParsePort("80/tcp")]; !slices.Equal(got, want80) {
		t.Fatalf("80/tcp bindings %+v, want %+v", got, want80)
	}
	if got := web.Ports[network.MustParsePort("81/tcp")]; len(got) != 1 || got[0].HostIP.String() != "127.0.0.1" {
		t.Fatalf("81/tcp bindings %+v", got)
	}
	eph := web.Ports[network.MustParsePort("82/tcp")]
	ephPort, _ := strconv.Atoi(eph[0].HostPort)
	if ephPort < 32768 || ephPort > 60999 {
		t.Fatalf("ephemeral port %d", ephPort)
	}

	fp := strconv.Itoa(fixed)
	// From the host, on 127.0.0.1 and on its external address, TCP and UDP.
	mustAsk(t, "", "tcp", "127.0.0.1:"+fp, "web80 ")
	mustAsk(t, "", "tcp", net.JoinHostPort(ext.String(), fp), "web80 ")
	mustAsk(t, "", "udp", "127.0.0.1:"+fp, "web53 ")
	mustAsk(t, "", "udp", net.JoinHostPort(ext.String(), fp), "web53 ")
	mustAsk(t, "", "tcp", "127.0.0.1:"+eph[0].HostPort, "web82 ")
	if s.hostIPv6 {
		// Through the userland proxy: NAT cannot take IPv6 to the
		// container's IPv4 address.
		mustAsk(t, "", "tcp", "[::1]:"+fp, "web80 ")
		mustAsk(t, "", "udp", "[::1]:"+fp, "web53 ")
		mustAsk(t, "", "tcp", "[::1]:"+eph[0].HostPort, "web82 ")
	}
	// A binding on 127.0.0.1 answers there only.
	mustAsk(t, "", "tcp", "127.0.0.1:"+strconv.Itoa(local), "web81 ")
	if _, err := netnstest.Ask("", "tcp", net.JoinHostPort(ext.String(), strconv.Itoa(local)), 2*time.Second); err == nil {
		t.Fatal("a 127.0.0.1 binding answered on the external address")
	}

	// From another container, through the host's address and the gateway;
	// and the container through its own published port (hairpin).
	other := e.connect(s, "client", nil)
	mustAsk(t, other.NetNSPath, "tcp", net.JoinHostPort(ext.String(), fp), "web80 ")
	mustAsk(t, other.NetNSPath, "udp", net.JoinHostPort(ext.String(), fp), "web53 ")
	mustAsk(t, other.NetNSPath, "tcp", "10.213.2.1:"+fp, "web80 ")
	mustAsk(t, web.NetNSPath, "tcp", net.JoinHostPort(ext.String(), fp), "web80 ")

	// The host ports are really held: other programs cannot take them.
	if l, err := net.Listen("tcp4", "0.0.0.0:"+fp); err == nil {
		l.Close()
		t.Fatal("published TCP port is not reserved")
	}
	if c, err := net.ListenPacket("udp4", "0.0.0.0:"+fp); err == nil {
		c.Close()
		t.Fatal("published UDP port is not reserved")
	}

	// After Disconnect the ports are free and unpublished.
	if err := s.Disconnect(ctx, web); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", "0.0.0.0:"+fp)
	if err != nil {
		t.Fatalf("port still held after Disconnect: %v", err)
	}
	l.Close()
	if s.hostIPv6 {
		l, err := net.Listen("tcp6", "[::]:"+fp)
		if err != nil {
			t.Fatalf("port still held on :: after Disconnect: %v", err)
		}
		l.Close()
	}
	if ms, _ := s.def.nat.Mappings(); len(ms) != 0 {
		t.Fatalf("mappings left: %+v", ms)
	}
}

func TestPublishAll(t *testing.T) {
	e := newEnv(t, "btall", "10.213.3.1/24")
	s := e.service()
	ep, err := s.Connect(ctx, EndpointRequest{ContainerID: "all",
		Exposed: network.PortSet{network.MustParsePort("80/tcp"): {}, network.MustParsePort("53/udp"): {}}, PublishAll: true})
	if err != nil {
		t.Fatal(err)
	}
	netnstest.Serve(t, ep.NetNSPath, "udp", ":53", "all53 ")
	b := ep.Ports[network.MustParsePort("53/udp")]
	if len(b) == 0 || len(ep.Ports) != 2 {
		t.Fatalf("ports %+v", ep.Ports)
	}
	mustAsk(t, "", "udp", "127.0.0.1:"+b[0].HostPort, "all53 ")
}

// nothingLeft checks that a failed Connect left no trace.
func nothingLeft(t *testing.T, s *Service, id string, ports ...int) {
	t.Helper()
	s.settle()
	if _, err := os.Stat(filepath.Join(s.cfg.Root, "netns", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns left: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(s.endpointsDir(), id+".*")); len(m) != 0 {
		t.Errorf("endpoint records left: %v", m)
	}
	if s.def == nil {
		// No default bridge (NoBridge): no veths on it.
	} else if p, _ := s.nl.Ports(s.def.br); len(p) != 0 {
		// Other endpoints of the test may be on the bridge: only theirs.
		s.mu.Lock()
		ok := map[string]bool{}
		for _, ep := range s.def.eps {
			ok[vethName(ep.EndpointID)] = true
		}
		s.mu.Unlock()
		for _, n := range p {
			if !ok[n] {
				t.Errorf("veth left on the bridge: %s", n)
			}
		}
	}
	s.mu.Lock()
	for _, n := range s.nets {
		for _, p := range n.allPools() {
			for a, owner := range p.Allocated() {
				if owner == id {
					t.Errorf("address %s still allocated in %s", a, n.name())
				}
			}
		}
		if _, ok := n.eps[id]; ok {
			t.Errorf("endpoint still known on %s", n.name())
		}
	}
	if _, ok := s.sandboxes[id]; ok {
		t.Error("sandbox still known")
	}
	for k, owner := range s.portOwner {
		if owner == id {
			t.Errorf("port %+v still owned", k)
		}
	}
	s.mu.Unlock()
	for _, p := range ports {
		l, err := net.Listen("tcp4", "0.0.0.0:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d still held: %v", p, err)
		} else {
			l.Close()
		}
	}
	for _, n := range s.nets {
		if n.nat == nil {
			continue
		}
		ms, _ := n.nat.Mappings()
		for _, m := range ms {
			if m.Owner == shortID(id) {
				t.Errorf("mapping left in %s: %+v", n.name(), m)
			}
		}
	}
}

func TestPortConflicts(t *testing.T) {
	e := newEnv(t, "btconf", "10.213.4.1/24")
	s := e.service()
	p := freePort(t)
	ps := strconv.Itoa(p)
	first := e.connect(s, "first", network.PortMap{network.MustParsePort("80/tcp"): bindings("", ps)})

	// Another container asking for the same host port.
	second, other := freePort(t), network.MustParsePort("81/tcp")
	_, err := s.Connect(ctx, EndpointRequest{ContainerID: "second", Name: "/second",
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", ps), other: bindings("", strconv.Itoa(second))}})
	if err == nil {
		t.Fatal("port conflict not detected")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "driver failed programming external connectivity on endpoint second (") ||
		!strings.HasSuffix(msg, "): Bind for 0.0.0.0:"+ps+" failed: port is already allocated") {
		t.Fatalf("message: %q", msg)
	}
	nothingLeft(t, s, "second", second)

	// A port another program holds: the kernel's error, in Docker's words.
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_, err = s.Connect(ctx, EndpointRequest{ContainerID: "third",
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", busy)}})
	if err == nil || !strings.HasSuffix(err.Error(), "Error starting userland proxy: listen tcp4 0.0.0.0:"+busy+": bind: address already in use") {
		t.Fatalf("busy port: %v", err)
	}
	nothingLeft(t, s, "third")

	// The failures did not disturb the first container, and the next one
	// gets the address after it.
	netnstest.Serve(t, first.NetNSPath, "tcp", ":80", "first ")
	mustAsk(t, "", "tcp", "127.0.0.1:"+ps, "first ")
	if ep := e.connect(s, "fourth", nil); ep.IPAddress.String() != "10.213.4.3" {
		t.Fatalf("next address %s", ep.IPAddress)
	}
}

func TestConnectFailureCleanup(t *testing.T) {
	e := newEnv(t, "btfail", "10.213.5.1/24")
	s := e.service()

	// Failure creating the namespace (something is in its way).
	blocker := filepath.Join(e.root, "netns", "blocked")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p1 := freePort(t)
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "blocked",
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", strconv.Itoa(p1))}}); err == nil {
		t.Fatal("Connect over an existing namespace path succeeded")
	}
	os.Remove(blocker)
	nothingLeft(t, s, "blocked", p1)

	// Failure in the last step, publishing the ports: the nftables maps
	// are gone from under the service. Namespace, veth, address, record and
	// port reservations were all made by then and must all be undone.
	if err := s.def.nat.Destroy(); err != nil {
		t.Fatal(err)
	}
	p2 := freePort(t)
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "late",
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", strconv.Itoa(p2))}}); err == nil {
		t.Fatal("Connect without the nftables table succeeded")
	}
	nothingLeft(t, s, "late", p2)
	// The veth is deleted synchronously, not left to the namespace's
	// (asynchronous) destruction: the bridge has no port right now.
	if s.def == nil {
		// No default bridge (NoBridge): no veths on it.
	} else if p, _ := s.nl.Ports(s.def.br); len(p) != 0 {
		t.Fatalf("bridge ports left: %v", p)
	}
	// Bad requests fail before doing anything.
	for _, req := range []EndpointRequest{
		{ContainerID: "../x"},
		{ContainerID: "x", Network: "nosuchnet"},
		{ContainerID: "x", Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", "x")}},
	} {
		if _, err := s.Connect(ctx, req); err == nil {
			t.Errorf("Connect(%+v) succeeded", req)
		}
	}
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "x", Network: "nosuchnet"}); err == nil || err.Error() != "network nosuchnet not found" {
		t.Errorf("unknown network: %v", err)
	}
}

func TestDisconnectIdempotent(t *testing.T) {
	e := newEnv(t, "btdisc", "10.213.6.1/24")
	s := e.service()
	p := freePort(t)
	ep := e.connect(s, "gone", network.PortMap{network.MustParsePort("80/udp"): bindings("", strconv.Itoa(p))})
	none, err := s.Connect(ctx, EndpointRequest{ContainerID: "gone-none", Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Disconnect(ctx, ep); err != nil {
			t.Fatalf("Disconnect #%d: %v", i+1, err)
		}
		if err := s.Disconnect(ctx, none); err != nil {
			t.Fatalf("Disconnect none #%d: %v", i+1, err)
		}
	}
	nothingLeft(t, s, "gone")
	nothingLeft(t, s, "gone-none")
	if c, err := net.ListenPacket("udp4", "0.0.0.0:"+strconv.Itoa(p)); err != nil {
		t.Fatalf("udp port still held: %v", err)
	} else {
		c.Close()
	}
	if err := s.Disconnect(ctx, nil); err != nil {
		t.Fatal(err)
	}
	// The address is free again (once the veth is gone): the next
	// container gets it.
	s.settle()
	if ep2 := e.connect(s, "next", nil); ep2.IPAddress != ep.IPAddress {
		t.Fatalf("got %s, want the freed %s", ep2.IPAddress, ep.IPAddress)
	}
}

// onlyLo checks that the namespace at path has lo, up, and nothing else.
func onlyLo(t *testing.T, path string) {
	t.Helper()
	netnstest.Do(t, path, func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return err
		}
		if len(links) != 1 || links[0].Attrs().Name != "lo" || links[0].Attrs().Flags&net.FlagUp == 0 {
			return fmt.Errorf("links %+v, want lo only", links)
		}
		return nil
	})
}

func TestNoneAndHost(t *testing.T) {
	e := newEnv(t, "btnone", "10.213.7.1/24")
	s := e.service()
	none, err := s.Connect(ctx, EndpointRequest{ContainerID: "n", Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if none.Mode != "none" || none.IPAddress.IsValid() || none.NetworkID != s.Networks()[2].ID || !netns.IsNS(none.NetNSPath) {
		t.Fatalf("none endpoint %+v", none)
	}
	onlyLo(t, none.NetNSPath)
	host, err := s.Connect(ctx, EndpointRequest{ContainerID: "h", Network: "host",
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", "80")}})
	if err != nil {
		t.Fatal(err)
	}
	if host.NetNSPath != "" || host.Mode != "host" || host.NetworkID != s.Networks()[1].ID || len(host.Ports) != 0 {
		t.Fatalf("host endpoint %+v", host)
	}
	if err := s.Disconnect(ctx, host); err != nil {
		t.Fatal(err)
	}
}

func TestRestore(t *testing.T) {
	e := newEnv(t, "btrest", "10.213.8.1/24")
	s1 := e.service()
	p := freePort(t)
	ps := strconv.Itoa(p)
	live := e.connect(s1, "live", network.PortMap{network.MustParsePort("80/tcp"): bindings("", ps)})
	dead := e.connect(s1, "dead", network.PortMap{network.MustParsePort("81/tcp"): bindings("", "")})
	deadPort, _ := strconv.Atoi(dead.Ports[network.MustParsePort("81/tcp")][0].HostPort)
	netnstest.Serve(t, live.NetNSPath, "tcp", ":80", "live ")
	mustAsk(t, "", "tcp", "127.0.0.1:"+ps, "live ")

	// The daemon stops: its sockets go, the kernel state stays. While it is
	// down, someone deletes the live container's DNAT mapping.
	s1.Close()
	if err := s1.def.nat.Remove(mappings(live)); err != nil {
		t.Fatal(err)
	}
	// A namespace and veth with no record at all (a crash mid-Connect).
	stray := filepath.Join(e.root, "netns", "stray")
	if err := netns.Create(stray, nil); err != nil {
		t.Fatal(err)
	}

	s2 := e.service()
	if s2.Subnet() != s1.Subnet() {
		t.Fatalf("subnet changed: %s", s2.Subnet())
	}
	// Before Restore, the recorded addresses are already taken.
	if ip := s2.def.pools[0].Owner(live.IPAddress); ip != "live" {
		t.Fatalf("address of live not reserved after New: %q", ip)
	}
	if err := s2.Restore(ctx, []*Endpoint{live}); err != nil {
		t.Fatal(err)
	}
	// The live container is reachable again and its port held.
	mustAsk(t, "", "tcp", "127.0.0.1:"+ps, "live ")
	if !s2.ports.Held("tcp", netip.IPv4Unspecified(), uint16(p)) {
		t.Fatal("live port not re-reserved")
	}
	if _, err := s2.Connect(ctx, EndpointRequest{ContainerID: "thief",
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", ps)}}); err == nil ||
		!strings.HasSuffix(err.Error(), "port is already allocated") {
		t.Fatalf("restored port handed out again: %v", err)
	}
	// The dead container is gone entirely; so is the stray namespace.
	nothingLeft(t, s2, "dead", deadPort)
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray namespace left: %v", err)
	}
	s2.settle()
	if _, err := netlink.LinkByName(vethName(dead.EndpointID)); err == nil {
		t.Fatal("dead veth left")
	}
	// The dead container's address is handed out again, not the live one's.
	s2.settle()
	if ep := e.connect(s2, "new", nil); ep.IPAddress != dead.IPAddress {
		t.Fatalf("new container got %s, want %s", ep.IPAddress, dead.IPAddress)
	}
	// Restore is repeatable.
	if err := s2.Restore(ctx, []*Endpoint{live}); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(s2.endpointsDir(), "new.*")); len(m) != 0 {
		t.Fatal("an endpoint not passed to Restore was kept")
	}
	mustAsk(t, "", "tcp", "127.0.0.1:"+ps, "live ")
}

func TestBridgeAdoptionAndNetworks(t *testing.T) {
	e := newEnv(t, "btadopt", "10.213.9.1/24")
	s1 := e.service()
	nets := s1.Networks()
	if len(nets) != 3 || nets[0].Name != "bridge" || nets[1].Name != "host" || nets[2].Name != "none" ||
		nets[0].Driver != "bridge" || nets[1].Driver != "host" || nets[2].Driver != "null" ||
		nets[0].IPAM.Config[0].Subnet.String() != "10.213.9.0/24" || nets[0].IPAM.Config[0].Gateway.String() != "10.213.9.1" ||
		nets[0].Options["com.docker.network.bridge.name"] != "btadopt" || nets[0].Scope != "local" {
		t.Fatalf("networks %+v", nets)
	}
	s1.Close()
	// Restarted without --bip: the bridge keeps its address; IDs and
	// creation time are stable.
	e.cidr = ""
	s2 := e.service()
	if s2.def.br.Addr.String() != "10.213.9.1/24" {
		t.Fatalf("adopted %s", s2.def.br.Addr)
	}
	n2 := s2.Networks()
	for i := range nets {
		if n2[i].ID != nets[i].ID || !n2[i].Created.Equal(nets[i].Created) {
			t.Fatalf("network %s changed: %s -> %s", nets[i].Name, nets[i].ID, n2[i].ID)
		}
	}
	s2.Close()
	// A new --bip moves the bridge.
	e.cidr = "10.213.10.1/24"
	s3 := e.service()
	link, _ := netlink.LinkByName("btadopt")
	addrs, _ := netlink.AddrList(link, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.213.10.1/24" || s3.Subnet().String() != "10.213.10.0/24" {
		t.Fatalf("addresses %v", addrs)
	}
}

func TestTableNamedAfterBridge(t *testing.T) {
	e := newEnv(t, "btname", "10.213.11.1/24")
	s := e.service()
	if s.def.nat.Name() != nat.TableName("btname") || s.def.nat.Name() != "berth-btname" {
		t.Fatalf("table %s", s.def.nat.Name())
	}
	if _, err := New(ctx, Config{Root: t.TempDir(), BridgeName: "averyveryverylongname"}); err == nil {
		t.Fatal("a bridge name over 15 characters was accepted")
	}
	for _, bad := range []string{"10.0.0.0/24", "10.0.0.1", "fd00::1/64", "10.0.0.1/31"} {
		if _, err := New(ctx, Config{Root: t.TempDir(), BridgeName: "btbad", BridgeCIDR: bad}); err == nil {
			t.Errorf("BridgeCIDR %q accepted", bad)
		}
	}
}

func TestConcurrentConnect(t *testing.T) {
	e := newEnv(t, "btconc", "10.213.12.1/24")
	s := e.service()
	const n = 16
	eps := make([]*Endpoint, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var err error
			eps[i], err = s.Connect(ctx, EndpointRequest{ContainerID: "c" + strconv.Itoa(i),
				Ports: network.PortMap{network.MustParsePort("80/tcp"): {{}}}})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	ips, ports := map[netip.Addr]bool{}, map[string]bool{}
	for i, ep := range eps {
		hp := ep.Ports[network.MustParsePort("80/tcp")][0].HostPort
		if ips[ep.IPAddress] || ports[hp] {
			t.Fatalf("duplicate address %s or port %s", ep.IPAddress, hp)
		}
		ips[ep.IPAddress], ports[hp] = true, true
		netnstest.Serve(t, ep.NetNSPath, "tcp", ":80", "c"+strconv.Itoa(i)+" ")
		mustAsk(t, "", "tcp", "127.0.0.1:"+hp, "c"+strconv.Itoa(i)+" ")
	}
	for _, ep := range eps {
		go func() { errs <- s.Disconnect(ctx, ep) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		nothingLeft(t, s, "c"+strconv.Itoa(i))
	}
	if a := s.def.pools[0].Allocated(); len(a) != 0 {
		t.Fatalf("addresses left: %v", a)
	}
}
