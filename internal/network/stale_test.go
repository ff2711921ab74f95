package network

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns/netnstest"
)

// TestNoBridge: with BridgeName "none" there is no default bridge, as
// with dockerd --bridge none: no link or table for it, "bridge" is neither
// listed nor inspectable nor removable nor creatable, yet the default
// network mode still resolves and gives a namespace with lo only, no
// address and no published port; user-defined networks work.
func TestNoBridge(t *testing.T) {
	_, noneBefore := netlink.LinkByName(NoBridge)
	e := newEnv(t, NoBridge, "")
	s := e.service()
	if _, err := netlink.LinkByName(NoBridge); noneBefore != nil && err == nil {
		t.Fatal(`a link named "none" was created`)
	}
	if tabs, _ := nat.Tables(); slices.ContainsFunc(tabs, func(ti nat.TableInfo) bool { return ti.Owner.Root == e.root }) {
		t.Fatalf("tables made with no bridge: %+v", tabs)
	}
	var names []string
	for _, n := range s.Networks() {
		names = append(names, n.Name)
	}
	if !slices.Equal(names, []string{"host", "none"}) {
		t.Fatalf("networks %v, want host and none", names)
	}
	for _, ref := range []string{"bridge", "default"} {
		if _, err := s.InspectNetwork(ctx, ref); !errdefs.IsNotFound(err) || err.Error() != "network "+ref+" not found" {
			t.Errorf("inspect %s: %v", ref, err)
		}
	}
	if err := s.RemoveNetwork(ctx, "bridge"); !errdefs.IsNotFound(err) {
		t.Errorf("rm bridge: %v", err)
	}
	if _, err := s.CreateNetwork(ctx, network.CreateRequest{Name: "bridge"}); !errdefs.IsPermissionDenied(err) ||
		err.Error() != "operation is not permitted on predefined bridge network " {
		t.Errorf("create bridge: %v", err)
	}
	if s.HostGateway().IsValid() || s.Bridge() != "" {
		t.Errorf("host gateway %v, bridge %q", s.HostGateway(), s.Bridge())
	}
	id, name, _, err := s.LookupNetwork("bridge")
	if err != nil || id != "" || name != "bridge" {
		t.Fatalf("lookup bridge: %q %q %v", id, name, err)
	}

	port := freePort(t)
	ep, err := s.Connect(ctx, EndpointRequest{ContainerID: "nobr", Network: "bridge", Primary: true,
		Ports: network.PortMap{network.MustParsePort("80/tcp"): bindings("", strconv.Itoa(port))}})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Network != "bridge" || ep.NetworkID != "" || ep.EndpointID != "" || ep.IPAddress.IsValid() || len(ep.Ports) != 0 {
		t.Fatalf("endpoint %+v", ep)
	}
	onlyLo(t, ep.NetNSPath)
	if l, err := net.Listen("tcp", ":"+strconv.Itoa(port)); err != nil {
		t.Errorf("the host port was reserved: %v", err)
	} else {
		l.Close()
	}

	// A user-defined network, also for a container on "bridge".
	e.createNet(s, "nbnet", "btnbnet", "10.214.40.0/24", nil)
	other := e.join(s, "nbother", "nbnet", nil)
	if other.IPAddress.String() != "10.214.40.2" {
		t.Fatalf("user-defined endpoint %+v", other)
	}
	joined := e.join(s, "nobr", "nbnet", nil)
	netnstest.Serve(t, other.NetNSPath, "tcp", ":7000", "other ")
	mustAsk(t, joined.NetNSPath, "tcp", "10.214.40.2:7000", "other ")

	// A restart keeps the endpoint on the unlisted network.
	s.Close()
	s2 := e.service()
	if err := s2.Restore(ctx, []*Endpoint{ep, joined, other}); err != nil {
		t.Fatal(err)
	}
	if err := s2.Disconnect(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := s2.Disconnect(ctx, joined); err != nil {
		t.Fatal(err)
	}
	nothingLeft(t, s2, "nobr")
}

// fakeTable makes a table for bridge in the host's namespace, as a daemon
// owned by o would have left it (o zero: unmarked, as berth before the
// mark), with a published port in it.
func fakeTable(t *testing.T, bridge, subnet string, o nat.Owner) {
	t.Helper()
	var opts []nat.Option
	if o.Marked() {
		opts = append(opts, nat.WithOwner(o))
	}
	tab, err := nat.Setup(bridge, netip.MustParsePrefix(subnet), opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	p := netip.MustParsePrefix(subnet).Addr().Next().Next()
	if err := tab.Add([]nat.Mapping{{Proto: "tcp", HostIP: netip.IPv4Unspecified(), HostPort: 1, Addr: p, Port: 80}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nat.DestroyTable(bridge) })
}

// deadOwner is the owner mark of a process that has exited.
func deadOwner(t *testing.T, root string) nat.Owner {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return nat.Owner{Root: root, PID: cmd.Process.Pid, Start: 1}
}

func tableOwners(t *testing.T) map[string]nat.Owner {
	t.Helper()
	tabs, err := nat.Tables()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]nat.Owner{}
	for _, ti := range tabs {
		out[ti.Bridge] = ti.Owner
	}
	return out
}

// TestStaleTables: at start the service removes its own tables for
// bridges none of its networks has, and dead daemons' tables whose bridge
// or state is gone, and keeps live daemons' tables and a dead daemon's
// whose bridge and state are still there (its restart will want them).
func TestStaleTables(t *testing.T) {
	e := newEnv(t, "btstale", "10.213.30.1/24")
	aliveDir := t.TempDir()
	keptDir := t.TempDir()
	link := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "btstkeep"}}
	link2 := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "btstnoroot"}}
	for _, l := range []netlink.Link{link, link2} {
		if err := netlink.LinkAdd(l); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netlink.LinkDel(l) })
	}
	alive := nat.Self(aliveDir) // this process: alive, another state directory
	fakeTable(t, "btstmine", "10.213.31.0/24", nat.Self(e.root))
	fakeTable(t, "btstdead", "10.213.32.0/24", deadOwner(t, keptDir))
	fakeTable(t, "btstold", "10.213.33.0/24", nat.Owner{})
	fakeTable(t, "btstalive", "10.213.34.0/24", alive)
	fakeTable(t, "btstkeep", "10.213.35.0/24", deadOwner(t, keptDir))
	fakeTable(t, "btstnoroot", "10.213.36.0/24", deadOwner(t, filepath.Join(keptDir, "gone")))

	s := e.service()
	got := tableOwners(t)
	for _, br := range []string{"btstmine", "btstdead", "btstold", "btstnoroot"} {
		if _, ok := got[br]; ok {
			t.Errorf("stale table of %s kept", br)
		}
	}
	for _, br := range []string{"btstalive", "btstkeep"} {
		if _, ok := got[br]; !ok {
			t.Errorf("table of %s removed", br)
		}
	}
	if o := got["btstale"]; o.Root != e.root || o.PID != os.Getpid() || !o.Alive() {
		t.Errorf("own table's owner %+v", o)
	}

	// A network made on a bridge name with a leftover table gets a fresh
	// one: the old published port is gone.
	fakeTable(t, "btstleft", "10.213.37.0/24", deadOwner(t, keptDir))
	e.createNet(s, "left", "btstleft", "10.214.37.0/24", nil)
	nw := s.nets[s.mustLookup(t, "left")]
	if ms, err := nw.nat.Mappings(); err != nil || len(ms) != 0 {
		t.Fatalf("leftover mappings %v, %v", ms, err)
	}
	if o := tableOwners(t)["btstleft"]; o.Root != e.root {
		t.Fatalf("new table's owner %+v", o)
	}
	// A bridge whose table a live daemon programs is refused.
	_, err := s.CreateNetwork(ctx, network.CreateRequest{Name: "taken", Options: map[string]string{optBridgeName: "btstalive"}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "in use by another berth daemon") {
		t.Fatalf("bridge of a live daemon: %v", err)
	}
	if _, err := New(ctx, Config{Root: filepath.Join(t.TempDir(), "network"), BridgeName: "btstalive"}); !errdefs.IsConflict(err) {
		t.Fatalf("default bridge of a live daemon: %v", err)
	}
	if linkExists(t, "btstalive") {
		t.Fatal("bridge of a refused network created")
	}
}

func (s *Service) mustLookup(t *testing.T, ref string) string {
	t.Helper()
	id, _, _, err := s.LookupNetwork(ref)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func linkExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := netlink.LinkByName(name)
	return err == nil
}
