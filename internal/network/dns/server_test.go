package dns

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
)

// records is a fixed view of names, as the network service would give.
type records map[string][]netip.Addr

func (r records) LookupIP(name string) (v4, v6 []netip.Addr, found bool) {
	ips, found := r[strings.ToLower(name)]
	for _, ip := range ips {
		if ip.Is4() {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	return v4, v6, found
}

func (r records) LookupPTR(ip netip.Addr) (string, bool) {
	for name, ips := range r {
		if strings.Contains(name, ".") {
			for _, a := range ips {
				if a == ip {
					return name, true
				}
			}
		}
	}
	return "", false
}

var testRecords = records{
	"db":          {netip.MustParseAddr("10.50.0.2"), netip.MustParseAddr("fd00:50::2")},
	"db.appnet":   {netip.MustParseAddr("10.50.0.2"), netip.MustParseAddr("fd00:50::2")},
	"web":         {netip.MustParseAddr("10.50.0.3")},
	"database":    {netip.MustParseAddr("10.50.0.2")},
	"cache":       {netip.MustParseAddr("10.50.0.4"), netip.MustParseAddr("10.50.0.5"), netip.MustParseAddr("10.50.0.6"), netip.MustParseAddr("10.50.0.7")},
	"nothing":     nil,
	"abcdef12345": {netip.MustParseAddr("10.50.0.3")},
}

// newNS makes a network namespace with lo up, as a container's.
func newNS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := filepath.Join(t.TempDir(), "netns")
	if err := netns.PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.ReleaseDir(dir) })
	path := filepath.Join(dir, "ctr")
	if err := netns.Create(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = netns.Delete(path) })
	return path
}

func start(t *testing.T, path string, upstreams ...string) *Server {
	t.Helper()
	s, err := Start(path, testRecords, upstreams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ask sends a query to the embedded server from inside the namespace.
func ask(t *testing.T, path, proto, name string, qtype uint16) *dns.Msg {
	t.Helper()
	resp, err := exchange(path, proto, name, qtype)
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, dns.TypeToString[qtype], name, err)
	}
	return resp
}

func exchange(path, proto, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg).SetQuestion(name, qtype)
	c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
	var resp *dns.Msg
	err := netns.Do(path, func() (err error) {
		resp, _, err = c.Exchange(q, Address)
		return err
	})
	return resp, err
}

func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		case *dns.PTR:
			out = append(out, rr.Ptr)
		default:
			out = append(out, rr.String())
		}
	}
	return out
}

