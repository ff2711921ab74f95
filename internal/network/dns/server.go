package dns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/miekg/dns"
)

// Address is where the server listens inside each namespace, as Docker's.
const Address = "127.0.0.11:53"

const (
	// ttl of the answers for container names, as Docker's.
	ttl = 600
	// upstreamTimeout bounds each upstream exchange, so a dead resolver
	// costs a client one retry, not its whole timeout.
	upstreamTimeout = 2 * time.Second
	// maxForwards caps the queries waiting on upstreams at once (Docker
	// uses the same number): past it a query gets SERVFAIL at once
	// instead of another goroutine and socket.
	maxForwards = 100
	// idleTimeout closes idle client TCP connections.
	idleTimeout = 10 * time.Second
)

// Records is the querying container's view of names: the containers on
// its own networks only.
type Records interface {
	// LookupIP answers a container name, network alias, short ID or
	// "name.network" (case-insensitive); found is false for names that
	// are not the networks' own (they are forwarded).
	LookupIP(name string) (v4, v6 []netip.Addr, found bool)
	// LookupPTR answers reverse lookups of the networks' addresses.
	LookupPTR(ip netip.Addr) (name string, found bool)
}

// Server is the DNS server of one container network namespace: a UDP and
// a TCP server on sockets opened inside it, served by the daemon's own
// goroutines (which stay in the host's namespace, where the upstreams
// are reached).
type Server struct {
	rec       Records
	upstreams []string
	udp, tcp  *dns.Server
	// ctx ends on Close, so that queries waiting on an upstream give up
	// and Close does not wait for their timeouts.
	ctx      context.Context
	cancel   context.CancelFunc
	forwards chan struct{} // semaphore of maxForwards
	done     sync.WaitGroup
	close    sync.Once
}

// Start listens on 127.0.0.11:53 (UDP and TCP) inside the network
// namespace mounted at netnsPath and answers from rec; other names go to
// upstreams ("ip:port", or "ip" for port 53), from the host's namespace.
// On error nothing is left open.
func Start(netnsPath string, rec Records, upstreams []string) (*Server, error) {
	ups := make([]string, 0, len(upstreams))
	for _, u := range upstreams {
		if _, _, err := net.SplitHostPort(u); err != nil {
			u = net.JoinHostPort(strings.Trim(u, "[]"), "53")
		}
		ups = append(ups, u)
	}

	var pc net.PacketConn
	var ln net.Listener
	err := netns.Do(netnsPath, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", Address); err != nil {
			return err
		}
		if ln, err = net.Listen("tcp4", Address); err != nil {
			pc.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded DNS in %s: %w", netnsPath, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		rec:       rec,
		upstreams: ups,
		ctx:       ctx,
		cancel:    cancel,
		forwards:  make(chan struct{}, maxForwards),
	}
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serveUDP)}
	s.tcp = &dns.Server{Listener: ln, Handler: dns.HandlerFunc(s.serveTCP), IdleTimeout: func() time.Duration { return idleTimeout }}
	if err := s.serve(s.udp); err != nil {
		cancel()
		pc.Close()
		ln.Close()
		return nil, fmt.Errorf("embedded DNS in %s: %w", netnsPath, err)
	}
	if err := s.serve(s.tcp); err != nil {
		cancel()
		_ = s.udp.Shutdown()
		ln.Close()
		s.done.Wait()
		return nil, fmt.Errorf("embedded DNS in %s: %w", netnsPath, err)
	}
	return s, nil
}

// serve runs srv and returns once it is accepting queries (Shutdown fails
// on a server that has not started yet), or with the error that stopped it.
func (s *Server) serve(srv *dns.Server) error {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	errc := make(chan error, 1)
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		errc <- srv.ActivateAndServe()
	}()
	select {
	case <-started:
		return nil
	case err := <-errc:
		if err == nil {
			err = errors.New("server stopped")
		}
		return err
	}
}

// Close stops both servers and closes their sockets; queries being
// forwarded are abandoned. It returns once the sockets are closed, so the
// address can be bound again.
func (s *Server) Close() error {
	var err error
	s.close.Do(func() {
		s.cancel()
		err = errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
		s.done.Wait()
	})
	return err
}

func (s *Server) serveUDP(w dns.ResponseWriter, q *dns.Msg) { s.serveDNS(w, q, "udp") }
func (s *Server) serveTCP(w dns.ResponseWriter, q *dns.Msg) { s.serveDNS(w, q, "tcp") }

