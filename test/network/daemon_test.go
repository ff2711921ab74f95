package network

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// startDaemon starts a private berth daemon with daemon.json and extra
// flags and imports busybox into it; its containers and networks go at
// the end, before the daemon. It returns the daemon and the docker CLI
// pointed at it.
func startDaemon(t *testing.T, daemonJSON string, extra ...string) (*e2e.Daemon, e2e.CLI) {
	t.Helper()
	e := e2e.Current(t)
	e.BerthOnly(t)
	d := e2e.StartConfiguredBerth(t, daemonJSON, extra...)
	c := e.Docker().WithEnv("DOCKER_HOST=unix://" + d.Socket)
	t.Cleanup(func() {
		if d.Running() {
			for _, id := range c.Run(t, "ps", "-aq").Lines() {
				c.Run(t, "rm", "-f", id)
			}
			c.Run(t, "network", "prune", "-f")
		}
	})
	tar, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tar)}, "import", "-", "busybox").OK(t)
	return d, c
}

// TestDaemonNetworkOptions: --bip, --fixed-cidr, --icc=false and
// --default-address-pool as flags, the same as daemon.json keys.
func TestDaemonNetworkOptions(t *testing.T) {
	t.Parallel()
	bip, pool := freeSubnet(t), netip.PrefixFrom(freeSubnet(t).Addr(), 20)
	for _, form := range []string{"flags", "daemon.json"} {
		t.Run(form, func(t *testing.T) {
			fixed := netip.PrefixFrom(netip.MustParseAddr(host(bip, 128)), 25)
			var d *e2e.Daemon
			var c e2e.CLI
			if form == "flags" {
				d, c = startDaemon(t, "{}", "--bip", host(bip, 1)+"/24", "--fixed-cidr", fixed.String(), "--icc=false",
					"--default-address-pool", fmt.Sprintf("base=%s,size=24", pool))
			} else {
				d, c = startDaemon(t, fmt.Sprintf(`{"bip": %q, "fixed-cidr": %q, "icc": false, "default-address-pools": [{"base": %q, "size": 24}]}`,
					host(bip, 1)+"/24", fixed, pool))
			}
			c.Run(t, "network", "inspect", "bridge", "--format",
				`{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{index .Options "com.docker.network.bridge.enable_icc"}}`).
				Assert(t, 0, fmt.Sprintf("%s %s %s false", bip, host(bip, 1), fixed))
			br, err := netlink.LinkByName(d.Bridge)
			if err != nil {
				t.Fatal(err)
			}
			addrs, _ := netlink.AddrList(br, netlink.FAMILY_V4)
			if len(addrs) != 1 || addrs[0].IPNet.String() != host(bip, 1)+"/24" {
				t.Fatalf("bridge addresses %v", addrs)
			}
			// Addresses from the fixed range; no traffic between them.
			c.Run(t, "run", "-d", "--name", "ca", "busybox", "sh", "-c", "echo hi > /tmp/i; nc -ll -p 7000 -e cat /tmp/i").OK(t)
			c.Run(t, "run", "-d", "--name", "cb", "busybox", "sleep", "1d").OK(t)
			ip := c.Run(t, "inspect", "--format", "{{.NetworkSettings.Networks.bridge.IPAddress}}", "ca").OK(t).Out()
			if !fixed.Contains(netip.MustParseAddr(ip)) {
				t.Fatalf("address %s outside --fixed-cidr %s", ip, fixed)
			}
			if r := c.Run(t, "exec", "cb", "timeout", "3", "nc", ip, "7000"); r.Code == 0 {
				t.Fatalf("containers talk with icc off:\n%s", r)
			}
			c.Run(t, "exec", "cb", "ping", "-c1", "-W5", host(bip, 1)).Assert(t, 0, "1 packets received")
			// A network without --subnet takes one from the pool.
			c.Run(t, "network", "create", "pooled").OK(t)
			sub := c.Run(t, "network", "inspect", "pooled", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}").OK(t).Out()
			if p, err := netip.ParsePrefix(sub); err != nil || p.Bits() != 24 || !pool.Contains(p.Addr()) {
				t.Fatalf("pooled network got %q, want a /24 of %s", sub, pool)
			}
		})
	}
}

