package nat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Mapping is one published port.
type Mapping struct {
	Proto    string     // "tcp" or "udp"
	HostIP   netip.Addr // a host address, or 0.0.0.0 (or invalid) for all of them
	HostPort uint16
	Addr     netip.Addr // the container's address
	Port     uint16     // the container's port
	// Owner names the container in the element's comment (nft list shows
	// it); it is not part of the mapping's identity.
	Owner string
}

func (m Mapping) anyHost() bool { return !m.HostIP.IsValid() || m.HostIP.IsUnspecified() }

// key identifies a mapping in its map.
func (m Mapping) key() string {
	return fmt.Sprintf("%s/%s/%d", m.HostIP, m.Proto, m.HostPort)
}

// TableName is the table for a bridge.
func TableName(bridge string) string { return "berth-" + bridge }

// Table is berth's nftables table for one bridge. It is safe for
// concurrent use.
type Table struct {
	mu     sync.Mutex // one batch at a time on conn
	conn   *nftables.Conn
	bridge string
	subnet netip.Prefix
	opts   options
	table  *nftables.Table
	ports  *nftables.Set // proto . port → addr . port
	hports *nftables.Set // addr . proto . port → addr . port
}

// Option configures Setup.
type Option func(*options)

type options struct {
	netnsFD  int
	internal bool
	noICC    bool
	noMasq   bool
	owner    Owner
}

// WithOwner marks the table as the owner's (see Owner).
func WithOwner(o Owner) Option { return func(o2 *options) { o2.owner = o } }

// WithNetNS programs the tables of another network namespace (tests).
func WithNetNS(fd int) Option { return func(o *options) { o.netnsFD = fd } }

// Internal closes the bridge to everything but itself (--internal): no
// forwarding in or out, no masquerade.
func Internal() Option { return func(o *options) { o.internal = true } }

// NoICC drops traffic between containers of the bridge
// (com.docker.network.bridge.enable_icc=false, dockerd --icc=false).
func NoICC() Option { return func(o *options) { o.noICC = true } }

// NoMasquerade leaves the bridge's outbound traffic with its container
// sources (com.docker.network.bridge.enable_ip_masquerade=false).
func NoMasquerade() Option { return func(o *options) { o.noMasq = true } }

var (
	protoPort     = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	addrProtoPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	addrPort      = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
)

