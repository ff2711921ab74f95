package bridge

import (
	"net/netip"
	"testing"
)

func TestDefaultPools(t *testing.T) {
	p := DefaultPools()
	if len(p) != 15+16 || p[0].String() != "172.17.0.0/16" || p[14].String() != "172.31.0.0/16" ||
		p[15].String() != "192.168.0.0/20" || p[16].String() != "192.168.16.0/20" || p[30].String() != "192.168.240.0/20" {
		t.Fatalf("pools %v", p)
	}
}

func TestFirstFree(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		used []netip.Prefix
		want string
	}{
		{"nothing used", nil, "172.17.0.0/16"},
		{"docker0 has 172.17", pp("172.17.0.0/16"), "172.18.0.0/16"},
		{"an address inside 172.17 and a route over 172.18", pp("172.17.5.1/32", "172.18.128.0/17"), "172.19.0.0/16"},
		{"a /12 route covers every 172 pool", pp("172.16.0.0/12", "192.168.0.0/24"), "192.168.16.0/20"},
		{"unrelated networks", pp("10.0.0.0/8", "192.0.2.0/24"), "172.17.0.0/16"},
		{"everything taken", pp("172.16.0.0/12", "192.168.0.0/16"), ""},
	} {
		got, ok := FirstFree(DefaultPools(), tc.used)
		if (tc.want == "") == ok || (ok && got.String() != tc.want) {
			t.Errorf("%s: got %s (%v), want %q", tc.name, got, ok, tc.want)
		}
	}
}

func TestMAC(t *testing.T) {
	for ip, want := range map[string]string{
		"172.17.0.2":  "02:42:ac:11:00:02",
		"10.213.1.3":  "02:42:0a:d5:01:03",
		"192.168.0.9": "02:42:c0:a8:00:09",
	} {
		if got := MAC(netip.MustParseAddr(ip)).String(); got != want {
			t.Errorf("MAC(%s) = %s, want %s", ip, got, want)
		}
	}
}
