package network

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/netns/netnstest"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// vethParent makes a veth pair: the host end (returned) is up with no
// address, a macvlan parent; the other end is in a namespace that plays
// another machine on that link, with address addr/24.
func vethParent(t *testing.T, addr string) (parent, peerNS string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "netns")
	if err := netns.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.ReleaseDir(dir) })
	peerNS = filepath.Join(dir, "peer")
	if err := netns.Create(peerNS, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.Delete(peerNS) })
	var b [3]byte
	rand.Read(b[:])
	parent = fmt.Sprintf("e2emv%x", b)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: parent}, PeerName: parent + "p"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(veth) })
	peer, _ := netlink.LinkByName(parent + "p")
	f, err := os.Open(peerNS)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := netlink.LinkSetNsFd(peer, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	netnstest.Do(t, peerNS, func() error {
		p, err := netlink.LinkByName(parent + "p")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(addr + "/24")
		if err := netlink.AddrAdd(p, a); err != nil {
			return err
		}
		return netlink.LinkSetUp(p)
	})
	return parent, peerNS
}

// TestMacvlan: a macvlan network in bridge mode on a veth parent: its
// containers reach each other and another machine on the parent's link,
// which reaches them; they resolve each other's names.
func TestMacvlan(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		sub := freeSubnet(t)
		parent, peer := vethParent(t, host(sub, 200))
		n := netName(t, e)
		c.Run(t, "network", "create", "-d", "macvlan", "--subnet", sub.String(), "-o", "parent="+parent, n).OK(t)
		c.Run(t, "network", "inspect", n, "--format", `{{.Driver}} {{index .Options "parent"}}`).Assert(t, 0, "macvlan "+parent)
		web, cli := e.Name(t, "web"), e.Name(t, "cli")
		c.Run(t, "run", "-d", "--name", web, "--network", n, "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
		c.Run(t, "run", "-d", "--name", cli, "--network", n, "busybox", "sleep", "1d").OK(t)
		webAddr := addrOn(t, e, web, n)
		if !sub.Contains(e.Inspect(t, web).NetworkSettings.Networks[n].IPAddress) {
			t.Fatalf("address %s not in %s", webAddr, sub)
		}
		// eth0 sits on the parent: its link is the parent's index.
		pl, err := netlink.LinkByName(parent)
		if err != nil {
			t.Fatal(err)
		}
		c.Run(t, "exec", cli, "cat", "/sys/class/net/eth0/iflink").Assert(t, 0, fmt.Sprintf("%d\n", pl.Attrs().Index))
		c.Run(t, append([]string{"exec", cli}, fetch("http://"+webAddr+"/")...)...).Assert(t, 0, strings.TrimSpace(e2e.IndexHTML))
		c.Run(t, "exec", cli, "ping", "-c1", "-W5", host(sub, 200)).Assert(t, 0, "1 packets received")
		if got := resolve(t, c, cli, web); len(got) != 1 || got[0] != webAddr {
			t.Fatalf("%s resolves to %v", web, got)
		}
		// The other machine on the link reaches the container.
		if status, body, err := getFrom(peer, "http://"+webAddr+"/", 10*time.Second); err != nil || status != 200 || body != e2e.IndexHTML {
			t.Fatalf("from the other machine: %d %q %v", status, body, err)
		}
		// A parent that does not exist is refused.
		bad := netName(t, e, "bad")
		c.Run(t, "network", "create", "-d", "macvlan", "-o", "parent=nosuch0", bad).
			Assert(t, 1, "invalid subinterface vlan name nosuch0, example formatting is eth0.10")
		// Docker 20.10 words it "-o parent interface does was not found".
		c.Run(t, "network", "create", "-d", "macvlan", "-o", "parent=nosuch0.10", bad).
			Assert(t, 1, "was not found on the host: nosuch0")
		c.Run(t, "network", "inspect", bad).Assert(t, 1, "not found")
	})
}
