package network

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/moby/moby/client"
	"github.com/vishvananda/netlink"

	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/test/internal/e2e"
)

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// netName is a network name derived from the test's name (and suffix).
// The network is removed when the test ends, with the containers still
// attached to it.
func netName(t testing.TB, e *e2e.Engine, suffix ...string) string {
	t.Helper()
	n := strings.Trim(unsafeName.ReplaceAllString(strings.ReplaceAll(t.Name(), "/", "-"), "_"), "_.-")
	if len(suffix) > 0 {
		n += "-" + strings.Join(suffix, "-")
	}
	n = "n-" + n
	removeNetwork(e, n)
	t.Cleanup(func() { removeNetwork(e, n) })
	return n
}

// removeNetwork removes a network and the containers attached to it.
func removeNetwork(e *e2e.Engine, name string) {
	c, err := client.New(client.WithHost(e.Host))
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if err != nil || res.Network.Name != name {
		return
	}
	for id := range res.Network.Containers {
		c.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	}
	c.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
}

var (
	subnetMu  sync.Mutex
	subnetGot = map[netip.Prefix]bool{}
)

// freeSubnet is a /24 under 10.150.0.0 – 10.189.255.0 that no route of
// the host covers and no other test of this run got: networks created
// with it do not collide with other engines on the host.
func freeSubnet(t testing.TB) netip.Prefix {
	t.Helper()
	subnetMu.Lock()
	defer subnetMu.Unlock()
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if p, err := netip.ParsePrefix(r.Dst.String()); err == nil && p.Bits() > 0 {
			used = append(used, p)
		}
	}
	var b [4]byte
	for range 1000 {
		rand.Read(b[:])
		n := binary.BigEndian.Uint32(b[:]) % (40 * 256)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(150 + n/256), byte(n % 256), 0}), 24)
		if subnetGot[p] || slices.ContainsFunc(used, p.Overlaps) {
			continue
		}
		subnetGot[p] = true
		return p
	}
	t.Fatal("no free /24 for a network")
	return netip.Prefix{}
}

// host is an address of a subnet: host(10.150.3.0/24, 7) is 10.150.3.7.
func host(p netip.Prefix, n byte) string {
	a := p.Addr().As4()
	a[3] = n
	return netip.AddrFrom4(a).String()
}

// addrOn is a running container's IPv4 address on a network.
func addrOn(t testing.TB, e *e2e.Engine, ctr, network string) string {
	t.Helper()
	ns := e.Inspect(t, ctr).NetworkSettings
	if ns == nil || ns.Networks[network] == nil || !ns.Networks[network].IPAddress.IsValid() {
		t.Fatalf("%s has no address on %s: %+v", ctr, network, ns)
	}
	return ns.Networks[network].IPAddress.String()
}