func (s *Server) serveDNS(w dns.ResponseWriter, q *dns.Msg, proto string) {
	if len(q.Question) != 1 {
		_ = w.WriteMsg(new(dns.Msg).SetRcode(q, dns.RcodeFormatError))
		return
	}
	resp := s.answer(q)
	if resp == nil {
		resp = s.forward(q, proto)
	}
	if proto == "udp" {
		// An answer relayed from TCP may not fit the client's datagram;
		// Truncate sets TC so that it retries over TCP.
		size := dns.MinMsgSize
		if opt := q.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
}

// answer answers the networks' own names, or returns nil for a query to
// forward.
func (s *Server) answer(q *dns.Msg) *dns.Msg {
	question := q.Question[0]
	if question.Qclass != dns.ClassINET {
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(question.Name, "."))
	if question.Qtype == dns.TypePTR {
		return s.answerPTR(q, name)
	}
	v4, v6, found := s.rec.LookupIP(name)
	if !found {
		return nil
	}
	resp := reply(q)
	// A known name without an address of the asked family, or asked for
	// another type (MX, TXT...), is an empty NOERROR answer: forwarding it
	// would ask the outside world about a container's name.
	hdr := dns.RR_Header{Name: question.Name, Class: dns.ClassINET, Ttl: ttl}
	switch question.Qtype {
	case dns.TypeA:
		hdr.Rrtype = dns.TypeA
		for _, ip := range shuffled(v4) {
			resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: ip.AsSlice()})
		}
	case dns.TypeAAAA:
		hdr.Rrtype = dns.TypeAAAA
		for _, ip := range shuffled(v6) {
			resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
		}
	}
	return resp
}

func (s *Server) answerPTR(q *dns.Msg, name string) *dns.Msg {
	ip, ok := reverseAddr(name)
	if !ok {
		return nil
	}
	host, found := s.rec.LookupPTR(ip)
	if !found {
		return nil
	}
	resp := reply(q)
	resp.Answer = []dns.RR{&dns.PTR{
		Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: ttl},
		Ptr: dns.Fqdn(host),
	}}
	return resp
}

// reply is an authoritative answer to q, offering recursion as Docker's
// server does (it forwards).
func reply(q *dns.Msg) *dns.Msg {
	resp := new(dns.Msg).SetReply(q)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	return resp
}

// shuffled returns ips in a random order: answers for a shared alias
// rotate, which is the round robin clients see.
func shuffled(ips []netip.Addr) []netip.Addr {
	out := append([]netip.Addr(nil), ips...)
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// reverseAddr parses an in-addr.arpa or ip6.arpa name (without the
// trailing dot).
func reverseAddr(name string) (netip.Addr, bool) {
	if v4, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		parts := strings.Split(v4, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, 3; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		ip, err := netip.ParseAddr(strings.Join(parts, "."))
		return ip, err == nil && ip.Is4()
	}
	if v6, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		nibbles := strings.Split(v6, ".")
		if len(nibbles) != 32 {
			return netip.Addr{}, false
		}
		var b strings.Builder
		for i := 31; i >= 0; i-- {
			if len(nibbles[i]) != 1 {
				return netip.Addr{}, false
			}
			b.WriteString(nibbles[i])
			if i%4 == 0 && i > 0 {
				b.WriteByte(':')
			}
		}
		ip, err := netip.ParseAddr(b.String())
		return ip, err == nil && ip.Is6()
	}
	return netip.Addr{}, false
}

// forward relays q unchanged to the upstreams in order and returns the
// first usable answer; SERVFAIL when there is none. Over UDP a truncated
// answer is asked again over TCP. A SERVFAIL or REFUSED upstream answer
// moves on to the next upstream, as Docker does.
func (s *Server) forward(q *dns.Msg, proto string) *dns.Msg {
	select {
	case s.forwards <- struct{}{}:
		defer func() { <-s.forwards }()
	default:
		return new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
	}
	for _, up := range s.upstreams {
		resp, err := s.exchange(q, proto, up)
		if err == nil && resp.Truncated && proto == "udp" {
			// The client may still retry over TCP itself if this
			// fails: keep the truncated answer then.
			if full, err := s.exchange(q, "tcp", up); err == nil {
				resp = full
			}
		}
		if err != nil || resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			if s.ctx.Err() != nil {
				break
			}
			continue
		}
		resp.Id = q.Id
		return resp
	}
	resp := new(dns.Msg).SetRcode(q, dns.RcodeServerFailure)
	resp.RecursionAvailable = true
	return resp
}

func (s *Server) exchange(q *dns.Msg, proto, upstream string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(s.ctx, upstreamTimeout)
	defer cancel()
	c := &dns.Client{Net: proto, Timeout: upstreamTimeout, UDPSize: dns.MaxMsgSize}
	resp, _, err := c.ExchangeContext(ctx, q, upstream)
	return resp, err
}
