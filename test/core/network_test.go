package core

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/vishvananda/netlink"
)

func TestNetworkNone(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		r := c.Run(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").OK(t)
		if got := e2e.IfaceNames(r.Stdout); len(got) != 1 || got[0] != "lo" {
			t.Fatalf("--network none: links %q, want only lo\n%s", got, r.Stdout)
		}
		r = c.Run(t, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "-4", "addr").OK(t)
		if !strings.Contains(r.Stdout, "127.0.0.1/8") || strings.Count(strings.TrimSpace(r.Stdout), "\n") != 0 {
			t.Fatalf("--network none: addresses\n%s", r.Stdout)
		}
		name := e.Name(t)
		c.Run(t, "create", "--name", name, "--net", "none", "busybox", "true").OK(t)
		if m := e.Inspect(t, name).HostConfig.NetworkMode; m != "none" {
			t.Fatalf("NetworkMode %q", m)
		}
	})
}

func TestNetworkHost(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	hostLinks, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	host := e2e.HostAddr(t)
	hostname, _ := os.Hostname()
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		r := c.Run(t, "run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").OK(t)
		got := e2e.IfaceNames(r.Stdout)
		// Links come and go as other tests run; the host's long-lived ones
		// (loopback, the default route's) must be there.
		for _, l := range hostLinks {
			if l.Flags&net.FlagLoopback != 0 || l.Name == e2e.DefaultRouteIface() {
				if !contains(got, l.Name) {
					t.Errorf("--network host: no %s among %q", l.Name, got)
				}
			}
		}
		c.Run(t, "run", "--rm", "--network", "host", "busybox", "ip", "-o", "-4", "addr").Assert(t, 0, host+"/")
		// The host's UTS namespace too, as Docker does.
		if r := c.Run(t, "run", "--rm", "--network", "host", "busybox", "hostname").OK(t); r.Out() != hostname {
			t.Errorf("hostname %q, want the host's %q", r.Out(), hostname)
		}
	})
}

// TestNetworkBridge: the default network gives an address on the bridge's
// subnet, and the gateway (the bridge) answers.
func TestNetworkBridge(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
		got := e.WaitRunning(t, name)
		ns := got.NetworkSettings
		if ns == nil || ns.Networks["bridge"] == nil {
			t.Fatalf("no bridge network in inspect: %+v", ns)
		}
		br := ns.Networks["bridge"]
		if !br.IPAddress.IsValid() || !br.Gateway.IsValid() || br.IPPrefixLen == 0 {
			t.Fatalf("bridge endpoint %+v", br)
		}
		pfx := netip.PrefixFrom(br.Gateway, br.IPPrefixLen).Masked()
		if !pfx.Contains(br.IPAddress) {
			t.Fatalf("address %v not in the gateway's subnet %v", br.IPAddress, pfx)
		}
		r := c.Run(t, "exec", name, "ip", "-o", "-4", "addr", "show", "eth0").OK(t)
		if !strings.Contains(r.Stdout, br.IPAddress.String()+"/") {
			t.Fatalf("eth0 in the container: %s, want %v", r.Stdout, br.IPAddress)
		}
		c.Run(t, "exec", name, "ping", "-c", "1", "-W", "5", br.Gateway.String()).Assert(t, 0, "1 packets received")
		if e.Bridge != "" {
			iface, err := net.InterfaceByName(e.Bridge)
			if err != nil {
				t.Fatalf("bridge %s: %v", e.Bridge, err)
			}
			addrs, _ := iface.Addrs()
			found := false
			for _, a := range addrs {
				found = found || strings.HasPrefix(a.String(), br.Gateway.String()+"/")
			}
			if !found {
				t.Errorf("gateway %v is not on bridge %s (%v)", br.Gateway, e.Bridge, addrs)
			}
		}
	})
}

// dockerPools are Docker's default address pools for local networks, in
// the order it tries them.
func dockerPools() []netip.Prefix {
	var out []netip.Prefix
	for b := 17; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return out
}

// hostPrefixes are the IPv4 networks of the host's addresses and routes,
// leaving out the link named skip.
func hostPrefixes(t *testing.T, skip string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name == skip {
			continue
		}
		addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.IPNet.String()); err == nil {
				out = append(out, p.Masked())
			}
		}
		routes, _ := netlink.RouteList(l, netlink.FAMILY_V4)
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			if p, err := netip.ParsePrefix(r.Dst.String()); err == nil && p.Bits() > 0 {
				out = append(out, p.Masked())
			}
		}
	}
	return out
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// bridgePrefix is the IPv4 address and prefix of a bridge.
func bridgePrefix(t *testing.T, name string) netip.Prefix {
	t.Helper()
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("bridge %s: %v", name, err)
	}
	addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4)
	if len(addrs) != 1 {
		t.Fatalf("bridge %s has addresses %v, want one", name, addrs)
	}
	p, err := netip.ParsePrefix(addrs[0].IPNet.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDefaultBridgeSubnet: a new default bridge takes 172.17.0.0/16, or,
// when another engine on the host has it, the first free subnet of
// Docker's default pools, and keeps it across a daemon restart.
// berth-only: the harness makes the reference dockerd's bridge itself.
func TestDefaultBridgeSubnet(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	docker0 := netip.MustParsePrefix("172.17.0.0/16")
	if !overlapsAny(docker0, hostPrefixes(t, "")) {
		// Stand in for another engine holding 172.17.0.0/16: an address
		// on a bridge that stays down, so it routes nothing.
		blk := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: fmt.Sprintf("e2eblk%04x", os.Getpid()&0xffff)}}
		if err := netlink.LinkAdd(blk); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netlink.LinkDel(blk) })
		addr, _ := netlink.ParseAddr("172.17.0.1/16")
		if err := netlink.AddrAdd(blk, addr); err != nil {
			t.Fatal(err)
		}
	}
	usedBefore := hostPrefixes(t, "")
	d := e2e.StartConfiguredBerth(t, "{}")
	got := bridgePrefix(t, d.Bridge)
	sub := got.Masked()
	if got.Addr() != sub.Addr().Next() {
		t.Errorf("bridge %s has %v: want the subnet's first address as gateway", d.Bridge, got)
	}
	pools := dockerPools()
	i := slices.Index(pools, sub)
	if i < 0 || sub == docker0 {
		t.Fatalf("bridge subnet %v: want one of Docker's default pools other than the taken %v", sub, docker0)
	}
	if overlapsAny(sub, hostPrefixes(t, d.Bridge)) {
		t.Errorf("bridge subnet %v overlaps a network the host already uses", sub)
	}
	// The first free one: every pool before it was taken (before the
	// daemon started, or by an engine that started meanwhile).
	usedAfter := hostPrefixes(t, d.Bridge)
	for _, p := range pools[:i] {
		if !overlapsAny(p, usedBefore) && !overlapsAny(p, usedAfter) {
			t.Errorf("bridge subnet %v, but %v comes first and is free", sub, p)
		}
	}

	// A restart keeps the subnet (containers may still hold addresses).
	if err := d.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if again := bridgePrefix(t, d.Bridge); again != got {
		t.Errorf("after a restart the bridge has %v, before %v", again, got)
	}
}
