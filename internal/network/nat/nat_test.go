package nat

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/network/bridge"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/network/netns/netnstest"
)

// These tests run in namespaces of their own: nothing they do (a DROP
// FORWARD policy included) reaches the host's firewall.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// newNS makes a named network namespace for the test, with lo up.
func newNS(t *testing.T, dir, name string) (path string, fd int) {
	t.Helper()
	path = filepath.Join(dir, name)
	if err := netns.Create(path, bridge.LoopbackUp); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unix.Close(fd)
		_ = netns.Delete(path)
	})
	return path, fd
}

func nsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "netns")
	if err := netns.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.ReleaseDir(dir) })
	return dir
}

func sortMappings(ms []Mapping) {
	slices.SortFunc(ms, func(a, b Mapping) int { return strings.Compare(a.key(), b.key()) })
}

func TestMappings(t *testing.T) {
	needRoot(t)
	dir := nsDir(t)
	_, fd := newNS(t, dir, "h")
	tab, err := Setup("brmap", netip.MustParsePrefix("10.213.50.0/24"), WithNetNS(fd))
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()

	ms := []Mapping{
		{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, Addr: netip.MustParseAddr("10.213.50.2"), Port: 80, Owner: "c1"},
		{Proto: "udp", HostIP: netip.IPv4Unspecified(), HostPort: 5353, Addr: netip.MustParseAddr("10.213.50.2"), Port: 53, Owner: "c1"},
		{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 9090, Addr: netip.MustParseAddr("10.213.50.3"), Port: 90, Owner: "c2"},
	}
	if err := tab.Add(ms); err != nil {
		t.Fatal(err)
	}
	if err := tab.Add(ms); err != nil {
		t.Fatalf("adding again: %v", err)
	}
	got, err := tab.Mappings()
	if err != nil {
		t.Fatal(err)
	}
	sortMappings(got)
	want := slices.Clone(ms)
	sortMappings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("mappings:\n got %+v\nwant %+v", got, want)
	}

	// Setting the table up again (a daemon restart) keeps the elements.
	tab2, err := Setup("brmap", netip.MustParsePrefix("10.213.50.0/24"), WithNetNS(fd))
	if err != nil {
		t.Fatal(err)
	}
	defer tab2.Close()
	if got, _ := tab2.Mappings(); len(got) != 3 {
		t.Fatalf("after re-setup: %+v", got)
	}

	// Remove one, then remove it and another: the second call must not fail
	// for the one already gone.
	if err := tab.Remove(ms[:1]); err != nil {
		t.Fatal(err)
	}
	if err := tab.Remove(ms[:2]); err != nil {
		t.Fatalf("remove with one already gone: %v", err)
	}
	got, _ = tab.Mappings()
	if len(got) != 1 || got[0].HostPort != 9090 {
		t.Fatalf("left: %+v", got)
	}
	if err := tab.Destroy(); err != nil {
		t.Fatal(err)
	}
	if err := tab.Destroy(); err != nil {
		t.Fatalf("second destroy: %v", err)
	}
}

// iptablesIn runs iptables-nft inside a namespace (the fork inherits the
// locked thread's namespace). Skips when iptables-nft is not installed.
func iptablesIn(t *testing.T, path string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("iptables-nft")
	if err != nil {
		t.Skip("iptables-nft not installed")
	}
	var out []byte
	netnstest.Do(t, path, func() error {
		var err error
		out, err = exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %v: %v: %s", args, err, out)
		}
		return nil
	})
	return string(out)
}

// dockerFirewall sets up what dockerd 20.10 puts in the filter table.
func dockerFirewall(t *testing.T, path string, userChain bool) {
	iptablesIn(t, path, "-P", "FORWARD", "DROP")
	if userChain {
		iptablesIn(t, path, "-N", "DOCKER-USER")
		iptablesIn(t, path, "-A", "DOCKER-USER", "-j", "RETURN")
		iptablesIn(t, path, "-I", "FORWARD", "-j", "DOCKER-USER")
	}
}

func TestForwardAcceptRules(t *testing.T) {
	needRoot(t)
	dir := nsDir(t)
	for _, userChain := range []bool{true, false} {
		path, fd := newNS(t, dir, fmt.Sprintf("fw%v", userChain))
		tab, err := Setup("brfw", netip.MustParsePrefix("10.213.51.0/24"), WithNetNS(fd))
		if err != nil {
			t.Fatal(err)
		}
		// No iptables table yet: nothing to do.
		if ch, err := tab.EnsureForwardAccept(); err != nil || ch != "" {
			t.Fatalf("without a filter table: %q, %v", ch, err)
		}
		dockerFirewall(t, path, userChain)
		wantChain := "FORWARD"
		if userChain {
			wantChain = "DOCKER-USER"
		}
		for range 2 { // the second call must not add duplicates
			ch, err := tab.EnsureForwardAccept()
			if err != nil || ch != wantChain {
				t.Fatalf("EnsureForwardAccept = %q, %v; want %s", ch, err, wantChain)
			}
		}
		// iptables still parses the chain and sees our rules first.
		out := iptablesIn(t, path, "-S", wantChain)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		wantLines := []string{
			`-A ` + wantChain + ` -i brfw -m comment --comment "berth brfw" -j ACCEPT`,
			`-A ` + wantChain + ` -o brfw -m comment --comment "berth brfw" -j ACCEPT`,
		}
		if len(lines) < 3 || lines[1] != wantLines[0] || lines[2] != wantLines[1] {
			t.Fatalf("iptables -S %s:\n%s", wantChain, out)
		}
		if strings.Contains(out, "incompatible") || strings.Contains(out, "unsupported") {
			t.Fatalf("iptables cannot parse the chain:\n%s", out)
		}
		// dockerd's own edits keep working on the chain.
		iptablesIn(t, path, "-C", wantChain, "-i", "brfw", "-m", "comment", "--comment", "berth brfw", "-j", "ACCEPT")

		if err := tab.RemoveForwardAccept(); err != nil {
			t.Fatal(err)
		}
		if err := tab.RemoveForwardAccept(); err != nil {
			t.Fatal(err)
		}
		if out := iptablesIn(t, path, "-S", wantChain); strings.Contains(out, "berth") {
			t.Fatalf("rules left:\n%s", out)
		}
		tab.Close()
	}
}

func TestWatchFilter(t *testing.T) {
	needRoot(t)
	dir := nsDir(t)
	path, fd := newNS(t, dir, "w")
	stop := make(chan struct{})
	kicked := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() {
		done <- WatchFilter(stop, func() { kicked <- struct{}{} }, WithNetNS(fd))
	}()
	// Wait for the monitor to be subscribed: it is, once a change to an
	// unrelated table is seen not to kick and a filter change does.
	deadline := time.After(5 * time.Second)
	for i := 0; ; i++ {
		conn, err := nftables.New(nftables.WithNetNSFd(fd))
		if err != nil {
			t.Fatal(err)
		}
		conn.AddChain(&nftables.Chain{Table: conn.AddTable(iptablesFilter), Name: fmt.Sprintf("C%d", i)})
		if err := conn.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-kicked:
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			_ = path
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no event for a new chain in ip filter")
		}
	}
}

