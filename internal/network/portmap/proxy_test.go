package portmap

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestProxy: a reservation on ::1 relays TCP (both ways, with the
// client's half close passed on) and UDP to an IPv4 target, and stops
// when released.
func TestProxy(t *testing.T) {
	if _, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	a := New(DefaultFirst, DefaultLast)
	defer a.Close()
	lo6 := netip.MustParseAddr("::1")

	// TCP: the target answers with what it read, once the client is done.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				_, _ = c.Write(append([]byte("got "), b...))
			}()
		}
	}()
	port, err := a.Reserve("tcp", lo6, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := Key{"tcp", lo6, port}
	if err := a.Proxy(k, ln.Addr().(*net.TCPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp6", net.JoinHostPort("::1", itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write([]byte("ping"))
	_ = c.(*net.TCPConn).CloseWrite()
	if b, err := io.ReadAll(c); err != nil || string(b) != "got ping" {
		t.Fatalf("TCP through the proxy: %q %v", b, err)
	}
	c.Close()

	// UDP: the target echoes.
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte("got "), buf[:n]...), from)
		}
	}()
	uport, err := a.Reserve("udp", lo6, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Proxy(Key{"udp", lo6, uport}, pc.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	u, err := net.Dial("udp6", net.JoinHostPort("::1", itoa(uport)))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	_ = u.SetDeadline(time.Now().Add(10 * time.Second))
	for _, msg := range []string{"one", "two"} {
		_, _ = u.Write([]byte(msg))
		buf := make([]byte, 64)
		n, err := u.Read(buf)
		if err != nil || string(buf[:n]) != "got "+msg {
			t.Fatalf("UDP through the proxy: %q %v", buf[:n], err)
		}
	}

	// Released: nothing listens any more.
	a.Release("tcp", lo6, port)
	if c, err := net.Dial("tcp6", net.JoinHostPort("::1", itoa(port))); err == nil {
		c.Close()
		t.Fatal("the proxy still accepts after Release")
	}
	if err := a.Proxy(k, ln.Addr().(*net.TCPAddr).AddrPort()); err == nil {
		t.Fatal("Proxy of a released port")
	}
}

// TestReserveAll: a default binding takes the same port on 0.0.0.0 and
// ::, and a port held on either is skipped for both.
func TestReserveAll(t *testing.T) {
	if _, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6: %v", err)
	}
	any4, any6 := netip.IPv4Unspecified(), netip.IPv6Unspecified()
	a := New(DefaultFirst, DefaultLast)
	defer a.Close()
	p, err := a.ReserveAll("tcp", []netip.Addr{any4, any6}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Held("tcp", any4, p) || !a.Held("tcp", any6, p) {
		t.Fatalf("port %d not held on both", p)
	}
	// Another program on [::]:p+1: the next pair skips it.
	other, err := net.Listen("tcp6", net.JoinHostPort("::", itoa(p+1)))
	if err != nil {
		t.Skipf("port %d: %v", p+1, err)
	}
	defer other.Close()
	q, err := a.ReserveAll("tcp", []netip.Addr{any4, any6}, 0, 0)
	if err != nil || q == p+1 {
		t.Fatalf("second pair: %d %v", q, err)
	}
	if a.Held("tcp", any4, p+1) {
		t.Fatalf("0.0.0.0:%d held although :: was taken", p+1)
	}
	if _, err := a.Reserve("tcp", any6, p, p); err == nil || err.Error() != "Bind for [::]:"+itoa(p)+" failed: port is already allocated" {
		t.Fatalf("taken on ::: %v", err)
	}
}
