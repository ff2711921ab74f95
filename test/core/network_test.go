package core

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
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
