package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/nftables"
	mdns "github.com/miekg/dns"
	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/netns/netnstest"
)

// User-defined networks in these tests live under 10.214.0.0/16, on
// bridges named after the test ("bt..." through the bridge.name option).

func (e *testEnv) createNet(s *Service, name, bridgeName, subnet string, mod func(*network.CreateRequest)) string {
	e.t.Helper()
	req := network.CreateRequest{Name: name, Options: map[string]string{optBridgeName: bridgeName},
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix(subnet)}}}}
	if mod != nil {
		mod(&req)
	}
	resp, err := s.CreateNetwork(ctx, req)
	if err != nil {
		e.t.Fatalf("create network %s: %v", name, err)
	}
	return resp.ID
}

func (e *testEnv) join(s *Service, id, netName string, mod func(*EndpointRequest)) *Endpoint {
	e.t.Helper()
	req := EndpointRequest{ContainerID: id, Name: id, Network: netName}
	if mod != nil {
		mod(&req)
	}
	ep, err := s.Connect(ctx, req)
	if err != nil {
		e.t.Fatalf("Connect(%s to %s): %v", id, netName, err)
	}
	return ep
}

// lookup asks the embedded DNS server in the namespace at path for name's
// A records.
func lookup(t *testing.T, path, name string) ([]string, error) {
	t.Helper()
	var resp *mdns.Msg
	err := netns.Do(path, func() error {
		c := &mdns.Client{Timeout: 2 * time.Second}
		var err error
		resp, _, err = c.Exchange(new(mdns.Msg).SetQuestion(mdns.Fqdn(name), mdns.TypeA), "127.0.0.11:53")
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range resp.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	sort.Strings(out)
	return out, nil
}

func mustLookup(t *testing.T, path, name string, want ...string) {
	t.Helper()
	got, err := lookup(t, path, name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("lookup %s: got %v, want %v", name, got, want)
	}
}

// links is the interfaces of the namespace at path, with their IPv4
// addresses, and its default route's interface.
func links(t *testing.T, path string) (ifaces map[string][]string, defaultVia string) {
	t.Helper()
	ifaces = map[string][]string{}
	netnstest.Do(t, path, func() error {
		ls, err := netlink.LinkList()
		if err != nil {
			return err
		}
		for _, l := range ls {
			addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
			var as []string
			for _, a := range addrs {
				as = append(as, a.IPNet.String())
			}
			ifaces[l.Attrs().Name] = as
			routes, _ := netlink.RouteList(l, netlink.FAMILY_V4)
			for _, r := range routes {
				if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
					defaultVia = l.Attrs().Name + " " + r.Gw.String()
				}
			}
		}
		return nil
	})
	return ifaces, defaultVia
}

func tableExists(name string) bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	ts, _ := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	for _, t := range ts {
		if t.Name == name {
			return true
		}
	}
	return false
}

