package network

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// ownTables are the bridges whose nftables tables are marked as the
// daemon's.
func ownTables(t *testing.T, d *e2e.Daemon) []string {
	t.Helper()
	tables, err := nat.Tables()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tab := range tables {
		if strings.HasPrefix(tab.Owner.Root, d.DataRoot+"/") {
			out = append(out, tab.Bridge)
		}
	}
	return out
}

// TestKilledDaemonTablesGo: a daemon SIGKILLed with a network, a running
// container and a published port, whose bridges someone else then
// deletes, leaves its tables; they still masquerade its subnet. The next
// daemon to start removes them (their daemon is dead and their bridges
// are gone), so a network of that daemon on the same subnet without
// masquerade shows the outside its containers' own addresses.
func TestKilledDaemonTablesGo(t *testing.T) {
	t.Parallel()
	e2e.Current(t).BerthOnly(t)
	h := newOtherHost(t)
	outside := serveOnOtherHost(t, h)
	sub := freeSubnet(t)

	dead, c := startDaemon(t, "{}")
	c.Run(t, "network", "create", "--subnet", sub.String(), "old").OK(t)
	c.Run(t, "run", "-d", "--network", "old", "-p", fmt.Sprintf("%d:80", e2e.FreePort(t)), "busybox", "sleep", "1d").OK(t)
	bridges := ownTables(t, dead)
	if len(bridges) != 2 {
		t.Fatalf("tables of the daemon: %v, want its default bridge's and old's", bridges)
	}
	if err := dead.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The killed daemon's container is a leftover its teardown names.
		if err := dead.Cleanup(); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	for _, br := range bridges {
		if l, err := netlink.LinkByName(br); err == nil {
			netlink.LinkDel(l)
		}
	}

	_, c2 := startDaemon(t, "{}")
	if left := ownTables(t, dead); len(left) != 0 {
		t.Fatalf("the killed daemon's tables are still there: %v", left)
	}
	c2.Run(t, "network", "create", "--subnet", sub.String(), "-o", "com.docker.network.bridge.enable_ip_masquerade=false", "new").OK(t)
	c2.Run(t, "run", "-d", "--name", "ctr", "--network", "new", "busybox", "sleep", "1d").OK(t)
	ip := c2.Run(t, "inspect", "--format", "{{.NetworkSettings.Networks.new.IPAddress}}", "ctr").OK(t).Out()
	if got := ask(t, c2, "ctr", outside); got != "other "+ip {
		t.Fatalf("the outside saw %q, want other %s (unmasqueraded)", got, ip)
	}
}

// TestTeardownRemovesKilledDaemonNetworks: the harness's teardown of a
// killed daemon removes the tables and bridges it kept for a restart
// that will not come: its default bridge's and its networks'.
func TestTeardownRemovesKilledDaemonNetworks(t *testing.T) {
	t.Parallel()
	e2e.Current(t).BerthOnly(t)
	d, c := startDaemon(t, "{}")
	c.Run(t, "network", "create", "--subnet", freeSubnet(t).String(), "kept").OK(t)
	c.Run(t, "run", "-d", "--network", "kept", "-p", fmt.Sprintf("%d:80", e2e.FreePort(t)), "busybox", "sleep", "1d").OK(t)
	bridges := ownTables(t, d)
	if len(bridges) != 2 {
		t.Fatalf("tables of the daemon: %v", bridges)
	}
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := d.Cleanup(); err != nil {
		t.Logf("cleanup: %v", err) // the killed daemon's shim and container are leftovers it names
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := ownTables(t, d)
		for _, br := range bridges {
			if linkExists(br) {
				left = append(left, "bridge "+br)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("left after teardown: %v", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