// TestForwardingThroughDockerFirewall wires a bridge with one container
// namespace and an "outside" namespace behind a router namespace whose
// FORWARD policy is DROP, as on a host running the reference dockerd, and
// checks masquerading, DNAT and that berth's accept rules are what makes
// the traffic pass.
func TestForwardingThroughDockerFirewall(t *testing.T) {
	needRoot(t)
	dir := nsDir(t)
	router, rfd := newNS(t, dir, "router")
	outside, _ := newNS(t, dir, "outside")
	ctr, cfd := newNS(t, dir, "ctr")

	var conn *bridge.Conn
	netnstest.Do(t, router, func() (err error) { conn, err = bridge.Open(); return err })
	defer conn.Close()
	br, err := conn.Ensure("brx", netip.MustParsePrefix("10.213.60.1/24"), netip.Prefix{})
	if err != nil {
		t.Fatal(err)
	}
	netnstest.Do(t, router, func() error {
		if err := bridge.EnableIPForward(); err != nil {
			return err
		}
		return bridge.SetRouteLocalnet("brx")
	})
	if err := conn.AddVeth(br, "vctr", cfd, bridge.MAC(netip.MustParseAddr("10.213.60.2"))); err != nil {
		t.Fatal(err)
	}
	netnstest.Do(t, ctr, func() error {
		return bridge.ConfigureContainer(netip.MustParsePrefix("10.213.60.2/24"), netip.MustParseAddr("10.213.60.1"))
	})
	// router:vout 10.213.61.1/24 <-> outside:eth0 10.213.61.2/24
	ofd, _ := unix.Open(outside, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	defer unix.Close(ofd)
	h := conn.Handle()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vout", Flags: net.FlagUp}, PeerName: "eth0", PeerNamespace: netlink.NsFd(ofd)}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	vout, _ := h.LinkByName("vout")
	if err := h.AddrAdd(vout, &netlink.Addr{IPNet: mustNet("10.213.61.1/24")}); err != nil {
		t.Fatal(err)
	}
	netnstest.Do(t, outside, func() error {
		eth, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(eth); err != nil {
			return err
		}
		return netlink.AddrAdd(eth, &netlink.Addr{IPNet: mustNet("10.213.61.2/24")})
	})

	tab, err := Setup("brx", br.Subnet(), WithNetNS(rfd))
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	dockerFirewall(t, router, true)

	// A server outside, reporting the peer address it sees.
	netnstest.Serve(t, outside, "tcp", "10.213.61.2:7000", "")
	// A server in the container, published on the router's port 8080.
	netnstest.Serve(t, ctr, "tcp", "0.0.0.0:80", "")
	if err := tab.Add([]Mapping{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 8080, Addr: netip.MustParseAddr("10.213.60.2"), Port: 80}}); err != nil {
		t.Fatal(err)
	}

	// Before the accept rules, DOCKER-USER returns and FORWARD drops.
	if _, err := netnstest.Ask(ctr, "tcp", "10.213.61.2:7000", 300*time.Millisecond); err == nil {
		t.Fatal("forwarded through a DROP policy without accept rules")
	}
	if _, err := tab.EnsureForwardAccept(); err != nil {
		t.Fatal(err)
	}
	peer, err := netnstest.Ask(ctr, "tcp", "10.213.61.2:7000", 2*time.Second)
	if err != nil {
		t.Fatalf("container -> outside: %v", err)
	}
	if peer != "10.213.61.1" {
		t.Fatalf("outside saw %s, want the router's address (masquerade)", peer)
	}
	peer, err = netnstest.Ask(outside, "tcp", "10.213.61.1:8080", 2*time.Second)
	if err != nil {
		t.Fatalf("outside -> published port: %v", err)
	}
	if peer != "10.213.61.2" {
		t.Fatalf("container saw %s, want the outside client's address", peer)
	}
	// Unpublished ports of the container stay closed to the outside.
	netnstest.Do(t, outside, func() error {
		return netlink.RouteAdd(&netlink.Route{Dst: mustNet("10.213.60.0/24"), Gw: net.ParseIP("10.213.61.1")})
	})
	if _, err := netnstest.Ask(outside, "tcp", "10.213.60.2:80", 300*time.Millisecond); err == nil {
		t.Fatal("outside reached an unpublished container port")
	}
	// Hairpin: the container reaching its own published port via the
	// router's address.
	if _, err := netnstest.Ask(ctr, "tcp", "10.213.61.1:8080", 2*time.Second); err != nil {
		t.Fatalf("hairpin: %v", err)
	}
}