// TestDaemonWithoutIPTables: --iptables=false programs no nftables at
// all; containers still get their networks, and their published ports
// are served by the userland proxy.
func TestDaemonWithoutIPTables(t *testing.T) {
	t.Parallel()
	d, c := startDaemon(t, "{}", "--iptables=false")
	c.Run(t, "network", "create", "plain").OK(t)
	c.Run(t, "run", "-d", "--name", "ca", "--network", "plain", "busybox", "sleep", "1d").OK(t)
	c.Run(t, "run", "--rm", "--network", "plain", "busybox", "ping", "-c1", "-W5", "ca").Assert(t, 0, "1 packets received")
	c.Run(t, "run", "--rm", "busybox", "ip", "route").Assert(t, 0, "default via")
	// Published ports answer all the same, through the userland proxy,
	// as dockerd's do with its iptables off.
	port := e2e.FreePort(t)
	c.Run(t, "run", "-d", "--name", "web", "--network", "plain", "-p", fmt.Sprintf("%d:80", port),
		"busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
	for _, addr := range []string{"127.0.0.1", e2e.HostAddr(t)} {
		if r := e2e.HTTPGet(t, fmt.Sprintf("http://%s:%d/", addr, port), 20*time.Second); r.Body != e2e.IndexHTML {
			t.Fatalf("GET via %s: %d %q", addr, r.Status, r.Body)
		}
	}
	for _, br := range []string{d.Bridge, "br-" + c.Run(t, "network", "inspect", "--format", "{{.Id}}", "plain").OK(t).Out()[:12]} {
		if tableExists("berth-" + br) {
			t.Errorf("nftables table for %s with --iptables=false", br)
		}
	}
}

// TestDaemonRestart: after the daemon is killed and started again, its
// networks are back, running containers keep their addresses and find
// each other by name (the embedded DNS servers are started again), a
// container removed meanwhile is gone from them, and removing it all
// leaves nothing behind.
func TestDaemonRestart(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	c := e.Docker()
	sub := freeSubnet(t)
	c.Run(t, "network", "create", "--subnet", sub.String(), "keep").OK(t)
	br := bridgeOf(t, e, "keep")
	c.Run(t, "run", "-d", "--name", "one", "--network", "keep", "--network-alias", "first", "busybox", "sleep", "1d").OK(t)
	c.Run(t, "run", "-d", "--name", "two", "--network", "keep", "busybox", "sleep", "1d").OK(t)
	port := e2e.FreePort(t)
	c.Run(t, "run", "-d", "--name", "web", "--network", "keep", "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
	oneAddr := addrOn(t, e, "one", "keep")
	e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)

	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	e.Restart(t)
	c.Run(t, "network", "inspect", "keep", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}").Assert(t, 0, sub.String())
	if got := addrOn(t, e, "one", "keep"); got != oneAddr {
		t.Fatalf("address after restart %s, want %s", got, oneAddr)
	}
	if got := resolve(t, c, "two", "first"); len(got) != 1 || got[0] != oneAddr {
		t.Fatalf("alias after restart resolves to %v", got)
	}
	if r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second); r.Body != e2e.IndexHTML {
		t.Fatalf("published port after restart: %d %q", r.Status, r.Body)
	}
	if e2e.HostIPv6() { // :: is served by the userland proxy, which the restart brought back
		if r := e2e.HTTPGet(t, fmt.Sprintf("http://[::1]:%d/", port), 20*time.Second); r.Body != e2e.IndexHTML {
			t.Fatalf("published port on :: after restart: %d %q", r.Status, r.Body)
		}
	}
	// A new container is not given a live one's address.
	c.Run(t, "run", "-d", "--name", "three", "--network", "keep", "busybox", "sleep", "1d").OK(t)
	for _, other := range []string{"one", "two", "web"} {
		if addrOn(t, e, "three", "keep") == addrOn(t, e, other, "keep") {
			t.Fatalf("three got %s's address", other)
		}
	}
	c.Run(t, "rm", "-f", "one").OK(t)
	if got := resolve(t, c, "two", "one"); len(got) != 0 {
		t.Fatalf("a removed container still resolves: %v", got)
	}
	c.Run(t, "rm", "-f", "two", "three", "web").OK(t)
	c.Run(t, "network", "rm", "keep").OK(t)
	if linkExists(br) || tableExists("berth-"+br) {
		t.Fatalf("bridge or table of the removed network left")
	}
	names, _ := os.ReadDir(filepath.Join(e.ExecRoot, "netns"))
	if len(names) != 0 {
		t.Fatalf("namespaces left: %v", names)
	}
	if strings.Contains(c.Run(t, "network", "ls").OK(t).Stdout, "keep") {
		t.Fatal("network still listed")
	}
}
