package network

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestCreateIPAMOptions: --subnet, --ip-range, --gateway, --aux-address
// decide the containers' addresses; inspect shows the configuration.
func TestCreateIPAMOptions(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		n := netName(t, e)
		sub := freeSubnet(t)
		rng := netip.PrefixFrom(netip.MustParseAddr(host(sub, 128)), 25)
		c.Run(t, "network", "create", "--subnet", sub.String(), "--ip-range", rng.String(), "--gateway", host(sub, 254),
			"--aux-address", "router="+host(sub, 128), n).OK(t)
		r := c.Run(t, "network", "inspect", n, "--format", "{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.Gateway}} {{.AuxiliaryAddresses}}{{end}}").OK(t)
		if want := fmt.Sprintf("%s %s %s map[router:%s]", sub, rng, host(sub, 254), host(sub, 128)); r.Out() != want {
			t.Fatalf("IPAM config %q, want %q", r.Out(), want)
		}
		// The range starts at .128, which the aux address holds.
		ctr := e.Name(t)
		c.Run(t, "run", "-d", "--name", ctr, "--network", n, "busybox", "sleep", "1d").OK(t)
		es := e.Inspect(t, ctr).NetworkSettings.Networks[n]
		if es == nil || es.IPAddress.String() != host(sub, 129) || es.Gateway.String() != host(sub, 254) || es.IPPrefixLen != 24 {
			t.Fatalf("endpoint %+v", es)
		}
		c.Run(t, "exec", ctr, "ip", "route").Assert(t, 0, "default via "+host(sub, 254))
		c.Run(t, "exec", ctr, "ping", "-c1", "-W5", host(sub, 254)).Assert(t, 0, "1 packets received")
		// --ip outside the range but in the subnet is allowed.
		c.Run(t, "run", "--rm", "--network", n, "--ip", host(sub, 7), "busybox", "ip", "-o", "-4", "addr", "show", "eth0").
			Assert(t, 0, host(sub, 7)+"/24")
	})
}

// TestCreateMultipleSubnets: a bridge network takes one subnet of each
// family (see TestCreateIPv6), as Docker's: two IPv4 subnets are refused.
func TestCreateMultipleSubnets(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	n := netName(t, e)
	c.Run(t, "network", "create", "--subnet", freeSubnet(t).String(), "--subnet", freeSubnet(t).String(), n).
		Assert(t, 1, "bridge driver doesn't support multiple subnets")
	c.Run(t, "network", "inspect", n).Assert(t, 1, "not found")
}

// TestCreateIPv6: --ipv6 with an IPv6 subnet gives containers IPv6
// addresses they reach each other and their names on.
func TestCreateIPv6(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	n := netName(t, e)
	v4 := freeSubnet(t)
	v6 := fmt.Sprintf("fd00:%x:%x::/64", v4.Addr().As4()[1], v4.Addr().As4()[2])
	c.Run(t, "network", "create", "--ipv6", "--subnet", v4.String(), "--subnet", v6, n).OK(t)
	c.Run(t, "network", "inspect", n, "--format", "{{.EnableIPv6}}").Assert(t, 0, "true")
	a, b := e.Name(t, "a"), e.Name(t, "b")
	c.Run(t, "run", "-d", "--name", a, "--network", n, "busybox", "sleep", "1d").OK(t)
	c.Run(t, "run", "-d", "--name", b, "--network", n, "busybox", "sleep", "1d").OK(t)
	es := e.Inspect(t, a).NetworkSettings.Networks[n]
	prefix := netip.MustParsePrefix(v6)
	if es == nil || !prefix.Contains(es.GlobalIPv6Address) || es.GlobalIPv6PrefixLen != 64 || !prefix.Contains(es.IPv6Gateway) {
		t.Fatalf("IPv6 endpoint %+v", es)
	}
	c.Run(t, "exec", a, "ip", "-o", "-6", "addr", "show", "eth0").Assert(t, 0, es.GlobalIPv6Address.String()+"/64")
	c.Run(t, "exec", b, "ping", "-6", "-c1", "-W5", es.GlobalIPv6Address.String()).Assert(t, 0, "1 packets received")
	// A network asking for IPv6 without a subnet has none to take.
	bad := netName(t, e, "nosubnet")
	c.Run(t, "network", "create", "--ipv6", bad).Assert(t, 1, "could not find an available, non-overlapping IPv6 address pool")
}

