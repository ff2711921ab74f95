package network

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// warmUp runs a container once, so that what an engine starts once and
// keeps (berth's spare shim) is in the "before" snapshots.
func warmUp(t *testing.T, e *e2e.Engine) {
	t.Helper()
	e.Docker().Run(t, "run", "--rm", "busybox", "true").OK(t)
}

// TestBadInputChangesNothing: each bad request gets Docker's error and
// leaves no bridge, table, namespace, veth, mount or file behind.
// Not parallel: it compares the engine's resources before and after.
func TestBadInputChangesNothing(t *testing.T) {
	e := e2e.Current(t)
	c := e.Docker()
	warmUp(t, e)
	taken := netName(t, e, "taken")
	sub := freeSubnet(t)
	c.Run(t, "network", "create", "--subnet", sub.String(), taken).OK(t)
	ctr := e.Name(t)
	c.Run(t, "run", "-d", "--name", ctr, "--network", taken, "--ip", host(sub, 9), "busybox", "sleep", "1d").OK(t)
	before, snap := takeNetState(t, e), e.TakeSnapshot(t)
	bridgesBefore := len(engineBridges(t, e))

	n := netName(t, e, "bad")
	other := freeSubnet(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"network", "create", taken}, "network with name " + taken + " already exists"},
		{[]string{"network", "create", "--subnet", netip.PrefixFrom(sub.Addr(), 25).String(), n}, "Pool overlaps with other one on this address space"},
		{[]string{"network", "create", "-d", "nosuch", n}, `plugin "nosuch" not found`},
		{[]string{"network", "rm", taken}, "has active endpoints"},
		{[]string{"network", "connect", "nosuch-" + n, ctr}, "network nosuch-" + n + " not found"},
		{[]string{"network", "disconnect", "bridge", ctr}, "is not connected to network bridge"},
		{[]string{"run", "--rm", "--network", taken, "--ip", host(sub, 9), "busybox", "true"}, "Address already in use"},
		{[]string{"run", "--rm", "--network", "nosuch-" + n, "busybox", "true"}, "network nosuch-" + n + " not found"},
		{[]string{"run", "--rm", "--network", "container:nosuch-" + n, "busybox", "true"}, "No such container: nosuch-" + n},
	} {
		r := c.Run(t, tc.args...)
		if r.Code == 0 || !strings.Contains(r.Combined(), tc.want) {
			t.Errorf("want failure with %q:\n%s", tc.want, r)
		}
	}
	// A gateway outside the subnet, through the API (the CLI checks it
	// itself): Docker's message.
	_, err := e.Client(t).NetworkCreate(context.Background(), n, client.NetworkCreateOptions{
		IPAM: &network.IPAM{Config: []network.IPAMConfig{{Subnet: other, Gateway: netip.MustParseAddr(host(sub, 1))}}}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("failed to allocate gateway (%s): Requested address is out of range", host(sub, 1))) {
		t.Errorf("gateway outside the subnet: %v", err)
	}
	// Containers created by the failed runs (Docker keeps them) go; then
	// everything is as before.
	for _, id := range e.Docker().Run(t, "ps", "-aq", "--filter", "status=created").Lines() {
		c.Run(t, "rm", id).OK(t)
	}
	if got := len(engineBridges(t, e)); got != bridgesBefore {
		t.Errorf("%d bridge networks, before %d", got, bridgesBefore)
	}
	assertNetStateLike(t, e, before, 10*time.Second)
	e.AssertNoLeaks(t, snap, 10*time.Second)
}

// TestNoLeaks: a full round (networks, containers on several of them,
// published ports, connect and disconnect, a container joining another's
// namespace, all removed again) leaves the host as it was: interfaces,
// namespaces, nftables tables and rules, mounts, files, processes.
// Not parallel.
func TestNoLeaks(t *testing.T) {
	e := e2e.Current(t)
	c := e.Docker()
	warmUp(t, e)
	before, snap := takeNetState(t, e), e.TakeSnapshot(t)

	a, b := netName(t, e, "a"), netName(t, e, "b")
	c.Run(t, "network", "create", a).OK(t)
	c.Run(t, "network", "create", "--internal", b).OK(t)
	removed := []string{bridgeOf(t, e, a), bridgeOf(t, e, b)}
	for _, br := range removed {
		if !strings.HasPrefix(br, "br-") || len(br) != 15 || !linkExists(br) {
			t.Fatalf("network bridge %q: want an existing br-<12 hex>", br)
		}
	}
	web, cli, joined := e.Name(t, "web"), e.Name(t, "cli"), e.Name(t, "joined")
	port := e2e.FreePort(t)
	c.Run(t, "run", "-d", "--name", web, "--network", a, "-p", fmt.Sprintf("%d:80", port), "-p", "53/udp",
		"busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
	c.Run(t, "run", "-d", "--name", cli, "-p", "81", "busybox", "sleep", "1d").OK(t)
	c.Run(t, "network", "connect", a, cli).OK(t)
	c.Run(t, "network", "connect", b, cli).OK(t)
	c.Run(t, "run", "-d", "--name", joined, "--network", "container:"+cli, "busybox", "sleep", "1d").OK(t)
	e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)
	c.Run(t, "network", "disconnect", b, cli).OK(t)
	ids := []string{e.Inspect(t, web).ID, e.Inspect(t, cli).ID, e.Inspect(t, joined).ID}

	c.Run(t, "rm", "-f", joined, web, cli).OK(t)
	c.Run(t, "network", "rm", a, b).OK(t)
	for _, br := range removed {
		if linkExists(br) {
			t.Errorf("bridge %s left after network rm", br)
		}
	}
	assertNetStateLike(t, e, before, 10*time.Second, removed...)
	e.AssertNoLeaks(t, snap, 10*time.Second, ids...)
}
