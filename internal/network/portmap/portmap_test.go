package portmap

import (
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/containerd/errdefs"
)

var any4 = netip.IPv4Unspecified()

// freePort asks the kernel for a port nobody holds.
func freePort(t *testing.T, proto string) uint16 {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port)
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func TestExactPort(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		a := New(DefaultFirst, DefaultLast)
		p := freePort(t, proto)
		got, err := a.Reserve(proto, netip.Addr{}, p, p)
		if err != nil || got != p {
			t.Fatalf("%s: Reserve(%d) = %d, %v", proto, p, got, err)
		}
		if !a.Held(proto, any4, p) {
			t.Fatalf("%s: not held", proto)
		}
		// The kernel now refuses the port to others.
		if proto == "tcp" {
			if l, err := net.Listen("tcp4", net.JoinHostPort("0.0.0.0", itoa(p))); err == nil {
				l.Close()
				t.Fatalf("%s: port not actually reserved", proto)
			}
		} else if c, err := net.ListenPacket("udp4", net.JoinHostPort("0.0.0.0", itoa(p))); err == nil {
			c.Close()
			t.Fatalf("%s: port not actually reserved", proto)
		}
		// Berth's own second request gets Docker's message.
		_, err = a.Reserve(proto, netip.Addr{}, p, p)
		want := "Bind for 0.0.0.0:" + itoa(p) + " failed: port is already allocated"
		if err == nil || err.Error() != want || !errdefs.IsConflict(err) {
			t.Fatalf("%s: second Reserve: %v, want %q", proto, err, want)
		}
		a.Release(proto, netip.Addr{}, p)
		a.Release(proto, netip.Addr{}, p)
		if got, err := a.Reserve(proto, any4, p, p); err != nil || got != p {
			t.Fatalf("%s: after release: %d, %v", proto, got, err)
		}
		a.Close()
		if a.Held(proto, any4, p) {
			t.Fatal("held after Close")
		}
	}
}

func TestPortHeldByAnotherProgram(t *testing.T) {
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := uint16(l.Addr().(*net.TCPAddr).Port)
	a := New(DefaultFirst, DefaultLast)
	defer a.Close()
	_, err = a.Reserve("tcp", any4, p, p)
	want := "Error starting userland proxy: listen tcp4 0.0.0.0:" + itoa(p) + ": bind: address already in use"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	// UDP on the same number is a different port.
	if _, err := a.Reserve("udp", any4, p, p); err != nil {
		t.Fatalf("udp: %v", err)
	}
}

func TestEphemeralRoundRobin(t *testing.T) {
	// A small range far from the kernel's own ephemeral range.
	first := uint16(23100)
	a := New(first, first+3)
	defer a.Close()
	// Another program holds first+1: it is skipped.
	l, err := net.Listen("tcp4", "0.0.0.0:"+itoa(first+1))
	if err != nil {
		t.Skipf("port %d busy: %v", first+1, err)
	}
	defer l.Close()
	var got []uint16
	for range 3 {
		p, err := a.Reserve("tcp", any4, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p)
	}
	if got[0] != first || got[1] != first+2 || got[2] != first+3 {
		t.Fatalf("got %v", got)
	}
	if _, err := a.Reserve("tcp", any4, 0, 0); !errdefs.IsResourceExhausted(err) || err.Error() != "all ports are allocated: resource exhausted" {
		t.Fatalf("exhausted: %v", err)
	}
	// A released port is not reused before the rest of the range.
	a.Release("tcp", any4, first)
	if p, err := a.Reserve("tcp", any4, 0, 0); err != nil || p != first {
		t.Fatalf("after release: %d, %v", p, err)
	}
}

func TestRange(t *testing.T) {
	first := uint16(23200)
	a := New(DefaultFirst, DefaultLast)
	defer a.Close()
	for want := first; want <= first+1; want++ {
		p, err := a.Reserve("udp", any4, first, first+1)
		if err != nil || p != want {
			t.Fatalf("got %d, %v; want %d", p, err, want)
		}
	}
	if _, err := a.Reserve("udp", any4, first, first+1); !errdefs.IsResourceExhausted(err) {
		t.Fatalf("full range: %v", err)
	}
}

func TestSpecificIP(t *testing.T) {
	a := New(DefaultFirst, DefaultLast)
	defer a.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	p := freePort(t, "tcp")
	if _, err := a.Reserve("tcp", lo, p, p); err != nil {
		t.Fatal(err)
	}
	// 0.0.0.0 on the same port collides in the kernel, as in Docker.
	if _, err := a.Reserve("tcp", any4, p, p); err == nil || !errdefs.IsConflict(err) {
		t.Fatalf("0.0.0.0 over 127.0.0.1: %v", err)
	}
	// An address the host does not have.
	_, err := a.Reserve("tcp", netip.MustParseAddr("192.0.2.254"), p, p)
	if err == nil || !errdefs.IsInvalidArgument(err) {
		t.Fatalf("foreign address: %v", err)
	}
	for _, bad := range []struct {
		proto string
		ip    netip.Addr
	}{{"sctp", any4}} {
		if _, err := a.Reserve(bad.proto, bad.ip, 0, 0); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

func TestEphemeralRangeFromKernel(t *testing.T) {
	first, last := EphemeralRange()
	if first == 0 || last < first {
		t.Fatalf("%d-%d", first, last)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }
