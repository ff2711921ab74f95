package ipam

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"

	"github.com/containerd/errdefs"
)

// Pool allocates the host addresses of one IPv4 subnet. The network and
// broadcast addresses and the gateway are never handed out. A Pool is not
// safe for concurrent use; the network service serialises access.
type Pool struct {
	subnet  netip.Prefix
	gateway netip.Addr
	// rng, when valid, limits Allocate to a part of the subnet (Docker's
	// --ip-range and --fixed-cidr); Reserve may still use the whole subnet.
	rng netip.Prefix
	// used maps each allocated address to its owner (a container ID).
	used map[netip.Addr]string
}

// SetRange limits Allocate to the addresses of r, which must lie within
// the subnet. An invalid r lifts the limit.
func (p *Pool) SetRange(r netip.Prefix) error {
	if !r.IsValid() {
		p.rng = netip.Prefix{}
		return nil
	}
	r = r.Masked()
	if r.Addr().Is4() != p.subnet.Addr().Is4() || r.Bits() < p.subnet.Bits() || !p.subnet.Contains(r.Addr()) {
		return fmt.Errorf("ipam: range %s is not within %s: %w", r, p.subnet, errdefs.ErrInvalidArgument)
	}
	p.rng = r
	return nil
}

// Contains reports whether a is in the pool's subnet.
func (p *Pool) Contains(a netip.Addr) bool { return p.subnet.Contains(a) }

// New makes an empty pool. The subnet must have room for at least two
// hosts besides the gateway, and the gateway must lie inside it. An IPv6
// subnet has no broadcast address; its first (subnet-router anycast)
// address is never handed out either.
func New(subnet netip.Prefix, gateway netip.Addr) (*Pool, error) {
	subnet = subnet.Masked()
	if !subnet.IsValid() {
		return nil, fmt.Errorf("ipam: invalid subnet: %w", errdefs.ErrInvalidArgument)
	}
	if subnet.Bits() > subnet.Addr().BitLen()-2 {
		return nil, fmt.Errorf("ipam: subnet %s is too small: %w", subnet, errdefs.ErrInvalidArgument)
	}
	if gateway.Is4() != subnet.Addr().Is4() || !subnet.Contains(gateway) || gateway == subnet.Addr() || gateway == Broadcast(subnet) {
		return nil, fmt.Errorf("ipam: gateway %s is not a host address of %s: %w", gateway, subnet, errdefs.ErrInvalidArgument)
	}
	return &Pool{subnet: subnet, gateway: gateway, used: map[netip.Addr]string{}}, nil
}

// Subnet is the pool's subnet (masked).
func (p *Pool) Subnet() netip.Prefix { return p.subnet }

// Gateway is the address reserved for the bridge.
func (p *Pool) Gateway() netip.Addr { return p.gateway }

// Allocate hands out the lowest free address, as Docker's default bridge
// does: a container started after another one stopped gets the same address,
// and the MAC derived from it, so peers' ARP caches stay right.
func (p *Pool) Allocate(owner string) (netip.Addr, error) {
	last := Broadcast(p.subnet)
	first := p.subnet.Addr().Next()
	if p.rng.IsValid() {
		first = p.rng.Addr()
	}
	for a := first; a.IsValid() && a != last && p.subnet.Contains(a); a = a.Next() {
		if a == p.gateway || a == p.subnet.Addr() {
			continue
		}
		if p.rng.IsValid() && !p.rng.Contains(a) {
			break
		}
		if _, taken := p.used[a]; !taken {
			p.used[a] = owner
			return a, nil
		}
	}
	family := "IPv4"
	if !p.subnet.Addr().Is4() {
		family = "IPv6"
	}
	return netip.Addr{}, fmt.Errorf("no available %s addresses on this network's address pools: %s: %w",
		family, p.subnet, errdefs.ErrResourceExhausted)
}

// Reserve marks a specific address as used by owner, for restoring live
// containers after a restart. Reserving an address already held by the
// same owner is a no-op.
func (p *Pool) Reserve(a netip.Addr, owner string) error {
	if !p.hostAddr(a) {
		return fmt.Errorf("ipam: address %s is not a host address of %s: %w", a, p.subnet, errdefs.ErrInvalidArgument)
	}
	if held, taken := p.used[a]; taken && held != owner {
		return fmt.Errorf("ipam: address %s is already in use: %w", a, errdefs.ErrConflict)
	}
	p.used[a] = owner
	return nil
}

// Release frees an address. Releasing a free address is a no-op.
func (p *Pool) Release(a netip.Addr) {
	delete(p.used, a)
}

// Owner is who holds a, or "" when it is free.
func (p *Pool) Owner(a netip.Addr) string { return p.used[a] }

// Allocated returns a copy of the address → owner table.
func (p *Pool) Allocated() map[netip.Addr]string {
	out := make(map[netip.Addr]string, len(p.used))
	for a, o := range p.used {
		out[a] = o
	}
	return out
}

// Size is the number of addresses the pool can hand out.
// It is capped at 1<<30 for large IPv6 subnets.
func (p *Pool) Size() int {
	host := p.subnet.Addr().BitLen() - p.subnet.Bits()
	if host >= 30 {
		return 1 << 30
	}
	if !p.subnet.Addr().Is4() {
		return 1<<host - 2 // anycast, gateway
	}
	return 1<<host - 3 // network, broadcast, gateway
}

func (p *Pool) hostAddr(a netip.Addr) bool {
	return a.Is4() == p.subnet.Addr().Is4() && p.subnet.Contains(a) && a != p.subnet.Addr() && a != Broadcast(p.subnet) && a != p.gateway
}

// Broadcast is the last address of an IPv4 prefix; IPv6 has none (the
// invalid Addr).
func Broadcast(pfx netip.Prefix) netip.Addr {
	if !pfx.Addr().Is4() {
		return netip.Addr{}
	}
	b := pfx.Masked().Addr().As4()
	host := uint32(1)<<(32-pfx.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// state is the persisted form of a Pool.
type state struct {
	Subnet    netip.Prefix `json:"subnet"`
	Gateway   netip.Addr   `json:"gateway"`
	Allocated []allocation `json:"allocated"`
}

type allocation struct {
	Addr  netip.Addr `json:"addr"`
	Owner string     `json:"owner"`
}

// MarshalJSON writes the subnet, gateway and allocations, sorted so that
// the same state always gives the same bytes.
func (p *Pool) MarshalJSON() ([]byte, error) {
	st := state{Subnet: p.subnet, Gateway: p.gateway, Allocated: make([]allocation, 0, len(p.used))}
	for a, o := range p.used {
		st.Allocated = append(st.Allocated, allocation{Addr: a, Owner: o})
	}
	sort.Slice(st.Allocated, func(i, j int) bool { return st.Allocated[i].Addr.Less(st.Allocated[j].Addr) })
	return json.Marshal(st)
}

// UnmarshalJSON restores a pool written by MarshalJSON, validating it as
// New and Reserve do.
func (p *Pool) UnmarshalJSON(data []byte) error {
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("ipam: %w: %w", err, errdefs.ErrDataLoss)
	}
	np, err := New(st.Subnet, st.Gateway)
	if err != nil {
		return err
	}
	for _, al := range st.Allocated {
		if err := np.Reserve(al.Addr, al.Owner); err != nil {
			return err
		}
	}
	*p = *np
	return nil
}