func TestUserDefinedNetworks(t *testing.T) {
	e := newEnv(t, "btudn", "10.213.20.1/24")
	s := e.service()
	e.createNet(s, "tnet", "btudn1", "10.214.1.0/24", nil)
	other := e.createNet(s, "tother", "btudn2", "10.214.2.0/24", nil)

	// The bridge, its address and its own table.
	br, err := netlink.LinkByName("btudn1")
	if err != nil {
		t.Fatal(err)
	}
	addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.214.1.1/24" {
		t.Fatalf("bridge addresses %v", addrs)
	}
	if !tableExists("berth-btudn1") {
		t.Fatal("no nftables table for the network's bridge")
	}

	// a on tnet (with an alias) and then on the default bridge: two
	// interfaces, the default route through "bridge", which sorts first.
	a := e.join(s, "ctr-a", "tnet", func(r *EndpointRequest) { r.Aliases = []string{"database"}; r.Primary = true })
	if a.IPAddress.String() != "10.214.1.2" || a.Gateway.String() != "10.214.1.1" || a.IfName != "eth0" || a.Network != "tnet" || a.Bridge != "btudn1" {
		t.Fatalf("endpoint a on tnet: %+v", a)
	}
	if !slices.Equal(a.DNSNames, []string{"ctr-a", "database"}) {
		t.Fatalf("DNS names %v", a.DNSNames)
	}
	a2 := e.join(s, "ctr-a", "bridge", nil)
	if a2.IfName != "eth1" || a2.NetNSPath != a.NetNSPath || a2.IPAddress.String() != "10.213.20.2" {
		t.Fatalf("endpoint a on bridge: %+v", a2)
	}
	ifaces, via := links(t, a.NetNSPath)
	if !slices.Equal(ifaces["eth0"], []string{"10.214.1.2/24"}) || !slices.Equal(ifaces["eth1"], []string{"10.213.20.2/24"}) || via != "eth1 10.213.20.1" {
		t.Fatalf("a's namespace: %v, default via %q", ifaces, via)
	}
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "ctr-a", Name: "ctr-a", Network: "tnet"}); !errdefs.IsPermissionDenied(err) ||
		err.Error() != "endpoint with name ctr-a already exists in network tnet" {
		t.Fatalf("second endpoint on tnet: %v", err)
	}

	// b on tnet: reaches a, and resolves a's names through the embedded
	// DNS server: name, alias, name.network; a server on the default
	// bridge only has no DNS server at all.
	b := e.join(s, "ctr-b", "tnet", nil)
	netnstest.Serve(t, a.NetNSPath, "tcp", ":80", "a ")
	if from := mustAsk(t, b.NetNSPath, "tcp", "10.214.1.2:80", "a "); from != "10.214.1.3" {
		t.Fatalf("a saw %s", from)
	}
	mustLookup(t, b.NetNSPath, "ctr-a", "10.214.1.2")
	mustLookup(t, b.NetNSPath, "DATABASE", "10.214.1.2")
	mustLookup(t, b.NetNSPath, "ctr-a.tnet", "10.214.1.2")
	mustLookup(t, a.NetNSPath, "ctr-b", "10.214.1.3")
	c := e.join(s, "ctr-c", "bridge", nil)
	if _, err := lookup(t, c.NetNSPath, "ctr-a"); err == nil {
		t.Fatal("a container on the default bridge has an embedded DNS server")
	}

	// d on another network: a's names are not its to resolve, and a is
	// out of reach (networks are isolated from each other).
	d := e.join(s, "ctr-d", other, nil)
	if got, _ := lookup(t, d.NetNSPath, "ctr-a"); len(got) != 0 {
		t.Fatalf("ctr-a resolved on another network: %v", got)
	}
	if _, err := netnstest.Ask(d.NetNSPath, "tcp", "10.214.1.2:80", time.Second); err == nil {
		t.Fatal("a container on another network reached a")
	}

	// Shared aliases: every holder is answered.
	e.join(s, "ctr-e", "tnet", func(r *EndpointRequest) { r.Aliases = []string{"database"} })
	mustLookup(t, b.NetNSPath, "database", "10.214.1.2", "10.214.1.4")

	// Live disconnect of a from tnet: the interface goes at once, the
	// route stays on the default bridge, the name is gone for b, the
	// address is free again.
	if err := s.Disconnect(ctx, a); err != nil {
		t.Fatal(err)
	}
	ifaces, via = links(t, a.NetNSPath)
	if _, ok := ifaces["eth0"]; ok || via != "eth1 10.213.20.1" {
		t.Fatalf("after disconnect: %v, default via %q", ifaces, via)
	}
	mustLookup(t, b.NetNSPath, "ctr-a")
	if !netns.IsNS(a.NetNSPath) {
		t.Fatal("the namespace went with an endpoint that was not the last")
	}
	f := e.join(s, "ctr-f", "tnet", nil)
	if f.IPAddress.String() != "10.214.1.2" {
		t.Fatalf("freed address not reused: %s", f.IPAddress)
	}
	// Connected again, live: eth0 is free again and the route moves to
	// nothing better ("bridge" < "tnet").
	a3 := e.join(s, "ctr-a", "tnet", nil)
	if a3.IfName != "eth0" {
		t.Fatalf("reconnected as %s", a3.IfName)
	}
	for _, ep := range []*Endpoint{a3, a2, b, c, d, f} {
		if err := s.Disconnect(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
	nothingLeft(t, s, "ctr-a")
	nothingLeft(t, s, "ctr-b")
}

func TestGatewayFollowsDockerOrder(t *testing.T) {
	e := newEnv(t, "btgw", "10.213.21.1/24")
	s := e.service()
	e.createNet(s, "alpha", "btgw1", "10.214.3.0/24", nil)
	e.createNet(s, "zulu", "btgw2", "10.214.4.0/24", nil)
	e.createNet(s, "aaint", "btgw3", "10.214.5.0/24", func(r *network.CreateRequest) { r.Internal = true })
	z := e.join(s, "gw", "zulu", func(r *EndpointRequest) { r.Primary = true })
	if _, via := links(t, z.NetNSPath); via != "eth0 10.214.4.1" {
		t.Fatalf("default via %q", via)
	}
	// An internal network never takes the route, even sorting first.
	e.join(s, "gw", "aaint", nil)
	if _, via := links(t, z.NetNSPath); via != "eth0 10.214.4.1" {
		t.Fatalf("after internal: default via %q", via)
	}
	al := e.join(s, "gw", "alpha", nil)
	if _, via := links(t, z.NetNSPath); via != "eth2 10.214.3.1" {
		t.Fatalf("after alpha: default via %q", via)
	}
	if err := s.Disconnect(ctx, al); err != nil {
		t.Fatal(err)
	}
	if _, via := links(t, z.NetNSPath); via != "eth0 10.214.4.1" {
		t.Fatalf("after alpha left: default via %q", via)
	}
}

func TestNetworkLifecycle(t *testing.T) {
	e := newEnv(t, "btlife", "10.213.22.1/24")
	s := e.service()
	// No subnet: the first free one of the default pools, and a bridge
	// named like Docker's.
	resp, err := s.CreateNetwork(ctx, network.CreateRequest{Name: "auto", Labels: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	insp, err := s.InspectNetwork(ctx, "auto")
	if err != nil {
		t.Fatal(err)
	}
	cfg := insp.IPAM.Config
	if len(cfg) != 1 || !cfg[0].Subnet.IsValid() || cfg[0].Gateway != cfg[0].Subnet.Addr().Next() || insp.Driver != "bridge" ||
		insp.Labels["k"] != "v" || insp.ID != resp.ID || insp.Scope != "local" {
		t.Fatalf("inspect: %+v", insp)
	}
	brName := "br-" + resp.ID[:12]
	if _, err := netlink.LinkByName(brName); err != nil {
		t.Fatalf("bridge %s: %v", brName, err)
	}
	// By ID prefix too.
	if _, err := s.InspectNetwork(ctx, resp.ID[:5]); err != nil {
		t.Fatal(err)
	}
	// A subnet given without a gateway is shown as given.
	e.createNet(s, "given", "btlife1", "10.214.6.0/24", nil)
	insp, _ = s.InspectNetwork(ctx, "given")
	if c := insp.IPAM.Config; len(c) != 1 || c[0].Subnet.String() != "10.214.6.0/24" || c[0].Gateway.IsValid() {
		t.Fatalf("given IPAM shown as %+v", c)
	}

	ep := e.join(s, "life", "auto", nil)
	insp, _ = s.InspectNetwork(ctx, "auto")
	if got, ok := insp.Containers["life"]; !ok || got.Name != "life" || got.IPv4Address != netip.PrefixFrom(ep.IPAddress, ep.PrefixLen) ||
		got.EndpointID != ep.EndpointID || got.MacAddress.String() != ep.MacAddress {
		t.Fatalf("inspect containers: %+v", insp.Containers)
	}
	if err := s.RemoveNetwork(ctx, "auto"); !errdefs.IsPermissionDenied(err) || !strings.Contains(err.Error(), "has active endpoints") {
		t.Fatalf("remove with an endpoint: %v", err)
	}
	for _, builtin := range []string{"bridge", "host", "none"} {
		if err := s.RemoveNetwork(ctx, builtin); !errdefs.IsPermissionDenied(err) ||
			err.Error() != builtin+" is a pre-defined network and cannot be removed" {
			t.Fatalf("remove %s: %v", builtin, err)
		}
	}
	// Filters.
	list := func(f string) []string {
		args := map[string]map[string]bool{}
		if f != "" {
			k, v, _ := strings.Cut(f, "=")
			args[k] = map[string]bool{v: true}
		}
		nets, err := s.ListNetworks(ctx, args)
		if err != nil {
			t.Fatalf("list %s: %v", f, err)
		}
		var names []string
		for _, n := range nets {
			names = append(names, n.Name)
		}
		return names
	}
	for f, want := range map[string][]string{
		"":              {"auto", "bridge", "given", "host", "none"},
		"type=custom":   {"auto", "given"},
		"type=builtin":  {"bridge", "host", "none"},
		"driver=null":   {"none"},
		"label=k=v":     {"auto"},
		"dangling=true": {"given"},
		"name=giv":      {"given"},
		"id=" + resp.ID: {"auto"},
	} {
		if got := list(f); !slices.Equal(got, want) {
			t.Errorf("list %q: %v, want %v", f, got, want)
		}
	}
	if _, err := s.ListNetworks(ctx, map[string]map[string]bool{"nope": {"x": true}}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("unknown filter: %v", err)
	}

	if err := s.Disconnect(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveNetwork(ctx, "auto"); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(brName); err == nil {
		t.Fatal("bridge left after rm")
	}
	if tableExists("berth-" + brName) {
		t.Fatal("table left after rm")
	}
	if _, err := os.Stat(s.netRecordPath(resp.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("record left after rm")
	}
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "late", Network: "auto"}); !errdefs.IsNotFound(err) {
		t.Fatalf("connect to a removed network: %v", err)
	}
	// Prune takes the unused custom networks only.
	rep, err := s.PruneNetworks(ctx, nil)
	if err != nil || !slices.Equal(rep.NetworksDeleted, []string{"given"}) {
		t.Fatalf("prune: %+v, %v", rep, err)
	}
	if got := list(""); !slices.Equal(got, []string{"bridge", "host", "none"}) {
		t.Fatalf("after prune: %v", got)
	}
}

func TestCreateNetworkBadInput(t *testing.T) {
	e := newEnv(t, "btbad", "10.213.23.1/24")
	s := e.service()
	e.createNet(s, "taken", "btbad1", "10.214.7.0/24", nil)
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	for _, tc := range []struct {
		req   network.CreateRequest
		class func(error) bool
		msg   string
	}{
		{network.CreateRequest{Name: "taken"}, errdefs.IsConflict, "network with name taken already exists"},
		{network.CreateRequest{Name: "over", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: p("10.214.7.128/25")}}}},
			errdefs.IsPermissionDenied, "Pool overlaps with other one on this address space"},
		{network.CreateRequest{Name: "over2", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: p("10.213.23.0/24")}}}},
			errdefs.IsPermissionDenied, "Pool overlaps with other one on this address space"},
		{network.CreateRequest{Name: "gw", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: p("10.214.8.0/24"), Gateway: a("10.214.9.1")}}}},
			errdefs.IsInvalidArgument, "failed to allocate gateway (10.214.9.1): Requested address is out of range"},
		{network.CreateRequest{Name: "aux", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: p("10.214.8.0/24"), AuxAddress: map[string]netip.Addr{"x": a("10.214.9.3")}}}}},
			errdefs.IsPermissionDenied, "auxiliary address: (x:10.214.9.3) must belong to the master pool: 10.214.8.0/24"},
		{network.CreateRequest{Name: "range", IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: p("10.214.8.0/24"), IPRange: p("10.214.9.0/28")}}}},
			errdefs.IsInvalidArgument, "no matching subnet for range 10.214.9.0/28"},
		{network.CreateRequest{Name: "x", Driver: "nosuch"}, errdefs.IsNotFound, `plugin "nosuch" not found`},
		{network.CreateRequest{Name: "x", Driver: "host"}, errdefs.IsPermissionDenied, `only one instance of "host" network is allowed`},
		{network.CreateRequest{Name: "x", Driver: "null"}, errdefs.IsPermissionDenied, `only one instance of "null" network is allowed`},
		{network.CreateRequest{Name: "x", Driver: "macvlan", Options: map[string]string{"parent": "nosuchif0"}},
			errdefs.IsInvalidArgument, "invalid subinterface vlan name nosuchif0, example formatting is eth0.10"},
		{network.CreateRequest{Name: "x", Driver: "macvlan", Options: map[string]string{"parent": "nosuchif0.10"}},
			errdefs.IsInvalidArgument, "-o parent interface was not found on the host: nosuchif0"},
		{network.CreateRequest{Name: "x/y"}, errdefs.IsInvalidArgument, ""},
		{network.CreateRequest{Name: ""}, errdefs.IsInvalidArgument, ""},
	} {
		_, err := s.CreateNetwork(ctx, tc.req)
		if err == nil || !tc.class(err) || (tc.msg != "" && err.Error() != tc.msg) {
			t.Errorf("create %+v: %v (want %q)", tc.req, err, tc.msg)
		}
	}
	// Nothing half-built: only the one network, its bridge, its table.
	if nets := s.Networks(); len(nets) != 4 {
		t.Fatalf("networks after failures: %d", len(nets))
	}
	names, _ := readDirNames(s.networksDir())
	if len(names) != 1 {
		t.Fatalf("records after failures: %v", names)
	}

	// Static addresses: in the subnet, not taken, not the gateway; and
	// not on the default bridge.
	e.join(s, "st1", "taken", func(r *EndpointRequest) { r.IPv4Address = a("10.214.7.50") })
	for _, tc := range []struct {
		net, ip string
		class   func(error) bool
		msg     string
	}{
		{"taken", "10.214.7.50", errdefs.IsConflict, "Address already in use"},
		{"taken", "10.214.7.1", errdefs.IsConflict, "Address already in use"},
		{"taken", "10.60.0.2", errdefs.IsInvalidArgument, "Invalid address 10.60.0.2: It does not belong to any of this network's subnets"},
		{"bridge", "10.213.23.9", errdefs.IsInvalidArgument, "user specified IP address is supported on user defined networks only"},
	} {
		_, err := s.Connect(ctx, EndpointRequest{ContainerID: "st2", Network: tc.net, IPv4Address: a(tc.ip)})
		if err == nil || !tc.class(err) || err.Error() != tc.msg {
			t.Errorf("--ip %s on %s: %v", tc.ip, tc.net, err)
		}
		nothingLeft(t, s, "st2")
	}
	if _, err := s.Connect(ctx, EndpointRequest{ContainerID: "st3", Network: "bridge", Aliases: []string{"x"}}); err == nil ||
		err.Error() != "network-scoped alias is supported only for containers in user defined networks" {
		t.Errorf("alias on bridge: %v", err)
	}
}