// resolve asks, from inside a running container, for name's IPv4
// addresses with busybox nslookup (through the container's resolv.conf).
// It returns nil when the name does not resolve.
func resolve(t testing.TB, c e2e.CLI, ctr, name string) []string {
	t.Helper()
	// nslookup asks for A and AAAA and exits 1 when either fails: the
	// A answers count.
	r := c.Run(t, "exec", ctr, "nslookup", name)
	if r.Code != 0 && r.Code != 1 {
		t.Fatalf("nslookup:\n%s", r)
	}
	var out []string
	named := false
	for _, l := range strings.Split(r.Stdout, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Name:") {
			named = true
		}
		if a, ok := strings.CutPrefix(l, "Address:"); ok && named {
			a = strings.TrimSpace(a)
			if ip, err := netip.ParseAddr(a); err == nil && ip.Is4() {
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// otherHost is a network namespace that plays a second machine on the
// host's network: a veth pair links it to the host, whose end has
// hostAddr; the namespace routes everything through it.
type otherHost struct {
	ns       string
	hostAddr string
}

func newOtherHost(t *testing.T) *otherHost {
	t.Helper()
	sub := freeSubnet(t)
	dir := filepath.Join(t.TempDir(), "netns")
	if err := netns.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.ReleaseDir(dir) })
	h := &otherHost{ns: filepath.Join(dir, "other"), hostAddr: host(sub, 1)}
	if err := netns.Create(h.ns, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netns.Delete(h.ns) })
	var suffix [3]byte
	rand.Read(suffix[:])
	name := fmt.Sprintf("e2eoh%x", suffix)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(veth) })
	addr, _ := netlink.ParseAddr(h.hostAddr + "/24")
	if err := netlink.AddrAdd(veth, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	peer, err := netlink.LinkByName(name + "p")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(h.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := netlink.LinkSetNsFd(peer, int(f.Fd())); err != nil {
		t.Fatal(err)
	}
	err = netns.Do(h.ns, func() error {
		lo, _ := netlink.LinkByName("lo")
		if err := netlink.LinkSetUp(lo); err != nil {
			return err
		}
		p, err := netlink.LinkByName(name + "p")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr(host(sub, 2) + "/24")
		if err := netlink.AddrAdd(p, a); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(p); err != nil {
			return err
		}
		gw := net.ParseIP(h.hostAddr)
		return netlink.RouteAdd(&netlink.Route{LinkIndex: p.Attrs().Index, Gw: gw})
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// get fetches url from the other host, retrying for a server that is
// still starting until timeout.
func (h *otherHost) get(url string, timeout time.Duration) (int, string, error) {
	return getFrom(h.ns, url, timeout)
}

// getFrom fetches url from inside the network namespace at ns.
func getFrom(ns, url string, timeout time.Duration) (int, string, error) {
	tr := &http.Transport{
		DisableKeepAlives: true,
		Proxy:             nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := netns.Do(ns, func() (err error) {
				c, err = (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil {
				return resp.StatusCode, string(b), nil
			}
			err = rerr
		}
		if time.Now().After(deadline) {
			return 0, "", err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// netState is what an engine holds on the host for its networks: its
// bridges with their ports, and (berth) the nftables tables of those
// bridges, with their chains, rules and map elements.
type netState struct {
	links  map[string]string // interface → "bridge" or "port of <bridge>"
	tables map[string]string // table → a description of its content
}

// engineBridges are the Linux bridges of the engine's bridge networks
// (its default bridge included).
func engineBridges(t testing.TB, e *e2e.Engine) []string {
	t.Helper()
	res, err := e.Client(t).NetworkList(context.Background(), client.NetworkListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range res.Items {
		if n.Driver != "bridge" {
			continue
		}
		name := n.Options["com.docker.network.bridge.name"]
		if name == "" {
			name = "br-" + n.ID[:12]
		}
		out = append(out, name)
	}
	return out
}

// takeNetState records the engine's network state. extra are bridges to
// look for besides the engine's current ones (those of networks removed
// meanwhile).
func takeNetState(t testing.TB, e *e2e.Engine, extra ...string) netState {
	t.Helper()
	st := netState{links: map[string]string{}, tables: map[string]string{}}
	bridges := append(engineBridges(t, e), extra...)
	links, _ := netlink.LinkList()
	index := map[int]string{}
	for _, l := range links {
		if slices.Contains(bridges, l.Attrs().Name) {
			st.links[l.Attrs().Name] = "bridge"
			index[l.Attrs().Index] = l.Attrs().Name
		}
	}
	for _, l := range links {
		if br, ok := index[l.Attrs().MasterIndex]; ok {
			st.links[l.Attrs().Name] = "port of " + br
		}
	}
	if e.Kind != e2e.KindBerth {
		return st
	}
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	tables, _ := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	for _, tab := range tables {
		br, ok := strings.CutPrefix(tab.Name, "berth-")
		if !ok || !slices.Contains(bridges, br) {
			continue
		}
		var desc []string
		chains, _ := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		for _, ch := range chains {
			if ch.Table.Name != tab.Name {
				continue
			}
			rules, _ := conn.GetRules(tab, ch)
			desc = append(desc, fmt.Sprintf("chain %s: %d rules", ch.Name, len(rules)))
		}
		sets, _ := conn.GetSets(tab)
		for _, s := range sets {
			els, _ := conn.GetSetElements(s)
			var keys []string
			for _, el := range els {
				keys = append(keys, fmt.Sprintf("%x->%x", el.Key, el.Val))
			}
			sort.Strings(keys)
			desc = append(desc, fmt.Sprintf("map %s: %v", s.Name, keys))
		}
		sort.Strings(desc)
		st.tables[tab.Name] = strings.Join(desc, "; ")
	}
	return st
}

// diff lists what differs between two states.
func (s netState) diff(after netState) []string {
	var out []string
	for k, v := range after.links {
		if s.links[k] != v {
			out = append(out, fmt.Sprintf("interface %s (%s) is new", k, v))
		}
	}
	for k, v := range s.links {
		if _, ok := after.links[k]; !ok {
			out = append(out, fmt.Sprintf("interface %s (%s) is gone", k, v))
		}
	}
	for k, v := range after.tables {
		if b, ok := s.tables[k]; !ok {
			out = append(out, "nftables table "+k+" is new")
		} else if b != v {
			out = append(out, fmt.Sprintf("nftables table %s changed:\n    before %s\n    after  %s", k, b, v))
		}
	}
	for k := range s.tables {
		if _, ok := after.tables[k]; !ok {
			out = append(out, "nftables table "+k+" is gone")
		}
	}
	sort.Strings(out)
	return out
}

// assertNetStateLike waits (the engines release some of it in the
// background) until the engine's network state is before again.
func assertNetStateLike(t testing.TB, e *e2e.Engine, before netState, timeout time.Duration, extra ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d := before.diff(takeNetState(t, e, extra...))
		if len(d) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("network state differs:\n  %s", strings.Join(d, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// linkExists reports whether the host has an interface called name.
func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// bridgeOf is the Linux bridge of a bridge network.
func bridgeOf(t testing.TB, e *e2e.Engine, network string) string {
	t.Helper()
	res, err := e.Client(t).NetworkInspect(context.Background(), network, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := res.Network.Options["com.docker.network.bridge.name"]; n != "" {
		return n
	}
	return "br-" + res.Network.ID[:12]
}

// needsFirewall skips a test of what the engine's firewall rules do when
// the engine runs without them: the reference dockerd of this harness
// runs with --iptables=false so that it never touches the host's rules.
func needsFirewall(t *testing.T, e *e2e.Engine) {
	t.Helper()
	if e.Kind == e2e.KindDocker {
		t.Skip("the reference dockerd runs with --iptables=false here: it enforces no isolation, icc or --internal")
	}
}

// tableExists reports whether the host has the ip nftables table name.
func tableExists(name string) bool {
	conn, err := nftables.New()
	if err != nil {
		return false
	}
	tables, _ := conn.ListTablesOfFamily(nftables.TableFamilyIPv4)
	for _, t := range tables {
		if t.Name == name {
			return true
		}
	}
	return false
}
