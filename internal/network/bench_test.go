package network

import (
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
)

// BenchmarkConnect measures the container start path (Connect) and stop
// path (Disconnect) separately: each iteration starts b.N containers one
// after another, then stops them all. The background half of Disconnect
// (veth deletion, conntrack flush) is waited for outside the timings, so
// Connects do not queue behind the kernel's veth teardown.
//
//	go test -run X -bench Connect -benchtime 100x ./internal/network/
func BenchmarkConnect(b *testing.B) {
	for _, tc := range []struct {
		name  string
		mode  string
		ports network.PortMap
	}{
		{"bridge", "bridge", nil},
		{"bridge-2ports", "bridge", network.PortMap{
			network.MustParsePort("80/tcp"): {{}},
			network.MustParsePort("53/udp"): {{}},
		}},
		{"none", "none", nil},
		// A user-defined network: its own bridge and table, and the
		// embedded DNS server every container there gets.
		{"user-defined", "benchnet", nil},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if !isRoot() {
				b.Skip("needs root")
			}
			e := &testEnv{t: b, root: b.TempDir() + "/network", bridge: "btbench", cidr: "10.213.200.1/22"}
			b.Cleanup(e.cleanup)
			s, err := New(ctx, Config{Root: e.root, BridgeName: e.bridge, BridgeCIDR: e.cidr})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if tc.mode == "benchnet" {
				e.createNet(s, "benchnet", "btbenchu", "10.213.208.0/22", nil)
			}
			var conn, disc []time.Duration
			var eps []*Endpoint
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				id := "bench" + strconv.Itoa(i)
				ep, err := s.Connect(ctx, EndpointRequest{ContainerID: id, Name: id, Network: tc.mode, Ports: tc.ports, Primary: true})
				if err != nil {
					b.Fatal(err)
				}
				conn = append(conn, time.Since(t0))
				eps = append(eps, ep)
			}
			b.StopTimer()
			for _, ep := range eps {
				t0 := time.Now()
				if err := s.Disconnect(ctx, ep); err != nil {
					b.Fatal(err)
				}
				disc = append(disc, time.Since(t0))
			}
			t0 := time.Now()
			s.settle()
			teardown := time.Since(t0)
			b.ReportMetric(us(pct(conn, 50)), "connect-p50-µs")
			b.ReportMetric(us(pct(conn, 99)), "connect-p99-µs")
			b.ReportMetric(us(pct(disc, 50)), "disconnect-p50-µs")
			b.ReportMetric(us(pct(disc, 99)), "disconnect-p99-µs")
			b.ReportMetric(us(teardown/time.Duration(len(eps))), "bg-teardown-µs/op")
		})
	}
}

// BenchmarkChurn is start, stop, start, stop...: each Connect may wait for
// the kernel to finish tearing down the previous container's veth (the
// kernel holds RTNL for much of it).
func BenchmarkChurn(b *testing.B) {
	if !isRoot() {
		b.Skip("needs root")
	}
	e := &testEnv{t: b, root: b.TempDir() + "/network", bridge: "btchurn", cidr: "10.213.204.1/22"}
	b.Cleanup(e.cleanup)
	s, err := New(ctx, Config{Root: e.root, BridgeName: e.bridge, BridgeCIDR: e.cidr})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var conn []time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		ep, err := s.Connect(ctx, EndpointRequest{ContainerID: "churn" + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		conn = append(conn, time.Since(t0))
		if err := s.Disconnect(ctx, ep); err != nil {
			b.Fatal(err)
		}
	}
	s.settle()
	b.ReportMetric(us(pct(conn, 50)), "connect-p50-µs")
	b.ReportMetric(us(pct(conn, 99)), "connect-p99-µs")
}

func us(d time.Duration) float64 { return float64(d.Microseconds()) }

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}