func TestRangeAuxIPv6(t *testing.T) {
	e := newEnv(t, "btmulti", "10.213.24.1/24")
	s := e.service()
	p := netip.MustParsePrefix
	e.createNet(s, "multi", "btmulti1", "10.214.10.0/24", func(r *network.CreateRequest) {
		r.IPAM.Config = []network.IPAMConfig{
			{Subnet: p("10.214.10.0/24"), IPRange: p("10.214.10.128/25"), Gateway: netip.MustParseAddr("10.214.10.254"),
				AuxAddress: map[string]netip.Addr{"router": netip.MustParseAddr("10.214.10.128")}},
			{Subnet: p("fd00:214:12::/64")},
		}
		r.EnableIPv6 = new(bool)
		*r.EnableIPv6 = true
	})
	// A bridge takes one subnet of each family, as Docker's.
	_, err := s.CreateNetwork(ctx, network.CreateRequest{Name: "two", IPAM: &network.IPAM{Config: []network.IPAMConfig{
		{Subnet: p("10.214.15.0/24")}, {Subnet: p("10.214.16.0/24")}}}})
	if !errdefs.IsPermissionDenied(err) || err.Error() != "bridge driver doesn't support multiple subnets" {
		t.Fatalf("two IPv4 subnets on a bridge: %v", err)
	}
	br, _ := netlink.LinkByName("btmulti1")
	var got []string
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		addrs, _ := netlink.AddrList(br, fam)
		for _, a := range addrs {
			if a.IP.IsGlobalUnicast() {
				got = append(got, a.IPNet.String())
			}
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, []string{"10.214.10.254/24", "fd00:214:12::1/64"}) {
		t.Fatalf("bridge addresses %v", got)
	}
	// The range starts at .128, which the aux address holds.
	a := e.join(s, "m1", "multi", nil)
	if a.IPAddress.String() != "10.214.10.129" || a.Gateway.String() != "10.214.10.254" ||
		a.IPv6Address.String() != "fd00:214:12::2" || a.IPv6Gateway.String() != "fd00:214:12::1" || a.IPv6PrefixLen != 64 {
		t.Fatalf("endpoint %+v", a)
	}
	b := e.join(s, "m2", "multi", func(r *EndpointRequest) { r.IPv4Address = netip.MustParseAddr("10.214.10.7") })
	if b.Gateway.String() != "10.214.10.254" || b.PrefixLen != 24 {
		t.Fatalf("endpoint with a static address outside the range %+v", b)
	}
	// They reach each other, over IPv4 and IPv6.
	netnstest.Serve(t, a.NetNSPath, "tcp", ":80", "m1 ")
	mustAsk(t, b.NetNSPath, "tcp", "10.214.10.129:80", "m1 ")
	var ln net.Listener
	netnstest.Do(t, a.NetNSPath, func() (err error) { ln, err = net.Listen("tcp6", "[::]:81"); return err })
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("v6"))
			c.Close()
		}
	}()
	netnstest.Do(t, b.NetNSPath, func() error {
		c, err := net.DialTimeout("tcp6", "[fd00:214:12::2]:81", 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		buf := make([]byte, 2)
		if _, err := c.Read(buf); err != nil || string(buf) != "v6" {
			return fmt.Errorf("read %q: %v", buf, err)
		}
		return nil
	})
	// The embedded DNS server answers AAAA too.
	netnstest.Do(t, b.NetNSPath, func() error {
		c := &mdns.Client{Timeout: 2 * time.Second}
		resp, _, err := c.Exchange(new(mdns.Msg).SetQuestion("m1.", mdns.TypeAAAA), "127.0.0.11:53")
		if err != nil {
			return err
		}
		if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.AAAA).AAAA.String() != "fd00:214:12::2" {
			return fmt.Errorf("AAAA m1: %v", resp.Answer)
		}
		return nil
	})
}

