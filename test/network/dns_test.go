package network

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestEmbeddedDNSScoping: on a user-defined network, containers resolve
// each other by name, network alias, short ID and name.network; a shared
// alias answers with every holder; containers of another network, or of
// the default bridge, resolve none of it.
func TestEmbeddedDNSScoping(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		front, back := netName(t, e, "front"), netName(t, e, "back")
		c.Run(t, "network", "create", front).OK(t)
		c.Run(t, "network", "create", back).OK(t)
		one, two, client, outsider, plain := e.Name(t, "one"), e.Name(t, "two"), e.Name(t, "client"), e.Name(t, "outsider"), e.Name(t, "plain")
		c.Run(t, "run", "-d", "--name", one, "--network", front, "--network-alias", "svc", "busybox", "sleep", "1d").OK(t)
		c.Run(t, "run", "-d", "--name", two, "--network", front, "--net-alias", "svc", "busybox", "sleep", "1d").OK(t)
		c.Run(t, "run", "-d", "--name", client, "--network", front, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "run", "-d", "--name", outsider, "--network", back, "busybox", "sleep", "1d").OK(t)
		c.Run(t, "run", "-d", "--name", plain, "busybox", "sleep", "1d").OK(t)
		oneAddr, twoAddr := addrOn(t, e, one, front), addrOn(t, e, two, front)
		shortID := e.Inspect(t, one).ID[:12]

		for name, want := range map[string][]string{
			one:                  {oneAddr},
			strings.ToUpper(one): {oneAddr},
			shortID:              {oneAddr},
			one + "." + front:    {oneAddr},
			"svc":                sorted(oneAddr, twoAddr),
		} {
			if got := resolve(t, c, client, name); !slices.Equal(got, want) {
				t.Errorf("from %s on %s: %s resolves to %v, want %v", client, front, name, got, want)
			}
		}
		c.Run(t, "exec", client, "cat", "/etc/resolv.conf").Assert(t, 0, "nameserver 127.0.0.11")
		// Scoped: another network, and the default bridge, know none of it.
		for _, from := range []string{outsider, plain} {
			for _, name := range []string{one, "svc", shortID} {
				if got := resolve(t, c, from, name); len(got) != 0 {
					t.Errorf("from %s: %s resolves to %v", from, name, got)
				}
			}
		}
		if r := c.Run(t, "exec", plain, "cat", "/etc/resolv.conf").OK(t); strings.Contains(r.Stdout, "127.0.0.11") {
			t.Errorf("the default bridge got the embedded DNS server:\n%s", r.Stdout)
		}
		// Connected to front, the outsider sees it too; disconnected, not.
		c.Run(t, "network", "connect", front, outsider).OK(t)
		if got := resolve(t, c, outsider, one); !slices.Equal(got, []string{oneAddr}) {
			t.Errorf("after connect: %s resolves to %v", one, got)
		}
		c.Run(t, "network", "disconnect", front, outsider).OK(t)
		if got := resolve(t, c, outsider, one); len(got) != 0 {
			t.Errorf("after disconnect: %s resolves to %v", one, got)
		}
		// A stopped container's name goes with its endpoint.
		c.Run(t, "stop", "-t", "0", two).OK(t)
		if got := resolve(t, c, client, "svc"); !slices.Equal(got, []string{oneAddr}) {
			t.Errorf("svc after %s stopped: %v", two, got)
		}
	})
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// dnsServer answers ext.e2e.test. on the host's address, port 53, as an
// upstream resolver would.
func dnsServer(t *testing.T, addr string) {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg).SetReply(q)
		switch {
		case q.Question[0].Name != "ext.e2e.test.":
			m.Rcode = dns.RcodeNameError
		case q.Question[0].Qtype == dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "ext.e2e.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: net.ParseIP("203.0.113.7")}}
		}
		w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp4", net.JoinHostPort(addr, "53"))
	if err != nil {
		t.Skipf("cannot serve DNS on %s:53: %v", addr, err)
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, "53"))
	if err != nil {
		pc.Close()
		t.Skipf("cannot serve DNS on %s:53: %v", addr, err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
}

// TestEmbeddedDNSForwards: names that are not the network's go to the
// upstream resolvers (the container's --dns); the container's resolv.conf
// keeps pointing at the embedded server, with its search and options.
func TestEmbeddedDNSForwards(t *testing.T) {
	e := e2e.Current(t)
	hostAddr := e2e.HostAddr(t)
	dnsServer(t, hostAddr)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		n := netName(t, e)
		c.Run(t, "network", "create", n).OK(t)
		ctr := e.Name(t)
		c.Run(t, "run", "-d", "--name", ctr, "--network", n, "--dns", hostAddr, "--dns-search", "corp.example",
			"--dns-option", "timeout:1", "busybox", "sleep", "1d").OK(t)
		r := c.Run(t, "exec", ctr, "cat", "/etc/resolv.conf").OK(t)
		for _, want := range []string{"search corp.example", "nameserver 127.0.0.11", "options timeout:1 ndots:0"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("resolv.conf: no %q in\n%s", want, r.Stdout)
			}
		}
		if strings.Contains(r.Stdout, "nameserver "+hostAddr) {
			t.Errorf("the upstream is in resolv.conf:\n%s", r.Stdout)
		}
		if got := resolve(t, c, ctr, "ext.e2e.test"); !slices.Equal(got, []string{"203.0.113.7"}) {
			t.Errorf("forwarded name resolves to %v", got)
		}
		// The container's own name still is the embedded server's (fully
		// qualified: busybox nslookup tries the search domain first).
		if got := resolve(t, c, ctr, ctr+"."); len(got) != 1 {
			t.Errorf("own name resolves to %v", got)
		}
		// On the default bridge the --dns server is in resolv.conf itself.
		r = c.Run(t, "run", "--rm", "--dns", hostAddr, "--dns-search", "corp.example", "--dns-option", "timeout:1",
			"busybox", "cat", "/etc/resolv.conf").OK(t)
		if want := "search corp.example\nnameserver " + hostAddr + "\noptions timeout:1\n"; r.Stdout != want {
			t.Errorf("default bridge resolv.conf %q, want %q", r.Stdout, want)
		}
		c.Run(t, "run", "--rm", "--dns", hostAddr, "busybox", "nslookup", "ext.e2e.test").Assert(t, 0, "203.0.113.7")
	})
}

// TestHostsAndHostname: --hostname, --domainname and --add-host (also
// host-gateway) in /etc/hosts and /etc/hostname, as Docker writes them.
func TestHostsAndHostname(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ctr := e.Name(t)
		c.Run(t, "run", "-d", "--name", ctr, "--hostname", "h", "--domainname", "example.com",
			"--add-host", "x:1.2.3.4", "--add-host", "gw:host-gateway", "busybox", "sleep", "1d").OK(t)
		ip := addrOn(t, e, ctr, "bridge")
		gw := e.Inspect(t, ctr).NetworkSettings.Networks["bridge"].Gateway.String()
		r := c.Run(t, "exec", ctr, "cat", "/etc/hosts").OK(t)
		for _, want := range []string{"127.0.0.1\tlocalhost\n", "1.2.3.4\tx\n", gw + "\tgw\n", ip + "\th.example.com h\n"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("/etc/hosts: no %q in\n%s", want, r.Stdout)
			}
		}
		c.Run(t, "exec", ctr, "cat", "/etc/hostname").Assert(t, 0, "h\n")
		c.Run(t, "exec", ctr, "hostname").Assert(t, 0, "h")
	})
}