// TestCreateFlagsAndOptions: --internal, --attachable, --label and the
// bridge driver's -o options, as inspect and the host show them.
func TestCreateFlagsAndOptions(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		n := netName(t, e)
		uniq := freeSubnet(t).Addr().As4()
		brName := fmt.Sprintf("e2ebr%x", uniq[1:3])
		c.Run(t, "network", "create", "--internal", "--attachable", "--label", "tier=back", "--label", "team",
			"-o", "com.docker.network.bridge.name="+brName,
			"-o", "com.docker.network.bridge.enable_icc=false",
			"-o", "com.docker.network.bridge.enable_ip_masquerade=false",
			"-o", "com.docker.network.driver.mtu=1400",
			"-o", "com.docker.network.bridge.host_binding_ipv4=127.0.0.1",
			n).OK(t)
		r := c.Run(t, "network", "inspect", n, "--format",
			`{{.Internal}} {{.Attachable}} {{index .Labels "tier"}} {{index .Options "com.docker.network.bridge.name"}} {{index .Options "com.docker.network.driver.mtu"}}`).OK(t)
		if want := "true true back " + brName + " 1400"; r.Out() != want {
			t.Fatalf("inspect %q, want %q", r.Out(), want)
		}
		if !linkExists(brName) {
			t.Fatalf("no bridge %s on the host", brName)
		}
		c.Run(t, "network", "ls", "--filter", "label=tier=back", "--format", "{{.Name}}").Assert(t, 0, n)
		ctr := e.Name(t)
		c.Run(t, "run", "-d", "--name", ctr, "--network", n, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "exec", ctr, "cat", "/sys/class/net/eth0/mtu").Assert(t, 0, "1400")
		c.Run(t, "network", "rm", n).Assert(t, 1, "has active endpoints")
	})
}

// TestHostBindingOption: host_binding_ipv4 is where ports without a host
// address are published.
func TestHostBindingOption(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	n := netName(t, e)
	c.Run(t, "network", "create", "-o", "com.docker.network.bridge.host_binding_ipv4=127.0.0.1", n).OK(t)
	ctr := e.Name(t)
	port := e2e.FreePort(t)
	c.Run(t, "run", "-d", "--name", ctr, "--network", n, "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
	c.Run(t, "port", ctr, "80").Assert(t, 0, fmt.Sprintf("127.0.0.1:%d", port))
	if r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second); r.Body != e2e.IndexHTML {
		t.Fatalf("GET: %d %q", r.Status, r.Body)
	}
}

// TestListInspectRemoveFilters: ls filters, inspect of several networks,
// rm of several, prune with until and label filters.
func TestListInspectRemoveFilters(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		a, b := netName(t, e, "a"), netName(t, e, "b")
		c.Run(t, "network", "create", "--label", "pick="+a, a).OK(t)
		id := c.Run(t, "network", "create", b).OK(t).Out()
		c.Run(t, "network", "ls", "--filter", "name="+a, "--format", "{{.Name}} {{.Driver}} {{.Scope}}").Assert(t, 0, a+" bridge local")
		c.Run(t, "network", "ls", "--filter", "id="+id[:12], "-q").Assert(t, 0, id[:12])
		r := c.Run(t, "network", "ls", "--filter", "type=custom", "--format", "{{.Name}}").OK(t)
		if !slices.Contains(r.Lines(), a) || slices.Contains(r.Lines(), "bridge") {
			t.Fatalf("type=custom:\n%s", r.Stdout)
		}
		r = c.Run(t, "network", "ls", "--filter", "type=builtin", "--format", "{{.Name}}").OK(t)
		if got := r.Lines(); !slices.Equal(got, []string{"bridge", "host", "none"}) {
			t.Fatalf("type=builtin: %v", got)
		}
		c.Run(t, "network", "ls", "--filter", "driver=null", "--format", "{{.Name}}").Assert(t, 0, "none")
		// Docker 20.10 capitalises the message, 28 does not.
		c.Run(t, "network", "ls", "--filter", "bogus=1").AssertAny(t, 1, "invalid filter 'bogus'", "Invalid filter 'bogus'")
		r = c.Run(t, "network", "inspect", "--format", "{{.Name}}", a, b).OK(t)
		if got := r.Lines(); !slices.Equal(got, []string{a, b}) {
			t.Fatalf("inspect two: %v", got)
		}
		c.Run(t, "network", "inspect", a, "nosuch-"+a).Assert(t, 1, "network nosuch-"+a+" not found")
		// Prune: label narrows it; until in the past spares what is newer.
		c.Run(t, "network", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z", "--filter", "label=pick="+a).OK(t)
		c.Run(t, "network", "inspect", a).OK(t)
		c.Run(t, "network", "prune", "-f", "--filter", "label=pick="+a).Assert(t, 0, a)
		c.Run(t, "network", "inspect", a).Assert(t, 1, "not found")
		c.Run(t, "network", "rm", b, "nosuch-"+b).Assert(t, 1, b, "network nosuch-"+b+" not found")
		c.Run(t, "network", "inspect", b).Assert(t, 1, "not found")
	})
}