func TestAnswersNames(t *testing.T) {
	path := newNS(t)
	start(t, path)

	for _, tc := range []struct {
		proto, name string
		qtype       uint16
		want        string
	}{
		{"udp", "db.", dns.TypeA, "10.50.0.2"},
		{"udp", "DB.", dns.TypeA, "10.50.0.2"},
		{"udp", "database.", dns.TypeA, "10.50.0.2"},
		{"udp", "db.appnet.", dns.TypeA, "10.50.0.2"},
		{"udp", "abcdef12345.", dns.TypeA, "10.50.0.3"},
		{"udp", "db.", dns.TypeAAAA, "fd00:50::2"},
		{"tcp", "db.", dns.TypeA, "10.50.0.2"},
		{"tcp", "web.", dns.TypeA, "10.50.0.3"},
		// Known names without such records: NOERROR, nothing asked upstream.
		{"udp", "web.", dns.TypeAAAA, ""},
		{"udp", "nothing.", dns.TypeA, ""},
		{"udp", "db.", dns.TypeMX, ""},
		// Reverse lookups.
		{"udp", "2.0.50.10.in-addr.arpa.", dns.TypePTR, "db.appnet."},
		{"udp", "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR, "db.appnet."},
	} {
		resp := ask(t, path, tc.proto, tc.name, tc.qtype)
		got := strings.Join(answers(resp), ",")
		if resp.Rcode != dns.RcodeSuccess || got != tc.want || !resp.Authoritative {
			t.Errorf("%s %s %s: rcode %s aa %v answers %q, want NOERROR aa %q", tc.proto, dns.TypeToString[tc.qtype], tc.name,
				dns.RcodeToString[resp.Rcode], resp.Authoritative, got, tc.want)
		}
		for _, rr := range resp.Answer {
			if rr.Header().Ttl != 600 || rr.Header().Name != tc.name {
				t.Errorf("%s: answer %s, want TTL 600 for the asked name", tc.name, rr)
			}
		}
	}
}

func TestRoundRobin(t *testing.T) {
	path := newNS(t)
	start(t, path)

	orders := map[string]bool{}
	for range 30 {
		got := answers(ask(t, path, "udp", "cache.", dns.TypeA))
		if len(got) != 4 {
			t.Fatalf("cache: %v, want 4 addresses", got)
		}
		orders[strings.Join(got, ",")] = true
	}
	if len(orders) < 2 {
		t.Fatalf("30 answers for a shared alias all in one order: %v", orders)
	}
}

// upstream runs a DNS server in the host's namespace on 127.0.0.1 (UDP
// and TCP on the same port) answering with handler.
func upstream(t *testing.T, handler dns.HandlerFunc) string {
	t.Helper()
	// The same port over UDP and TCP: the kernel's free UDP port may be
	// taken over TCP (an outgoing connection's), so try a few.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp4", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

func exampleUpstream(t *testing.T, rcode int) string {
	return upstream(t, func(w dns.ResponseWriter, q *dns.Msg) {
		resp := new(dns.Msg).SetReply(q)
		resp.Rcode = rcode
		if rcode == dns.RcodeSuccess && q.Question[0].Name == "example.com." {
			rr, _ := dns.NewRR("example.com. 30 IN A 192.0.2.7")
			resp.Answer = append(resp.Answer, rr)
		}
		if rcode == dns.RcodeSuccess && q.Question[0].Name != "example.com." {
			resp.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(resp)
	})
}

// deadUpstream is a UDP port nobody listens on (the query is refused at
// once) and a TCP port that refuses connections.
func deadUpstream(t *testing.T) string {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

func TestForwardsUnknownNames(t *testing.T) {
	path := newNS(t)
	failing := exampleUpstream(t, dns.RcodeServerFailure)
	good := exampleUpstream(t, dns.RcodeSuccess)
	start(t, path, deadUpstream(t), failing, good)

	for _, proto := range []string{"udp", "tcp"} {
		resp := ask(t, path, proto, "example.com.", dns.TypeA)
		if got := strings.Join(answers(resp), ","); resp.Rcode != dns.RcodeSuccess || got != "192.0.2.7" {
			t.Errorf("%s example.com: rcode %s answers %q, want the upstream's 192.0.2.7", proto, dns.RcodeToString[resp.Rcode], got)
		}
		if resp.Answer[0].Header().Ttl != 30 {
			t.Errorf("forwarded answer rewritten: %s", resp.Answer[0])
		}
	}
	// The upstream's NXDOMAIN is relayed as it is.
	if resp := ask(t, path, "udp", "nope.example.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("nope.example: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
	// A name of the networks' is never forwarded.
	if resp := ask(t, path, "udp", "web.", dns.TypeA); strings.Join(answers(resp), ",") != "10.50.0.3" {
		t.Errorf("web: %v", answers(resp))
	}
	// An unknown reverse name is forwarded too.
	if resp := ask(t, path, "udp", "9.2.0.192.in-addr.arpa.", dns.TypePTR); resp.Rcode != dns.RcodeNameError {
		t.Errorf("unknown PTR: rcode %s, want the upstream's NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
}

func TestForwardRetriesTruncatedOverTCP(t *testing.T) {
	path := newNS(t)
	up := upstream(t, func(w dns.ResponseWriter, q *dns.Msg) {
		resp := new(dns.Msg).SetReply(q)
		if w.LocalAddr().Network() == "udp" {
			resp.Truncated = true
		} else {
			rr, _ := dns.NewRR("big.example. 30 IN A 192.0.2.8")
			resp.Answer = append(resp.Answer, rr)
		}
		_ = w.WriteMsg(resp)
	})
	start(t, path, up)
	resp := ask(t, path, "udp", "big.example.", dns.TypeA)
	if got := strings.Join(answers(resp), ","); got != "192.0.2.8" || resp.Truncated {
		t.Fatalf("big.example over UDP: answers %q truncated %v, want the upstream's TCP answer", got, resp.Truncated)
	}
}

func TestServfailWithoutUpstream(t *testing.T) {
	path := newNS(t)
	start(t, path)
	begin := time.Now()
	resp := ask(t, path, "udp", "example.com.", dns.TypeA)
	if resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("SERVFAIL took %v", d)
	}

	// All upstreams dead: SERVFAIL too.
	other := newNS(t)
	start(t, other, deadUpstream(t))
	if resp := ask(t, other, "tcp", "example.com.", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("dead upstream: rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
}

func TestCloseReleasesAddress(t *testing.T) {
	path := newNS(t)
	before := runtime.NumGoroutine()
	s, err := Start(path, testRecords, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A second server in the same namespace fails cleanly: the address is
	// taken.
	if s2, err := Start(path, testRecords, nil); err == nil {
		s2.Close()
		t.Fatal("second Start in the same namespace succeeded")
	}
	ask(t, path, "tcp", "db.", dns.TypeA) // leaves an idle TCP connection behind on the server
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := exchange(path, "tcp", "db.", dns.TypeA); err == nil {
		t.Fatal("query answered after Close")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines: %d before Start, %d after Close", before, n)
	}

	start(t, path)
	if got := answers(ask(t, path, "udp", "db.", dns.TypeA)); len(got) != 1 {
		t.Fatalf("after restart: %v", got)
	}
}

func TestStartInMissingNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := Start(filepath.Join(t.TempDir(), "gone"), testRecords, nil); err == nil {
		t.Fatal("Start in a missing namespace succeeded")
	}
}
