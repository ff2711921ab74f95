package network

import (
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

func TestExpandPorts(t *testing.T) {
	p := network.MustParsePort
	any4 := netip.IPv4Unspecified()
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name       string
		bindings   network.PortMap
		exposed    network.PortSet
		publishAll bool
		want       []portRequest
		check      func(error) bool
	}{
		{name: "none"},
		{
			name:     "fixed, empty host IP means every address",
			bindings: network.PortMap{p("80/tcp"): {{HostPort: "8080"}}},
			want:     []portRequest{{port: p("80/tcp"), hostIP: any4, begin: 8080, end: 8080}},
		},
		{
			name:     "ephemeral, range, specific address, udp",
			bindings: network.PortMap{p("53/udp"): {{HostIP: lo, HostPort: ""}}, p("80/tcp"): {{HostPort: "8000-8010"}, {HostPort: "0"}}},
			want: []portRequest{
				{port: p("53/udp"), hostIP: lo, explicitIP: true},
				{port: p("80/tcp"), hostIP: any4},
				{port: p("80/tcp"), hostIP: any4, begin: 8000, end: 8010},
			},
		},
		{
			name:       "publish all adds exposed ports without a binding",
			bindings:   network.PortMap{p("80/tcp"): {{HostPort: "8080"}}},
			exposed:    network.PortSet{p("80/tcp"): {}, p("443/tcp"): {}, p("53/udp"): {}},
			publishAll: true,
			want: []portRequest{
				{port: p("53/udp"), hostIP: any4},
				{port: p("80/tcp"), hostIP: any4, begin: 8080, end: 8080},
				{port: p("443/tcp"), hostIP: any4},
			},
		},
		{
			name:    "exposed alone publishes nothing",
			exposed: network.PortSet{p("80/tcp"): {}},
		},
		{name: "bad host port", bindings: network.PortMap{p("80/tcp"): {{HostPort: "http"}}}, check: errdefs.IsInvalidArgument},
		{name: "reversed range", bindings: network.PortMap{p("80/tcp"): {{HostPort: "9-8"}}}, check: errdefs.IsInvalidArgument},
		{name: "too big", bindings: network.PortMap{p("80/tcp"): {{HostPort: "70000"}}}, check: errdefs.IsInvalidArgument},
		{
			name:     "ipv6 host",
			bindings: network.PortMap{p("80/tcp"): {{HostIP: netip.MustParseAddr("::1"), HostPort: "80"}}},
			want:     []portRequest{{port: p("80/tcp"), hostIP: netip.MustParseAddr("::1"), explicitIP: true, begin: 80, end: 80}},
		},
		{name: "sctp", bindings: network.PortMap{p("80/sctp"): {{HostPort: "80"}}}, check: errdefs.IsNotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := expandPorts(tc.bindings, tc.exposed, tc.publishAll)
			if tc.check != nil {
				if !tc.check(err) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("[%d] got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
