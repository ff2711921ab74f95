package portmap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/containerd/errdefs"
)

// Default ephemeral range, the kernel's default ip_local_port_range.
const (
	DefaultFirst = 32768
	DefaultLast  = 60999
)

// EphemeralRange is the kernel's ip_local_port_range, where Docker takes
// ports for bindings without a host port.
func EphemeralRange() (first, last uint16) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return DefaultFirst, DefaultLast
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return DefaultFirst, DefaultLast
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 16)
	hi, err2 := strconv.ParseUint(f[1], 10, 16)
	if err1 != nil || err2 != nil || lo == 0 || hi < lo {
		return DefaultFirst, DefaultLast
	}
	return uint16(lo), uint16(hi)
}

// IPv6Listenable reports whether the host can take IPv6 sockets, as
// Docker decides whether a default binding also takes the port on ::.
func IPv6Listenable() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// Key names one reservation.
type Key struct {
	Proto string     // "tcp" or "udp"
	IP    netip.Addr // 0.0.0.0 for every IPv4 address, :: for every IPv6 one
	Port  uint16
}

// Allocator hands out and holds host ports. It is safe for concurrent use.
type Allocator struct {
	mu          sync.Mutex
	first, last uint16
	next        map[string]uint16 // per protocol: where the next ephemeral search starts
	held        map[Key]io.Closer
}

// New makes an allocator drawing ephemeral ports from [first, last].
func New(first, last uint16) *Allocator {
	return &Allocator{first: first, last: last, next: map[string]uint16{}, held: map[Key]io.Closer{}}
}

func normIP(ip netip.Addr) netip.Addr {
	if !ip.IsValid() {
		return netip.IPv4Unspecified()
	}
	return ip.Unmap()
}

// Reserve takes a host port for proto on ip (invalid or 0.0.0.0 meaning
// every IPv4 address, :: every IPv6 one) and holds it until Release:
//   - begin == 0: the next free port of the ephemeral range, round robin
//     as Docker does, so a port just released is not handed out again at
//     once;
//   - begin == end: exactly that port;
//   - begin < end: the first free port of the range.
//
// Errors carry Docker's messages: "Bind for 0.0.0.0:8080 failed: port is
// already allocated" when berth holds it, the kernel's error (prefixed as
// Docker's proxy prefixes it) when another program does.
func (a *Allocator) Reserve(proto string, ip netip.Addr, begin, end uint16) (uint16, error) {
	return a.ReserveAll(proto, []netip.Addr{ip}, begin, end)
}

// ReserveAll is Reserve of one port on every address of ips at once, as
// Docker takes a default binding's port on 0.0.0.0 and on :: alike.
func (a *Allocator) ReserveAll(proto string, ips []netip.Addr, begin, end uint16) (uint16, error) {
	if proto != "tcp" && proto != "udp" {
		return 0, fmt.Errorf("unsupported protocol %q for a port binding: %w", proto, errdefs.ErrInvalidArgument)
	}
	if len(ips) == 0 {
		ips = []netip.Addr{{}}
	}
	ips = slices.Clone(ips)
	for i := range ips {
		ips[i] = normIP(ips[i])
	}
	if begin > end {
		return 0, fmt.Errorf("invalid port range %d-%d: %w", begin, end, errdefs.ErrInvalidArgument)
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	if begin != 0 && begin == end {
		for _, ip := range ips {
			if _, ok := a.held[Key{proto, ip, begin}]; ok {
				return 0, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Bind for %s failed: port is already allocated",
					net.JoinHostPort(ip.String(), strconv.Itoa(int(begin)))))
			}
		}
		if err := a.bindAllLocked(proto, ips, begin); err != nil {
			return 0, bindError(err)
		}
		return begin, nil
	}

	first, last, start := begin, end, begin
	if begin == 0 {
		first, last = a.first, a.last
		start = a.next[proto]
		if start < first || start > last {
			start = first
		}
	}
	size := int(last) - int(first) + 1
next:
	for i := 0; i < size; i++ {
		p := uint16(int(first) + (int(start)-int(first)+i)%size)
		for _, ip := range ips {
			if _, ok := a.held[Key{proto, ip, p}]; ok {
				continue next
			}
		}
		err := a.bindAllLocked(proto, ips, p)
		if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) {
			continue // another program has it: try the next one
		}
		if err != nil {
			return 0, bindError(err)
		}
		if begin == 0 {
			a.next[proto] = p + 1
		}
		return p, nil
	}
	return 0, fmt.Errorf("all ports are allocated: %w", errdefs.ErrResourceExhausted)
}

// bindAllLocked binds port on every address of ips, or on none. a.mu held.
func (a *Allocator) bindAllLocked(proto string, ips []netip.Addr, port uint16) error {
	socks := make([]io.Closer, 0, len(ips))
	for _, ip := range ips {
		c, err := bind(Key{proto, ip, port})
		if err != nil {
			for _, c := range socks {
				_ = c.Close()
			}
			return err
		}
		socks = append(socks, c)
	}
	for i, ip := range ips {
		a.held[Key{proto, ip, port}] = socks[i]
	}
	return nil
}

// Release frees a reservation; releasing a free port is a no-op.
func (a *Allocator) Release(proto string, ip netip.Addr, port uint16) {
	k := Key{proto, normIP(ip), port}
	a.mu.Lock()
	c, ok := a.held[k]
	delete(a.held, k)
	a.mu.Unlock()
	if ok {
		_ = c.Close()
	}
}

// Held reports whether the allocator holds a port.
func (a *Allocator) Held(proto string, ip netip.Addr, port uint16) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.held[Key{proto, normIP(ip), port}]
	return ok
}

// Close releases every reservation.
func (a *Allocator) Close() {
	a.mu.Lock()
	held := a.held
	a.held = map[Key]io.Closer{}
	a.mu.Unlock()
	for _, c := range held {
		_ = c.Close()
	}
}

// bind holds k's port: on an IPv6 address an IPv6-only socket, so that
// 0.0.0.0 and :: are taken (and refused) each on its own, as Docker's.
func bind(k Key) (io.Closer, error) {
	addr := net.JoinHostPort(k.IP.String(), strconv.Itoa(int(k.Port)))
	family := "4"
	if k.IP.Is6() {
		family = "6"
	}
	if k.Proto == "udp" {
		return net.ListenPacket("udp"+family, addr)
	}
	return net.Listen("tcp"+family, addr)
}

// bindError words a failed bind as dockerd 20.10 does, whose proxy got the
// same error from the same call: "Error starting userland proxy: listen
// tcp4 0.0.0.0:8080: bind: address already in use".
func bindError(err error) error {
	msg := "Error starting userland proxy: " + err.Error()
	if errors.Is(err, syscall.EADDRINUSE) {
		return errdefs.ErrConflict.WithMessage(msg)
	}
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		return errdefs.ErrInvalidArgument.WithMessage(msg)
	}
	return errdefs.ErrUnknown.WithMessage(msg)
}
