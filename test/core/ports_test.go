package core

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestPublish is the web example: httpd published with -p, answered
// on the host's loopback and on its own address; docker port and ps show it.
func TestPublish(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	host := e2e.HostAddr(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t, "web")
		port := e2e.FreePort(t)
		c.Run(t, "run", "-d", "--name", name, "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80").OK(t)
		for _, addr := range []string{"127.0.0.1", host} {
			// httpd serves / from its working directory (/), which has no
			// index.html: a 404 from busybox httpd is the container answering.
			r := e2e.HTTPGet(t, fmt.Sprintf("http://%s:%d/", addr, port), 20*time.Second)
			if r.Status != 404 && r.Status != 200 {
				t.Fatalf("GET via %s: status %d", addr, r.Status)
			}
		}
		c.Run(t, "port", name).Assert(t, 0, fmt.Sprintf("80/tcp -> 0.0.0.0:%d", port))
		c.Run(t, "port", name, "80").Assert(t, 0, fmt.Sprintf("0.0.0.0:%d", port))
		c.Run(t, "port", name, "80/tcp").Assert(t, 0, fmt.Sprintf("0.0.0.0:%d", port))
		c.Run(t, "ps", "--filter", "name="+name).Assert(t, 0, fmt.Sprintf("0.0.0.0:%d->80/tcp", port))
		c.Run(t, "ps", "--filter", "name="+name, "--format", "{{.Ports}}").Assert(t, 0, fmt.Sprintf("0.0.0.0:%d->80/tcp", port))
		if e2e.HostIPv6() {
			// On a host with IPv6 the port is taken on :: too, and served
			// there (by the userland proxy: NAT cannot take IPv6 traffic
			// to the container's IPv4 address).
			c.Run(t, "port", name, "80").Assert(t, 0, fmt.Sprintf("0.0.0.0:%d\n[::]:%d", port, port))
			c.Run(t, "ps", "--filter", "name="+name, "--format", "{{.Ports}}").
				Assert(t, 0, fmt.Sprintf("0.0.0.0:%d->80/tcp, [::]:%d->80/tcp", port, port))
			if r := e2e.HTTPGet(t, fmt.Sprintf("http://[::1]:%d/", port), 20*time.Second); r.Status != 404 && r.Status != 200 {
				t.Fatalf("GET via [::1]: status %d", r.Status)
			}
			// A binding on an IPv6 address of the host.
			name6, port6 := e.Name(t, "v6"), e2e.FreePort(t)
			c.Run(t, "run", "-d", "--name", name6, "-p", fmt.Sprintf("[::1]:%d:80", port6), "busybox", "httpd", "-f", "-p", "80").OK(t)
			c.Run(t, "port", name6).Assert(t, 0, fmt.Sprintf("80/tcp -> [::1]:%d", port6))
			if r := e2e.HTTPGet(t, fmt.Sprintf("http://[::1]:%d/", port6), 20*time.Second); r.Status != 404 && r.Status != 200 {
				t.Fatalf("GET via a [::1] binding: status %d", r.Status)
			}
		}

		// The same server with content, to see it is really the container's.
		name2 := e.Name(t, "www")
		port2 := e2e.FreePort(t)
		c.Run(t, "run", "-d", "--name", name2, "--publish", fmt.Sprintf("%d:8080/tcp", port2), "busybox", "httpd", "-f", "-p", "8080", "-h", "/var/www").OK(t)
		r := e2e.HTTPGet(t, fmt.Sprintf("http://%s:%d/", host, port2), 20*time.Second)
		if r.Status != 200 || r.Body != e2e.IndexHTML {
			t.Fatalf("GET: %d %q", r.Status, r.Body)
		}
	})
}

// TestPublishForms covers ip:host:container, host port ranges, udp, and -P
// with --expose.
func TestPublishForms(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	host := e2e.HostAddr(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		lo := e2e.FreePort(t)
		rng := e2e.FreePortRange(t, 2)
		udp := e2e.FreePort(t)
		c.Run(t, "run", "-d", "--name", name,
			"-p", fmt.Sprintf("127.0.0.1:%d:80", lo),
			"-p", fmt.Sprintf("%d-%d:8000-8001", rng, rng+1),
			"-p", fmt.Sprintf("%d:5353/udp", udp),
			"--expose", "9000", "-P",
			"busybox", "sh", "-c",
			"for p in 80 8000 8001 9000; do httpd -p $p -h /var/www; done; echo ready; exec sleep 1000").OK(t)
		e.WaitLog(t, name, "ready", 20*time.Second)

		get := func(port int) {
			t.Helper()
			r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)
			if r.Status != 200 || r.Body != e2e.IndexHTML {
				t.Fatalf("GET port %d: %d %q", port, r.Status, r.Body)
			}
		}
		get(lo)
		get(rng)
		get(rng + 1)

		// Bound to 127.0.0.1 only: not reachable on the host's address.
		if _, err := e2e.TryHTTPGet(fmt.Sprintf("http://%s:%d/", host, lo), 500*time.Millisecond); err == nil {
			t.Errorf("port published on 127.0.0.1 answers on %s", host)
		}

		r := c.Run(t, "port", name).OK(t)
		for _, want := range []string{
			fmt.Sprintf("80/tcp -> 127.0.0.1:%d", lo),
			fmt.Sprintf("8000/tcp -> 0.0.0.0:%d", rng),
			fmt.Sprintf("8001/tcp -> 0.0.0.0:%d", rng+1),
			fmt.Sprintf("5353/udp -> 0.0.0.0:%d", udp),
			"9000/tcp -> 0.0.0.0:",
		} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("port: no %q in\n%s", want, r.Stdout)
			}
		}
		// -P picked a host port for the exposed 9000.
		m := regexp.MustCompile(`9000/tcp -> 0\.0\.0\.0:(\d+)`).FindStringSubmatch(r.Stdout)
		if m == nil {
			t.Fatalf("no -P port for 9000/tcp:\n%s", r.Stdout)
		}
		var pp int
		fmt.Sscan(m[1], &pp)
		get(pp)
		c.Run(t, "port", name, "5353/udp").Assert(t, 0, fmt.Sprintf("0.0.0.0:%d", udp))

		// UDP: busybox has no UDP server, so count what arrives in the
		// container's network namespace: datagrams to a port nobody
		// listens on are counted as Udp NoPorts (per namespace).
		base := e2e.UDPDatagramsIn(t, c, name)
		conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udp))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		e.WaitFor(t, name, "UDP datagrams arriving", 20*time.Second, func(containerState) bool {
			// Resend until seen: UDP has no handshake to wait on.
			conn.Write([]byte("udp-hello\n"))
			return e2e.UDPDatagramsIn(t, c, name) > base
		})
	})
}

