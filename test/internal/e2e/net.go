package e2e

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/network/portmap"
)

var (
	portMu   sync.Mutex
	handedTo = map[int]bool{} // ports already given to a test of this process
)

// FreePort returns a host port that is free for both TCP and UDP on all
// addresses right now, and that no other test of this run got. Tests
// publish on it rather than on fixed ports, which other engines on the
// host may hold.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePortRange(t, 1)
}

// FreePortRange returns the first of n consecutive free ports.
func FreePortRange(t testing.TB, n int) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	var b [4]byte
	for i := 0; i < 500; i++ {
		rand.Read(b[:])
		// Below the kernel's ephemeral range (32768+), where Docker also
		// allocates -P ports, to avoid racing with both.
		base := 20000 + int(binary.BigEndian.Uint32(b[:])%10000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ok = !handedTo[p] && portFree(p)
		}
		if ok {
			for p := base; p < base+n; p++ {
				handedTo[p] = true
			}
			return base
		}
	}
	t.Fatalf("no %d free consecutive ports", n)
	return 0
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
	if err != nil {
		return false
	}
	l.Close()
	u, err := net.ListenPacket("udp", fmt.Sprintf(":%d", p))
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// HostAddr is the host's own non-loopback IPv4 address: the one of the
// interface holding the default route (else the first global address of an
// interface that is up and not a bridge or veth).
func HostAddr(t testing.TB) string {
	t.Helper()
	if ifname := DefaultRouteIface(); ifname != "" {
		if ifc, err := net.InterfaceByName(ifname); err == nil {
			if a := firstIPv4(ifc); a != "" {
				return a
			}
		}
	}
	ifcs, _ := net.Interfaces()
	for _, ifc := range ifcs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if _, err := os.Stat("/sys/class/net/" + ifc.Name + "/bridge"); err == nil {
			continue
		}
		if strings.HasPrefix(ifc.Name, "veth") {
			continue
		}
		if a := firstIPv4(&ifc); a != "" {
			return a
		}
	}
	t.Skip("host has no non-loopback IPv4 address")
	return ""
}

// DefaultRouteIface names the interface of the host's default route ("" if
// there is none).
func DefaultRouteIface() string {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) > 2 && f[1] == "00000000" && f[2] != "00000000" {
			return f[0]
		}
	}
	return ""
}

func firstIPv4(ifc *net.Interface) string {
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// HostIPv6 reports whether the host takes IPv6 sockets: engines then
// publish a binding without an address on :: as well as on 0.0.0.0.
func HostIPv6() bool { return portmap.IPv6Listenable() }

// HTTPResponse is what HTTPGet got.
type HTTPResponse struct {
	Status int
	Body   string
}

// HTTPGet fetches url, retrying while the connection is refused, reset or
// times out (a server in a container just started may not listen yet),
// until timeout.
func HTTPGet(t testing.TB, url string, timeout time.Duration) HTTPResponse {
	t.Helper()
	r, err := TryHTTPGet(url, timeout)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return r
}

// TryHTTPGet is HTTPGet returning the last error instead of failing.
func TryHTTPGet(url string, timeout time.Duration) (HTTPResponse, error) {
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	deadline := time.Now().Add(timeout)
	delay := 20 * time.Millisecond
	for {
		resp, err := hc.Get(url)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr == nil {
				return HTTPResponse{Status: resp.StatusCode, Body: string(body)}, nil
			}
			err = rerr
		}
		if time.Now().After(deadline) {
			return HTTPResponse{}, err
		}
		time.Sleep(delay)
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
}

// UDPDatagramsIn is the number of UDP datagrams the running container's
// network namespace received, delivered or not (InDatagrams + NoPorts):
// the test image has no UDP server, so tests count what arrives.
func UDPDatagramsIn(t testing.TB, c CLI, name string) int {
	t.Helper()
	r := c.Run(t, "exec", name, "grep", "^Udp:", "/proc/net/snmp").OK(t)
	lines := r.Lines()
	if len(lines) < 2 {
		t.Fatalf("/proc/net/snmp: %q", r.Stdout)
	}
	keys, vals := strings.Fields(lines[0]), strings.Fields(lines[1])
	n := 0
	for i, k := range keys {
		if (k == "InDatagrams" || k == "NoPorts") && i < len(vals) {
			var v int
			fmt.Sscan(vals[i], &v)
			n += v
		}
	}
	return n
}

// IfaceNames parses `ip -o link` output into interface names (without
// the @peer suffix).
func IfaceNames(out string) []string {
	var names []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n := strings.TrimSuffix(f[1], ":")
		if i := strings.Index(n, "@"); i >= 0 {
			n = n[:i]
		}
		names = append(names, n)
	}
	return names
}