// TestAPINetworkShapes: the SDK reads what the engine returns: list and
// inspect of a default network, connect and disconnect through the API.
func TestAPINetworkShapes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	cl := e.Client(t)
	ctx := context.Background()
	res, err := cl.NetworkInspect(ctx, "bridge", client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Network.Name != "bridge" || res.Network.Driver != "bridge" || len(res.Network.IPAM.Config) == 0 ||
		res.Network.Options["com.docker.network.bridge.default_bridge"] != "true" {
		t.Fatalf("bridge network %+v", res.Network)
	}
	n := netName(t, e)
	cr, err := cl.NetworkCreate(ctx, n, client.NetworkCreateOptions{Labels: map[string]string{"k": "v"}})
	if err != nil || len(cr.ID) != 64 {
		t.Fatalf("create: %+v %v", cr, err)
	}
	ctr := e.Name(t)
	e.Docker().Run(t, "run", "-d", "--name", ctr, "busybox", "sleep", "1d").OK(t)
	if _, err := cl.NetworkConnect(ctx, n, client.NetworkConnectOptions{Container: ctr}); err != nil {
		t.Fatal(err)
	}
	res, err = cl.NetworkInspect(ctx, n, client.NetworkInspectOptions{})
	if err != nil || len(res.Network.Containers) != 1 || res.Network.Labels["k"] != "v" {
		t.Fatalf("inspect after connect: %+v %v", res.Network, err)
	}
	if _, err := cl.NetworkDisconnect(ctx, n, client.NetworkDisconnectOptions{Container: ctr}); err != nil {
		t.Fatal(err)
	}
	list, err := cl.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range list.Items {
		found = found || s.ID == cr.ID
	}
	if !found {
		t.Fatal("created network not listed")
	}
	if _, err := cl.NetworkRemove(ctx, cr.ID, client.NetworkRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestNetworkEvents: create, connect, disconnect and destroy are network
// events, as Docker sends them.
func TestNetworkEvents(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	since := time.Now().Add(-time.Second)
	n := netName(t, e)
	id := c.Run(t, "network", "create", n).OK(t).Out()
	ctr := e.Name(t)
	c.Run(t, "run", "-d", "--name", ctr, "--network", n, "busybox", "sleep", "1d").OK(t)
	c.Run(t, "network", "disconnect", n, ctr).OK(t)
	c.Run(t, "network", "rm", n).OK(t)
	until := time.Now().Add(time.Second)
	r := c.Run(t, "events", "--since", e2e.UnixArg(since), "--until", e2e.UnixArg(until), "--filter", "type=network",
		"--filter", "network="+id, "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.type}}").OK(t)
	want := []string{"create " + n + " bridge", "connect " + n + " bridge", "disconnect " + n + " bridge", "destroy " + n + " bridge"}
	// Docker 20.10 sends the disconnect twice.
	if got := slices.Compact(r.Lines()); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
}