// TestPublishAddresses covers the forms that bind one address or let the
// engine pick the host port: ip::port, a bare container port, a host
// range for one container port, and the host's own address.
func TestPublishAddresses(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	host := e2e.HostAddr(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		rng := e2e.FreePortRange(t, 3)
		onHost := e2e.FreePort(t)
		c.Run(t, "run", "-d", "--name", name,
			"-p", "127.0.0.1::80",
			"-p", "81",
			"-p", fmt.Sprintf("%d-%d:82", rng, rng+2),
			"-p", fmt.Sprintf("%s:%d:83", host, onHost),
			"busybox", "sh", "-c",
			"for p in 80 81 82 83; do httpd -p $p -h /var/www; done; echo ready; exec sleep 1000").OK(t)
		e.WaitLog(t, name, "ready", 20*time.Second)
		port := func(spec, addr string) int {
			t.Helper()
			r := c.Run(t, "port", name, spec).OK(t)
			m := regexp.MustCompile(regexp.QuoteMeta(addr) + `:(\d+)`).FindStringSubmatch(r.Stdout)
			if m == nil {
				t.Fatalf("port %s: no %s binding in %q", spec, addr, r.Stdout)
			}
			var p int
			fmt.Sscan(m[1], &p)
			return p
		}
		serves := func(addr string, p int) bool {
			t.Helper()
			r, err := e2e.TryHTTPGet(fmt.Sprintf("http://%s:%d/", addr, p), 20*time.Second)
			return err == nil && r.Body == e2e.IndexHTML
		}
		refuses := func(addr string, p int) bool {
			t.Helper()
			_, err := e2e.TryHTTPGet(fmt.Sprintf("http://%s:%d/", addr, p), 300*time.Millisecond)
			return err != nil
		}

		lo := port("80", "127.0.0.1")
		if !serves("127.0.0.1", lo) || !refuses(host, lo) {
			t.Errorf("127.0.0.1::80 -> %d: want served on 127.0.0.1 only", lo)
		}
		wild := port("81", "0.0.0.0")
		if !serves("127.0.0.1", wild) || !serves(host, wild) {
			t.Errorf("81 -> %d: want served on every address", wild)
		}
		inRange := port("82", "0.0.0.0")
		if inRange < rng || inRange > rng+2 || !serves(host, inRange) {
			t.Errorf("%d-%d:82 -> %d: want a served port of the range", rng, rng+2, inRange)
		}
		if got := port("83", host); got != onHost || !serves(host, onHost) || !refuses("127.0.0.1", onHost) {
			t.Errorf("%s:%d:83 -> %d: want served on %s only", host, onHost, got, host)
		}
		c.Run(t, "ps", "--filter", "name="+name, "--format", "{{.Ports}}").
			Assert(t, 0, fmt.Sprintf("127.0.0.1:%d->80/tcp", lo), fmt.Sprintf("%s:%d->83/tcp", host, onHost))
	})
}

// TestPortAllocated: a second container asking for a host port that is
// taken fails to start with Docker's message and leaves nothing behind;
// the first keeps serving. Not parallel: it compares the engine's
// resources before and after.
func TestPortAllocated(t *testing.T) {
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		first, second := e.Name(t, "first"), e.Name(t, "second")
		port := e2e.FreePort(t)
		c.Run(t, "run", "-d", "--name", first, "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80", "-h", "/var/www").OK(t)
		e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)
		before := e.TakeSnapshot(t)

		c.Run(t, "run", "-d", "--name", second, "-p", fmt.Sprintf("%d:80", port), "busybox", "httpd", "-f", "-p", "80").
			Assert(t, 125, "port is already allocated")
		if e.Exists(t, second) {
			// Docker keeps the container, created but not started.
			if st := e.Inspect(t, second).State; st.Running {
				t.Fatalf("second container runs: %+v", st)
			}
			id := e.Inspect(t, second).ID
			c.Run(t, "rm", second).OK(t)
			e.AssertNoLeaks(t, before, 10*time.Second, id)
		} else {
			e.AssertNoLeaks(t, before, 10*time.Second)
		}
		r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 10*time.Second)
		if r.Body != e2e.IndexHTML {
			t.Fatalf("first container no longer serves: %d %q", r.Status, r.Body)
		}
	})
}
