package bridge

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// DefaultMTU is the bridge MTU, Docker's default.
const DefaultMTU = 1500

// Bridge is the host side of the default network.
type Bridge struct {
	Name  string
	Index int
	MTU   int
	// Addr is the bridge's own address with the subnet's length, for
	// example 172.17.0.1/16: the containers' gateway.
	Addr netip.Prefix
}

// Subnet is the network the bridge serves.
func (b *Bridge) Subnet() netip.Prefix { return b.Addr.Masked() }

// Conn holds netlink sockets in the network namespace of the thread that
// made it (the host's). It is safe for concurrent use.
type Conn struct {
	h *netlink.Handle
	// raw carries requests the netlink package cannot express in one
	// message (a veth pair created with its master set).
	raw *nl.SocketHandle
}

// Open makes the sockets in the calling thread's network namespace.
func Open() (*Conn, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(vnetns.None(), vnetns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &Conn{h: h, raw: &nl.SocketHandle{Socket: s}}, nil
}

// Close closes the sockets.
func (c *Conn) Close() {
	c.h.Close()
	c.raw.Close()
}

// Handle is the netlink handle, for queries the package does not wrap.
func (c *Conn) Handle() *netlink.Handle { return c.h }

// Ensure makes the bridge called name exist, up, with one IPv4 address:
// want if valid (replacing any other IPv4 address), else the address the
// bridge already has (a restart adopts it), else prefer if it is free,
// else the first free subnet of Docker's default pools.
func (c *Conn) Ensure(name string, want, prefer netip.Prefix) (*Bridge, error) {
	link, err := c.h.LinkByName(name)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("bridge %s: %w", name, err)
	}
	if link == nil {
		mac := make(net.HardwareAddr, 6)
		_, _ = rand.Read(mac)
		mac[0] = mac[0]&0xfe | 0x02 // unicast, locally administered
		// A MAC set by hand keeps the bridge from taking its ports' MACs as
		// containers come and go, which would flush neighbours' ARP caches.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: DefaultMTU, HardwareAddr: mac, TxQLen: -1}}
		if err := c.h.LinkAdd(br); err != nil {
			return nil, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if link, err = c.h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("bridge %s: %w", name, err)
		}
	} else if link.Type() != "bridge" {
		return nil, fmt.Errorf("interface %s exists and is not a bridge: %w", name, errdefs.ErrConflict)
	}

	addrs, err := c.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("bridge %s addresses: %w", name, err)
	}
	var have []netip.Prefix
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok {
			have = append(have, p)
		}
	}

	target := want
	switch {
	case target.IsValid():
	case len(have) > 0:
		target = have[0]
	default:
		used, err := c.usedPrefixes(link.Attrs().Index)
		if err != nil {
			return nil, err
		}
		if prefer.IsValid() && !overlapsAny(prefer.Masked(), used) {
			target = prefer
		} else {
			sub, ok := FirstFree(DefaultPools(), used)
			if !ok {
				return nil, fmt.Errorf("could not find a free subnet for bridge %s in the default address pools: %w", name, errdefs.ErrResourceExhausted)
			}
			target = netip.PrefixFrom(sub.Addr().Next(), sub.Bits())
		}
	}

	present := false
	for _, p := range have {
		if p == target {
			present = true
			continue
		}
		// Only one IPv4 address: a stale one would keep routing a subnet
		// the network no longer uses.
		ip := p.Addr().AsSlice()
		if err := c.h.AddrDel(link, &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(p.Bits(), 32)}}); err != nil {
			return nil, fmt.Errorf("bridge %s: remove address %s: %w", name, p, err)
		}
	}
	if !present {
		if err := c.h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: target.Addr().AsSlice(), Mask: net.CIDRMask(target.Bits(), 32)}}); err != nil {
			return nil, fmt.Errorf("bridge %s: add address %s: %w", name, target, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := c.h.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bridge %s up: %w", name, err)
		}
	}
	return &Bridge{Name: name, Index: link.Attrs().Index, MTU: link.Attrs().MTU, Addr: target}, nil
}

// Delete removes a bridge. A missing bridge is fine.
func (c *Conn) Delete(name string) error {
	return c.DelLink(name)
}

// DelLink removes a link by name (a bridge, or a veth and with it its
// peer). A missing link is fine.
func (c *Conn) DelLink(name string) error {
	link, err := c.h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Ports lists the names of the links enslaved to the bridge.
func (c *Conn) Ports(br *Bridge) ([]string, error) {
	links, err := c.h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, err
	}
	var names []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Index {
			names = append(names, l.Attrs().Name)
		}
	}
	return names, nil
}

// AddVeth creates a veth pair: hostName enslaved to the bridge, up and in
// hairpin mode, and its peer created directly inside the namespace nsFD as
// eth0 with mac. Both ends get the bridge's MTU. Two requests: the pair
// (with its master) in one, hairpin in the other.
//
// Hairpin mode is what Docker sets when it runs without its userland
// proxy: with br_netfilter, a container's packet to its own published port
// is DNATed at the bridge and must go back out the port it came in on.
func (c *Conn) AddVeth(br *Bridge, hostName string, nsFD int, mac net.HardwareAddr) error {
	return c.AddVethNamed(br, hostName, ContainerIfName, nsFD, mac)
}

// AddVethNamed is AddVeth with the container end called peerName: a
// container on several networks has eth0, eth1, ...
func (c *Conn) AddVethNamed(br *Bridge, hostName, peerName string, nsFD int, mac net.HardwareAddr) error {
	// NLM_F_ECHO returns the new link (Linux 6.1+), saving a lookup of its
	// index.
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_CREATE|unix.NLM_F_EXCL|unix.NLM_F_ACK|unix.NLM_F_ECHO)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: c.raw}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Flags, msg.Change = unix.IFF_UP, unix.IFF_UP
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(hostName)))
	req.AddData(nl.NewRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(br.MTU))))
	req.AddData(nl.NewRtAttr(unix.IFLA_MASTER, nl.Uint32Attr(uint32(br.Index))))
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("veth"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	peer := data.AddRtAttr(nl.VETH_INFO_PEER, nil)
	// The peer cannot be brought up here: veth refuses to open an end
	// before its pair is linked (ENOTCONN). ConfigureContainer does it.
	nl.NewIfInfomsgChild(peer, unix.AF_UNSPEC)
	peer.AddRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(peerName))
	peer.AddRtAttr(unix.IFLA_MTU, nl.Uint32Attr(uint32(br.MTU)))
	peer.AddRtAttr(unix.IFLA_ADDRESS, mac)
	peer.AddRtAttr(unix.IFLA_NET_NS_FD, nl.Uint32Attr(uint32(nsFD)))
	req.AddData(info)
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return fmt.Errorf("create veth %s: %w", hostName, err)
	}
	index := echoedIndex(msgs, hostName)
	if index == 0 {
		link, err := c.h.LinkByName(hostName)
		if err != nil {
			return fmt.Errorf("veth %s: %w", hostName, err)
		}
		index = link.Attrs().Index
	}
	if err := c.h.LinkSetHairpin(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index, Name: hostName}}, true); err != nil {
		return fmt.Errorf("veth %s hairpin mode: %w", hostName, err)
	}
	return nil
}

// echoedIndex finds the index of the link called name among RTM_NEWLINK
// messages.
func echoedIndex(msgs [][]byte, name string) int {
	for _, m := range msgs {
		if len(m) < unix.SizeofIfInfomsg {
			continue
		}
		ifi := nl.DeserializeIfInfomsg(m)
		attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfInfomsg:])
		if err != nil {
			continue
		}
		for _, a := range attrs {
			if a.Attr.Type == unix.IFLA_IFNAME && nl.BytesToString(a.Value) == name {
				return int(ifi.Index)
			}
		}
	}
	return 0
}

// ContainerIfName is the interface name inside the container.
const ContainerIfName = "eth0"

// ConfigureContainer runs inside the container's namespace (on the thread
// netns.Create locked there): lo and eth0 up, eth0 addressed, and the
// default route through gw.
func ConfigureContainer(addr netip.Prefix, gw netip.Addr) error {
	return ConfigureInterface(Interface{Name: ContainerIfName, Addr: addr, Gateway: gw})
}

// Interface is how a container's interface is set up.
type Interface struct {
	Name  string
	Addr  netip.Prefix // IPv4 address and prefix
	Addr6 netip.Prefix // IPv6, optional
	// Gateway and Gateway6, when valid, become the namespace's default
	// routes, replacing any other: one network routes to the world.
	Gateway, Gateway6 netip.Addr
}

// ConfigureInterface runs inside a container's namespace: lo and the
// interface up, addressed (IPv6 without duplicate address detection, as
// Docker does, so the address is usable at once), and the default routes.
func ConfigureInterface(ifc Interface) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in container netns: %w", err)
	}
	defer h.Close()
	if err := loopbackUp(h); err != nil {
		return err
	}
	eth, err := h.LinkByName(ifc.Name)
	if err != nil {
		return fmt.Errorf("%s in container netns: %w", ifc.Name, err)
	}
	if ifc.Addr6.IsValid() {
		// Before the link goes up, so that it never runs autoconfiguration
		// on a network berth addresses itself.
		_ = writeSysctl("/proc/sys/net/ipv6/conf/"+ifc.Name+"/accept_ra", "0")
	}
	if err := h.LinkSetUp(eth); err != nil {
		return fmt.Errorf("%s up: %w", ifc.Name, err)
	}
	for _, a := range []netip.Prefix{ifc.Addr, ifc.Addr6} {
		if !a.IsValid() {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(eth, addr); err != nil {
			return fmt.Errorf("address %s on %s: %w", a, ifc.Name, err)
		}
	}
	return setDefaultRoutes(h, eth.Attrs().Index, ifc.Gateway, ifc.Gateway6)
}

