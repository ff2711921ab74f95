package portmap

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Ports that nftables cannot forward (an IPv6 host address for an IPv4
// container, or any port when the daemon runs with --iptables=false) are
// served as Docker's userland proxy serves them: the reserved socket
// accepts, and each connection or UDP flow is relayed to the container.

// udpFlowTimeout ends a UDP flow that has been quiet this long, as
// docker-proxy's conntrack timeout.
const udpFlowTimeout = 90 * time.Second

// Proxy relays what reaches the reservation k to target. The relay stops
// with Release; proxying a reservation that already relays is a no-op.
func (a *Allocator) Proxy(k Key, target netip.AddrPort) error {
	k.IP = normIP(k.IP)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch sock := a.held[k].(type) {
	case nil:
		return fmt.Errorf("%s port %s is not reserved", k.Proto, net.JoinHostPort(k.IP.String(), fmt.Sprint(k.Port)))
	case net.Listener:
		p := &tcpProxy{ln: sock, target: target.String(), conns: map[net.Conn]struct{}{}}
		a.held[k] = p
		go p.serve()
	case *net.UDPConn:
		p := &udpProxy{conn: sock, target: net.UDPAddrFromAddrPort(target), flows: map[netip.AddrPort]*net.UDPConn{}}
		a.held[k] = p
		go p.serve()
	}
	return nil
}

type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors: wait, as net/http does
			continue
		}
		go p.relay(c)
	}
}

// track adds c to the open connections; false once the proxy is closed.
func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	for _, c := range cs {
		delete(p.conns, c)
	}
	p.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}

// relay copies both ways between a client and the container, passing
// each side's end of stream on as a half close.
func (p *tcpProxy) relay(client net.Conn) {
	backend, err := net.DialTimeout("tcp", p.target, 10*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, backend) {
		_ = client.Close()
		_ = backend.Close()
		return
	}
	defer p.untrack(client, backend)
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	wg.Wait()
}

func (p *tcpProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	err := p.ln.Close()
	for c := range conns {
		_ = c.Close()
	}
	return err
}

type udpProxy struct {
	conn   *net.UDPConn
	target *net.UDPAddr
	mu     sync.Mutex
	closed bool
	flows  map[netip.AddrPort]*net.UDPConn
}

func (p *udpProxy) serve() {
	buf := make([]byte, 64<<10)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		flow := p.flow(from)
		if flow == nil {
			continue
		}
		_, _ = flow.Write(buf[:n])
	}
}

// flow is the socket that carries a client's datagrams to the container,
// made on its first one; nil when it cannot be made.
func (p *udpProxy) flow(from netip.AddrPort) *net.UDPConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := p.flows[from]; f != nil || p.closed {
		return f
	}
	f, err := net.DialUDP("udp", nil, p.target)
	if err != nil {
		return nil
	}
	p.flows[from] = f
	go p.replies(from, f)
	return f
}

// replies sends the container's answers on a flow back to its client,
// until the flow has been quiet for udpFlowTimeout.
func (p *udpProxy) replies(to netip.AddrPort, f *net.UDPConn) {
	defer func() {
		p.mu.Lock()
		if p.flows[to] == f {
			delete(p.flows, to)
		}
		p.mu.Unlock()
		_ = f.Close()
	}()
	buf := make([]byte, 64<<10)
	for {
		_ = f.SetReadDeadline(time.Now().Add(udpFlowTimeout))
		n, err := f.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && !ne.Timeout() && !errors.Is(err, net.ErrClosed) {
				continue // an ICMP error for one datagram: keep the flow
			}
			return
		}
		if _, err := p.conn.WriteToUDPAddrPort(buf[:n], to); errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (p *udpProxy) Close() error {
	p.mu.Lock()
	p.closed = true
	flows := p.flows
	p.flows = map[netip.AddrPort]*net.UDPConn{}
	p.mu.Unlock()
	err := p.conn.Close()
	for _, f := range flows {
		_ = f.Close()
	}
	return err
}
