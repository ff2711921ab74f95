package netnstest

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/network/netns"
)

// Do runs fn inside the namespace at path; an error fails the test.
func Do(t testing.TB, path string, fn func() error) {
	t.Helper()
	if err := netns.Do(path, fn); err != nil {
		t.Fatal(err)
	}
}

// Serve runs, inside the namespace at path, a server on addr ("ip:port"
// or ":port") that answers each TCP connection, or each UDP datagram
// (proto "udp"), with greeting followed by the client's IP address. It
// stops when the test ends.
func Serve(t testing.TB, path, proto, addr, greeting string) {
	t.Helper()
	answer := func(from net.Addr) []byte {
		host, _, _ := net.SplitHostPort(from.String())
		return []byte(greeting + host)
	}
	if proto == "udp" {
		var pc net.PacketConn
		Do(t, path, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err })
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 1500)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = pc.WriteTo(answer(from), from)
			}
		}()
		return
	}
	var ln net.Listener
	Do(t, path, func() (err error) { ln, err = net.Listen("tcp4", addr); return err })
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write(answer(c.RemoteAddr()))
			c.Close()
		}
	}()
}

// Ask connects to addr from the namespace at path (from the caller's
// when path is "") and returns the server's answer. Over UDP it sends a
// datagram first and reads one back.
func Ask(path, proto, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	dial := func() (err error) {
		family := "4"
		if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Is6() {
			family = "6"
		}
		c, err = net.DialTimeout(proto+family, addr, timeout)
		return err
	}
	var err error
	if path == "" {
		err = dial()
	} else {
		err = netns.Do(path, dial)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if proto == "udp" {
		if _, err := c.Write([]byte("hi")); err != nil {
			return "", err
		}
		buf := make([]byte, 1500)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}