// SetDefaultRoutes runs inside a container's namespace: the default
// routes go through the interface called ifname (the gateway moved to
// another network).
func SetDefaultRoutes(ifname string, gw, gw6 netip.Addr) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in container netns: %w", err)
	}
	defer h.Close()
	eth, err := h.LinkByName(ifname)
	if err != nil {
		return fmt.Errorf("%s in container netns: %w", ifname, err)
	}
	return setDefaultRoutes(h, eth.Attrs().Index, gw, gw6)
}

func setDefaultRoutes(h *netlink.Handle, index int, gw, gw6 netip.Addr) error {
	for _, g := range []netip.Addr{gw, gw6} {
		if !g.IsValid() {
			continue
		}
		r := &netlink.Route{LinkIndex: index, Gw: g.AsSlice()}
		if g.Is6() {
			r.Family = netlink.FAMILY_V6
			r.Dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("default route via %s: %w", g, err)
		}
	}
	return nil
}

// DelLinkIn runs inside a container's namespace: it deletes the
// interface called name (a macvlan endpoint has no host end to delete).
// A missing interface is fine.
func DelLinkIn(name string) error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// AddMacvlan creates a macvlan interface in bridge mode on parent,
// directly inside the namespace nsFD, called ifname, with mac.
func (c *Conn) AddMacvlan(parent, ifname string, nsFD int, mac net.HardwareAddr) error {
	p, err := c.h.LinkByName(parent)
	if err != nil {
		return fmt.Errorf("parent interface %s: %w", parent, err)
	}
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: ifname, ParentIndex: p.Attrs().Index, MTU: p.Attrs().MTU,
			HardwareAddr: mac, Namespace: netlink.NsFd(nsFD), TxQLen: -1},
		Mode: netlink.MACVLAN_MODE_BRIDGE,
	}
	if err := c.h.LinkAdd(mv); err != nil {
		return fmt.Errorf("create macvlan on %s: %w", parent, err)
	}
	return nil
}

// AddAddr adds an address to a bridge (a network's second subnet, its
// IPv6 gateway); an address already there is fine.
func (c *Conn) AddAddr(br *Bridge, p netip.Prefix) error {
	link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: br.Index, Name: br.Name}}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		_ = writeSysctl("/proc/sys/net/ipv6/conf/"+br.Name+"/disable_ipv6", "0")
		addr.Flags = unix.IFA_F_NODAD
	}
	err := c.h.AddrAdd(link, addr)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("bridge %s: add address %s: %w", br.Name, p, err)
	}
	return nil
}

// LinkExists reports whether the host has an interface called name.
func (c *Conn) LinkExists(name string) bool {
	_, err := c.h.LinkByName(name)
	return err == nil
}

// SetMTU changes a bridge's MTU.
func (c *Conn) SetMTU(br *Bridge, mtu int) error {
	if mtu <= 0 || mtu == br.MTU {
		return nil
	}
	if err := c.h.LinkSetMTU(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: br.Index, Name: br.Name}}, mtu); err != nil {
		return fmt.Errorf("bridge %s mtu %d: %w", br.Name, mtu, err)
	}
	br.MTU = mtu
	return nil
}

// LoopbackUp brings lo up in the calling thread's namespace.
func LoopbackUp() error {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink in container netns: %w", err)
	}
	defer h.Close()
	return loopbackUp(h)
}

func loopbackUp(h *netlink.Handle) error {
	// lo is always ifindex 1 in a new namespace; no lookup needed.
	if err := h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}}); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// MAC is the address Docker derives from a container's IPv4 address:
// 02:42 followed by the four address bytes, so the same IP always has the
// same MAC.
func MAC(ip netip.Addr) net.HardwareAddr {
	b := ip.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// EnableIPForward turns on IPv4 forwarding, as dockerd does at start.
func EnableIPForward() error {
	return writeSysctl("/proc/sys/net/ipv4/ip_forward", "1")
}

// SetRouteLocalnet lets the bridge route 127.0.0.0/8 sources, so that
// published ports answer on 127.0.0.1 without a userland proxy.
func SetRouteLocalnet(name string) error {
	return writeSysctl(filepath.Join("/proc/sys/net/ipv4/conf", name, "route_localnet"), "1")
}

func writeSysctl(path, value string) error {
	if cur, err := os.ReadFile(path); err == nil && string(cur) == value+"\n" {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl: %w", err)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
