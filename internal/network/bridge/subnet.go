package bridge

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// DefaultPools are Docker's default address pools for local networks, in
// the order Docker tries them: 172.17.0.0/16 … 172.31.0.0/16, then
// 192.168.0.0/20 … 192.168.240.0/20.
func DefaultPools() []netip.Prefix {
	var out []netip.Prefix
	for b := 17; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return out
}

// FirstFree is the first candidate that overlaps none of used.
func FirstFree(candidates, used []netip.Prefix) (netip.Prefix, bool) {
	for _, c := range candidates {
		if !overlapsAny(c, used) {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// usedPrefixes are the IPv4 networks the host already uses: every
// interface address and every route except the default route, leaving out
// the link exclude (our own bridge, whose address is ours to keep).
func (c *Conn) usedPrefixes(exclude int) ([]netip.Prefix, error) {
	var used []netip.Prefix
	addrs, err := c.h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if a.LinkIndex == exclude {
			continue
		}
		if p, ok := prefixOf(a.IPNet); ok {
			used = append(used, p.Masked())
		}
	}
	routes, err := c.h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.LinkIndex == exclude || r.Dst == nil {
			continue
		}
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

// UsedPrefixes are the IPv4 networks the host uses (addresses and routes),
// for choosing a new network's subnet.
func (c *Conn) UsedPrefixes() ([]netip.Prefix, error) { return c.usedPrefixes(-1) }

// Overlaps reports whether p overlaps any of used.
func Overlaps(p netip.Prefix, used []netip.Prefix) bool { return overlapsAny(p, used) }