// Setup creates the bridge's table, or brings an existing one up to date
// in place: chains are flushed and refilled in the same batch, so there is
// no moment without rules, and the port maps keep their elements, so the
// containers still running across a daemon restart stay reachable.
func Setup(bridge string, subnet netip.Prefix, opts ...Option) (*Table, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	connOpts := []nftables.ConnOption{nftables.AsLasting()}
	if o.netnsFD != 0 {
		connOpts = append(connOpts, nftables.WithNetNSFd(o.netnsFD))
	}
	conn, err := nftables.New(connOpts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	t := &Table{conn: conn, bridge: bridge, subnet: subnet.Masked(), opts: o}
	t.table = &nftables.Table{Name: TableName(bridge), Family: nftables.TableFamilyIPv4}
	t.ports = &nftables.Set{Table: t.table, Name: "ports", IsMap: true, Concatenation: true,
		KeyType: protoPort, DataType: addrPort}
	t.hports = &nftables.Set{Table: t.table, Name: "hostports", IsMap: true, Concatenation: true,
		KeyType: addrProtoPort, DataType: addrPort}
	if err := t.program(); err != nil {
		conn.CloseLasting()
		return nil, err
	}
	return t, nil
}

// Close releases the netlink socket; the rules stay.
func (t *Table) Close() error { return t.conn.CloseLasting() }

// Name is the table's name.
func (t *Table) Name() string { return t.table.Name }

func (t *Table) program() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.conn
	c.AddTable(t.table)
	if err := c.AddSet(t.ports, nil); err != nil {
		return err
	}
	if err := c.AddSet(t.hports, nil); err != nil {
		return err
	}
	accept := nftables.ChainPolicyAccept
	chain := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		ch := c.AddChain(&nftables.Chain{Name: name, Table: t.table, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept})
		c.FlushChain(ch)
		return ch
	}
	pre := chain("prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := chain("output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	post := chain("postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	fwd := chain("forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)
	if t.opts.owner.Marked() {
		addOwner(c, t.table, t.opts.owner)
	}

	for _, ch := range []*nftables.Chain{pre, out} {
		// fib daddr type local dnat ip to meta l4proto . th dport map @ports
		c.AddRule(&nftables.Rule{Table: t.table, Chain: ch, Exprs: concat(
			localDst(),
			[]expr.Any{
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
				thDport(9),
			},
			dnatVia(t.ports),
		)})
		// dnat ip to ip daddr . meta l4proto . th dport map @hostports
		c.AddRule(&nftables.Rule{Table: t.table, Chain: ch, Exprs: concat(
			[]expr.Any{
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
				&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 9},
				thDport(10),
			},
			dnatVia(t.hports),
		)})
	}

	// ip saddr <subnet> oifname != <bridge> masquerade
	if !t.opts.internal && !t.opts.noMasq {
		c.AddRule(&nftables.Rule{Table: t.table, Chain: post, Exprs: concat(
			srcIn(t.subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, t.bridge), []expr.Any{&expr.Masq{}})})
	}
	// oifname <bridge> ip saddr 127.0.0.0/8 masquerade: the host reaching a
	// published port on 127.0.0.1 (DNATed in output) must not keep a
	// loopback source on the wire.
	c.AddRule(&nftables.Rule{Table: t.table, Chain: post, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge), srcIn(netip.MustParsePrefix("127.0.0.0/8")), []expr.Any{&expr.Masq{}})})
	// oifname <bridge> ip saddr <subnet> ct status dnat masquerade: a
	// container reaching a published port (its own or a neighbour's) through
	// a host address; without it the reply would go straight back over the
	// bridge with the wrong source.
	c.AddRule(&nftables.Rule{Table: t.table, Chain: post, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge), srcIn(t.subnet), ctStatusDNAT(), []expr.Any{&expr.Masq{}})})

	// An internal bridge talks to itself only: iifname <bridge> oifname !=
	// <bridge> drop, and the reverse.
	if t.opts.internal {
		c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, t.bridge), ifnameReg(expr.MetaKeyOIFNAME, expr.CmpOpNeq, t.bridge, 2), verdict(expr.VerdictDrop))})
		c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
			ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge), ifnameReg(expr.MetaKeyIIFNAME, expr.CmpOpNeq, t.bridge, 2), verdict(expr.VerdictDrop))})
	}
	// No inter-container traffic: iifname <bridge> oifname <bridge> drop
	// (bridged frames reach this hook through br_netfilter).
	if t.opts.noICC {
		c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
			ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, t.bridge), ifnameReg(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge, 2), verdict(expr.VerdictDrop))})
	}
	// Forward: replies and published ports in, anything out, and the
	// bridge closed to everything else, as Docker's FORWARD rules do.
	// Another bridge network's traffic meets the last rule: networks are
	// isolated from each other.
	c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge), ctStateEstablished(), verdict(expr.VerdictAccept))})
	c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge), ctStatusDNAT(), verdict(expr.VerdictAccept))})
	c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
		ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, t.bridge), verdict(expr.VerdictAccept))})
	c.AddRule(&nftables.Rule{Table: t.table, Chain: fwd, Exprs: concat(
		ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, t.bridge), verdict(expr.VerdictDrop))})

	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", t.table.Name, err)
	}
	return nil
}

// Destroy removes the table and everything in it.
func (t *Table) Destroy() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn.DelTable(t.table)
	if err := t.conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s: %w", t.table.Name, err)
	}
	return nil
}

// Add publishes ports, in one batch. Adding a mapping that is already
// there is fine.
func (t *Table) Add(ms []Mapping) error {
	if len(ms) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.changeElements(ms, true)
}