func mustNet(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

// TestOwnerMark: a table carries its owner, rewritten each time it is set
// up, and Tables reads it back; a table set up without one is unmarked.
func TestOwnerMark(t *testing.T) {
	needRoot(t)
	_, fd := newNS(t, nsDir(t), "own")
	me := Self("/var/lib/berth-test/network")
	if !me.Marked() || !me.Alive() || me.PID != os.Getpid() {
		t.Fatalf("Self = %+v", me)
	}
	dead := Owner{Root: me.Root, PID: me.PID, Start: me.Start + 1} // a reused pid
	if dead.Alive() {
		t.Fatal("an owner with another start time is alive")
	}
	for _, o := range []Owner{dead, me} {
		tab, err := Setup("brown", netip.MustParsePrefix("10.213.52.0/24"), WithNetNS(fd), WithOwner(o))
		if err != nil {
			t.Fatal(err)
		}
		tab.Close()
	}
	plain, err := Setup("brplain", netip.MustParsePrefix("10.213.53.0/24"), WithNetNS(fd))
	if err != nil {
		t.Fatal(err)
	}
	plain.Close()
	tabs, err := Tables(WithNetNS(fd))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Owner{}
	for _, ti := range tabs {
		got[ti.Bridge] = ti.Owner
	}
	if len(got) != 2 || got["brown"] != me || got["brplain"].Marked() {
		t.Fatalf("tables %+v", tabs)
	}
	// A root too long for the kernel's 256 bytes of user data is left out.
	long := Owner{Root: "/" + strings.Repeat("x", 300), PID: 1, Start: 2}
	if c := long.comment(); len(c) > 250 {
		t.Fatalf("comment of %d bytes", len(c))
	} else if o, ok := parseOwner(c); !ok || o.PID != 1 || o.Start != 2 || o.Root != "" {
		t.Fatalf("parsed %+v from %q", o, c)
	}
}

// TestDestroyTableTakesAcceptRules: the accept rules of a bridge go with
// its table (a dead daemon's), and rules that name a bridge are found
// even without the table; rules of other bridges stay.
func TestDestroyTableTakesAcceptRules(t *testing.T) {
	needRoot(t)
	path, fd := newNS(t, nsDir(t), "dt")
	dockerFirewall(t, path, true)
	for i, br := range []string{"brgone", "brstay"} {
		tab, err := Setup(br, netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", 54+i)), WithNetNS(fd))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tab.EnsureForwardAccept(); err != nil {
			t.Fatal(err)
		}
		tab.Close()
	}
	got, err := AcceptRuleBridges(WithNetNS(fd))
	if err != nil || !slices.Equal(sorted(got), []string{"brgone", "brstay"}) {
		t.Fatalf("AcceptRuleBridges = %v, %v", got, err)
	}
	for range 2 { // repeatable
		if err := DestroyTable("brgone", WithNetNS(fd)); err != nil {
			t.Fatal(err)
		}
	}
	out := iptablesIn(t, path, "-S", "DOCKER-USER")
	if strings.Contains(out, "brgone") || !strings.Contains(out, "berth brstay") {
		t.Fatalf("DOCKER-USER after destroying brgone:\n%s", out)
	}
	tabs, _ := Tables(WithNetNS(fd))
	if len(tabs) != 1 || tabs[0].Bridge != "brstay" {
		t.Fatalf("tables %+v", tabs)
	}
}

// TestAcceptRulesFollowDockerUser: rules put in FORWARD while there was no
// DOCKER-USER move there once a dockerd makes it, so none stays behind.
func TestAcceptRulesFollowDockerUser(t *testing.T) {
	needRoot(t)
	path, fd := newNS(t, nsDir(t), "mv")
	dockerFirewall(t, path, false)
	tab, err := Setup("brmv", netip.MustParsePrefix("10.213.56.0/24"), WithNetNS(fd))
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if ch, err := tab.EnsureForwardAccept(); err != nil || ch != "FORWARD" {
		t.Fatalf("EnsureForwardAccept = %q, %v", ch, err)
	}
	iptablesIn(t, path, "-N", "DOCKER-USER")
	iptablesIn(t, path, "-A", "DOCKER-USER", "-j", "RETURN")
	iptablesIn(t, path, "-I", "FORWARD", "-j", "DOCKER-USER")
	if ch, err := tab.EnsureForwardAccept(); err != nil || ch != "DOCKER-USER" {
		t.Fatalf("EnsureForwardAccept = %q, %v", ch, err)
	}
	if out := iptablesIn(t, path, "-S", "FORWARD"); strings.Contains(out, "berth") {
		t.Fatalf("rules left in FORWARD:\n%s", out)
	}
	if out := iptablesIn(t, path, "-S", "DOCKER-USER"); strings.Count(out, "berth brmv") != 2 {
		t.Fatalf("DOCKER-USER:\n%s", out)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