func TestRestoreUserNetworks(t *testing.T) {
	e := newEnv(t, "btrun", "10.213.25.1/24")
	s1 := e.service()
	id := e.createNet(s1, "keep", "btrun1", "10.214.13.0/24", nil)
	live := e.join(s1, "live", "keep", func(r *EndpointRequest) { r.Primary = true })
	live2 := e.join(s1, "live", "bridge", nil)
	gone := e.join(s1, "gone", "keep", nil)
	partly := e.join(s1, "partly", "keep", nil) // keeps running, but only on the default bridge
	partly2 := e.join(s1, "partly", "bridge", nil)
	mustLookup(t, live.NetNSPath, "gone", gone.IPAddress.String())
	s1.Close()

	s2 := e.service()
	insp, err := s2.InspectNetwork(ctx, "keep")
	if err != nil || insp.ID != id {
		t.Fatalf("network after restart: %+v, %v", insp, err)
	}
	if err := s2.Restore(ctx, []*Endpoint{live, live2, partly2}); err != nil {
		t.Fatal(err)
	}
	s2.settle()
	// The live container's embedded DNS server answers again; the gone
	// one is gone from it and from the network.
	mustLookup(t, live.NetNSPath, "live", live.IPAddress.String())
	mustLookup(t, live.NetNSPath, "gone")
	nothingLeft(t, s2, "gone")
	insp, _ = s2.InspectNetwork(ctx, "keep")
	if len(insp.Containers) != 1 {
		t.Fatalf("containers after restore: %v", insp.Containers)
	}
	// The container that left a network while the daemon was down lost
	// that interface only.
	ifaces, _ := links(t, partly.NetNSPath)
	if _, ok := ifaces[partly.IfName]; ok {
		t.Fatalf("interface of a gone endpoint left: %v", ifaces)
	}
	if _, ok := ifaces[partly2.IfName]; !ok {
		t.Fatalf("interface of a live endpoint removed: %v", ifaces)
	}
	// Addresses: the live one kept, the gone ones free again.
	if ep := e.join(s2, "new", "keep", nil); ep.IPAddress == live.IPAddress {
		t.Fatalf("live address handed out again")
	}
	for _, ep := range []*Endpoint{live, live2, partly2} {
		if err := s2.Disconnect(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMacvlanOnVethParent(t *testing.T) {
	e := newEnv(t, "btmac", "10.213.26.1/24")
	s := e.service()
	// The parent is one end of a veth pair; the other end is in a
	// namespace that plays another host on the same link.
	dir := filepath.Join(t.TempDir(), "hosts")
	if err := netns.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.ReleaseDir(dir) })
	peerNS := filepath.Join(dir, "peer")
	if err := netns.Create(peerNS, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(peerNS) })
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "btmacp"}, PeerName: "btmacq"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netlink.LinkDel(veth) })
	q, _ := netlink.LinkByName("btmacq")
	f, _ := os.Open(peerNS)
	defer f.Close()
	if err := netlink.LinkSetNsFd(q, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	_ = netlink.LinkSetUp(veth)
	netnstest.Do(t, peerNS, func() error {
		l, err := netlink.LinkByName("btmacq")
		if err != nil {
			return err
		}
		addr, _ := netlink.ParseAddr("10.214.14.200/24")
		if err := netlink.AddrAdd(l, addr); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		lo, _ := netlink.LinkByName("lo")
		return netlink.LinkSetUp(lo)
	})

	e.createNet(s, "mv", "", "10.214.14.0/24", func(r *network.CreateRequest) {
		r.Driver = "macvlan"
		r.Options = map[string]string{"parent": "btmacp"}
	})
	if _, err := s.CreateNetwork(ctx, network.CreateRequest{Name: "mv2", Driver: "macvlan", Options: map[string]string{"parent": "btmacp"}}); err == nil {
		t.Fatal("a second macvlan network on the same parent")
	}
	a := e.join(s, "mva", "mv", func(r *EndpointRequest) { r.Primary = true })
	b := e.join(s, "mvb", "mv", func(r *EndpointRequest) { r.MacAddress = "02:42:aa:bb:cc:dd" })
	if a.Mode != "macvlan" || a.IPAddress.String() != "10.214.14.2" || a.Gateway.String() != "10.214.14.1" {
		t.Fatalf("macvlan endpoint %+v", a)
	}
	ifaces, _ := links(t, b.NetNSPath)
	if !slices.Equal(ifaces["eth0"], []string{"10.214.14.3/24"}) {
		t.Fatalf("macvlan interface %v", ifaces)
	}
	netnstest.Do(t, b.NetNSPath, func() error {
		l, _ := netlink.LinkByName("eth0")
		if l.Type() != "macvlan" || l.Attrs().HardwareAddr.String() != "02:42:aa:bb:cc:dd" {
			return fmt.Errorf("eth0 is %s with %s", l.Type(), l.Attrs().HardwareAddr)
		}
		return nil
	})
	// Containers reach each other, the other host reaches them.
	netnstest.Serve(t, a.NetNSPath, "tcp", ":80", "mva ")
	mustAsk(t, b.NetNSPath, "tcp", "10.214.14.2:80", "mva ")
	mustAsk(t, peerNS, "tcp", "10.214.14.2:80", "mva ")
	mustLookup(t, b.NetNSPath, "mva", "10.214.14.2")
	for _, ep := range []*Endpoint{a, b} {
		if err := s.Disconnect(ctx, ep); err != nil {
			t.Fatal(err)
		}
	}
	nothingLeft(t, s, "mva")
}