// Remove unpublishes ports. Mappings that are not there are skipped, so
// Remove can be repeated.
func (t *Table) Remove(ms []Mapping) error {
	if len(ms) == 0 {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.remove(ms); err == nil || !errors.Is(err, unix.ENOENT) {
		return err
	}
	// Some were already gone, and the kernel refused the whole batch:
	// delete only what is there.
	have, err := t.mappings()
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, m := range have {
		present[m.key()] = true
	}
	var left []Mapping
	for _, m := range ms {
		if present[m.key()] {
			left = append(left, m)
		}
	}
	if len(left) == 0 {
		return nil
	}
	return t.remove(left)
}

func (t *Table) remove(ms []Mapping) error { return t.changeElements(ms, false) }

// changeElements adds the mappings to the port maps (publish) or deletes
// them (unpublish), in one batch.
func (t *Table) changeElements(ms []Mapping, add bool) error {
	anyEl, hostEl, err := elements(ms, add)
	if err != nil {
		return err
	}
	change, what := t.conn.SetDeleteElements, "unpublish ports"
	if add {
		change, what = t.conn.SetAddElements, "publish ports"
	}
	if len(anyEl) > 0 {
		if err := change(t.ports, anyEl); err != nil {
			return err
		}
	}
	if len(hostEl) > 0 {
		if err := change(t.hports, hostEl); err != nil {
			return err
		}
	}
	if err := t.conn.Flush(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Mappings reads back the published ports.
func (t *Table) Mappings() ([]Mapping, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mappings()
}

func (t *Table) mappings() ([]Mapping, error) {
	var out []Mapping
	els, err := t.conn.GetSetElements(t.ports)
	if err != nil {
		return nil, fmt.Errorf("read map ports: %w", err)
	}
	for _, e := range els {
		if len(e.Key) < 8 || len(e.Val) < 8 {
			continue
		}
		out = append(out, Mapping{
			Proto:    protoName(e.Key[0]),
			HostIP:   netip.IPv4Unspecified(),
			HostPort: binary.BigEndian.Uint16(e.Key[4:6]),
			Addr:     netip.AddrFrom4([4]byte(e.Val[0:4])),
			Port:     binary.BigEndian.Uint16(e.Val[4:6]),
			Owner:    e.Comment,
		})
	}
	els, err = t.conn.GetSetElements(t.hports)
	if err != nil {
		return nil, fmt.Errorf("read map hostports: %w", err)
	}
	for _, e := range els {
		if len(e.Key) < 12 || len(e.Val) < 8 {
			continue
		}
		out = append(out, Mapping{
			Proto:    protoName(e.Key[4]),
			HostIP:   netip.AddrFrom4([4]byte(e.Key[0:4])),
			HostPort: binary.BigEndian.Uint16(e.Key[8:10]),
			Addr:     netip.AddrFrom4([4]byte(e.Val[0:4])),
			Port:     binary.BigEndian.Uint16(e.Val[4:6]),
			Owner:    e.Comment,
		})
	}
	return out, nil
}

// elements encodes mappings as map elements. Concatenated fields are each
// padded to 4 bytes, as the registers hold them.
func elements(ms []Mapping, withData bool) (anyEl, hostEl []nftables.SetElement, err error) {
	for _, m := range ms {
		proto, ok := protoNum(m.Proto)
		if !ok {
			return nil, nil, fmt.Errorf("nat: unsupported protocol %q", m.Proto)
		}
		var el nftables.SetElement
		hp := port4(m.HostPort)
		if m.anyHost() {
			el.Key = append([]byte{proto, 0, 0, 0}, hp...)
		} else {
			if !m.HostIP.Is4() {
				return nil, nil, fmt.Errorf("nat: host address %s is not IPv4", m.HostIP)
			}
			a := m.HostIP.As4()
			el.Key = append(append(a[:], proto, 0, 0, 0), hp...)
		}
		if withData {
			if !m.Addr.Is4() {
				return nil, nil, fmt.Errorf("nat: container address %s is not IPv4", m.Addr)
			}
			a := m.Addr.As4()
			el.Val = append(a[:], port4(m.Port)...)
			el.Comment = m.Owner
		}
		if m.anyHost() {
			anyEl = append(anyEl, el)
		} else {
			hostEl = append(hostEl, el)
		}
	}
	return anyEl, hostEl, nil
}

func port4(p uint16) []byte { return []byte{byte(p >> 8), byte(p), 0, 0} }

func protoNum(p string) (byte, bool) {
	switch p {
	case "tcp":
		return unix.IPPROTO_TCP, true
	case "udp":
		return unix.IPPROTO_UDP, true
	}
	return 0, false
}

func protoName(b byte) string {
	switch b {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	}
	return fmt.Sprint(b)
}

// Expression helpers. Registers: 1 is the first 16-byte register; 9 and 10
// are the second and third 4-byte words of it, where nft puts the later
// fields of a concatenation.

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func localDst() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

func thDport(reg uint32) expr.Any {
	return &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2}
}

func dnatVia(m *nftables.Set) []expr.Any {
	return []expr.Any{
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true},
	}
}

func srcIn(p netip.Prefix) []expr.Any {
	p = p.Masked()
	a := p.Addr().As4()
	mask := binary.BigEndian.AppendUint32(nil, ^uint32(0)<<(32-p.Bits()))
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]},
	}
}

// ifname matches an interface name the way nft does: the whole 16-byte
// IFNAMSIZ buffer.
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// ifnameReg is ifname in another register, for a second comparison in
// the same rule.
func ifnameReg(key expr.MetaKey, op expr.CmpOp, name string, reg uint32) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: reg}, &expr.Cmp{Op: op, Register: reg, Data: b}}
}

func ctStateEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

// ipsDstNAT is IPS_DST_NAT from linux/netfilter/nf_conntrack_common.h.
const ipsDstNAT = 1 << 5

func ctStatusDNAT() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0, 0, 0}},
	}
}

func verdict(k expr.VerdictKind) []expr.Any {
	return []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: k}}
}

// DestroyTable removes a bridge's table and the accept rules
// EnsureForwardAccept inserted for it, without setting the table up first:
// a network that could not be brought up, or a table a dead daemon left.
// Missing ones are fine.
func DestroyTable(bridge string, opts ...Option) error {
	conn, err := dial(opts)
	if err != nil {
		return err
	}
	if err := removeForwardAccept(conn, bridge); err != nil {
		return err
	}
	conn.DelTable(&nftables.Table{Name: TableName(bridge), Family: nftables.TableFamilyIPv4})
	if err := conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %s: %w", TableName(bridge), err)
	}
	return nil
}
