package network

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// fetch is a shell loop that GETs url from inside a container until it
// answers (busybox wget, addresses only; see TestWhatAUserDoes).
func fetch(url string) []string {
	return []string{"sh", "-c", "for i in $(seq 20); do timeout 2 wget -q -O - " + url + " && exit 0; sleep 0.3; done; exit 1"}
}

// TestPublishOnUserNetwork: every -p form and -P on a user-defined
// network, reached from the host's loopback and address, from another
// host (a network namespace on a link of its own), from a container of
// another network, and from the container itself (hairpin); a port bound
// to 127.0.0.1 answers there only; a taken port is refused.
func TestPublishOnUserNetwork(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	hostAddr := e2e.HostAddr(t)
	other := newOtherHost(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		n, elsewhere := netName(t, e), netName(t, e, "elsewhere")
		c.Run(t, "network", "create", n).OK(t)
		c.Run(t, "network", "create", elsewhere).OK(t)
		web := e.Name(t, "web")
		port, lo, udp := e2e.FreePort(t), e2e.FreePort(t), e2e.FreePort(t)
		rng := e2e.FreePortRange(t, 2)
		c.Run(t, "run", "-d", "--name", web, "--network", n,
			"-p", fmt.Sprintf("%d:80", port),
			"-p", fmt.Sprintf("127.0.0.1:%d:81/tcp", lo),
			"-p", fmt.Sprintf("%d-%d:8000-8001", rng, rng+1),
			"-p", fmt.Sprintf("%d:5353/udp", udp),
			"--expose", "9000", "-P",
			"busybox", "sh", "-c",
			"for p in 80 81 8000 8001 9000; do httpd -p $p -h /var/www; done; echo ready; exec sleep 1d").OK(t)
		e.WaitLog(t, web, "ready", 20*time.Second)
		get := func(url string) {
			t.Helper()
			if r := e2e.HTTPGet(t, url, 20*time.Second); r.Status != 200 || r.Body != e2e.IndexHTML {
				t.Fatalf("GET %s: %d %q", url, r.Status, r.Body)
			}
		}
		get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		get(fmt.Sprintf("http://%s:%d/", hostAddr, port))
		get(fmt.Sprintf("http://127.0.0.1:%d/", lo))
		get(fmt.Sprintf("http://127.0.0.1:%d/", rng))
		get(fmt.Sprintf("http://%s:%d/", hostAddr, rng+1))
		m := regexp.MustCompile(`9000/tcp -> 0\.0\.0\.0:(\d+)`).FindStringSubmatch(c.Run(t, "port", web).OK(t).Stdout)
		if m == nil {
			t.Fatal("no -P port for 9000/tcp")
		}
		get(fmt.Sprintf("http://127.0.0.1:%s/", m[1]))

		// From another host: its own link's host address, and the host's
		// main address; never a 127.0.0.1 binding.
		for _, addr := range []string{other.hostAddr, hostAddr} {
			status, body, err := other.get(fmt.Sprintf("http://%s:%d/", addr, port), 20*time.Second)
			if err != nil || status != 200 || body != e2e.IndexHTML {
				t.Fatalf("from the other host via %s: %d %q %v", addr, status, body, err)
			}
		}
		if _, _, err := other.get(fmt.Sprintf("http://%s:%d/", other.hostAddr, lo), time.Second); err == nil {
			t.Fatal("a port bound to 127.0.0.1 answers another host")
		}
		if _, err := e2e.TryHTTPGet(fmt.Sprintf("http://%s:%d/", hostAddr, lo), 500*time.Millisecond); err == nil {
			t.Fatal("a port bound to 127.0.0.1 answers on the host's address")
		}

		// Hairpin: the container through its own published port; a
		// container of another network through the host.
		c.Run(t, append([]string{"exec", web}, fetch(fmt.Sprintf("http://%s:%d/", hostAddr, port))...)...).
			Assert(t, 0, strings.TrimSpace(e2e.IndexHTML))
		c.Run(t, append([]string{"run", "--rm", "--network", elsewhere, "busybox"}, fetch(fmt.Sprintf("http://%s:%d/", hostAddr, port))...)...).
			Assert(t, 0, strings.TrimSpace(e2e.IndexHTML))

		// UDP: count what arrives in the container's namespace.
		base := e2e.UDPDatagramsIn(t, c, web)
		conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udp))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		e.WaitFor(t, web, "UDP datagrams arriving", 20*time.Second, func(_ containerState) bool {
			conn.Write([]byte("udp-hello\n"))
			return e2e.UDPDatagramsIn(t, c, web) > base
		})

		// Taken: Docker's message; the first keeps serving.
		c.Run(t, "run", "-d", "--name", e.Name(t, "second"), "--network", elsewhere, "-p", fmt.Sprintf("%d:80", port), "busybox", "true").
			Assert(t, 125, "port is already allocated")
		get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	})
}
