package cli

import (
	"fmt"
	"testing"
)

func TestNetworkIPAMConfig(t *testing.T) {
	cases := []struct {
		subnets, ranges, gateways, aux []string
		want                           string
	}{
		{subnets: []string{"10.1.0.0/16", "10.2.0.0/16"}, ranges: []string{"10.2.1.0/24"}, gateways: []string{"10.1.0.1", "10.2.0.1"}, aux: []string{"a=10.1.0.5", "b=10.2.0.5"},
			want: "[{10.1.0.0/16 invalid Prefix 10.1.0.1 map[a:10.1.0.5]} {10.2.0.0/16 10.2.1.0/24 10.2.0.1 map[b:10.2.0.5]}]"},
		{subnets: []string{"10.1.0.0/16"}, ranges: []string{"10.3.0.0/24"}, want: "no matching subnet for range 10.3.0.0/24"},
		{subnets: []string{"10.1.0.0/16"}, ranges: []string{"bad"}, want: "invalid CIDR address: bad"},
		{subnets: []string{"10.1.0.0/16", "10.2.0.0/16"}, ranges: []string{"10.1.1.0/24", "10.1.2.0/24"}, want: "cannot configure multiple ranges (10.1.2.0/24, 10.1.1.0/24) on the same subnet (10.1.0.0/16)"},
		{subnets: []string{"10.1.0.0/16"}, gateways: []string{"10.9.0.1"}, want: "no matching subnet for gateway 10.9.0.1"},
		{subnets: []string{"10.1.0.0/16", "10.2.0.0/16"}, gateways: []string{"10.1.0.1", "10.1.0.2"}, want: "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/16)"},
		{subnets: []string{"10.1.0.0/16"}, gateways: []string{"10.1.0.1/x"}, want: "invalid CIDR address: 10.1.0.1/x"},
		{subnets: []string{"10.1.0.0/16"}, aux: []string{"a=10.9.0.5"}, want: "no matching subnet for aux-address 10.9.0.5"},
		{aux: []string{"a=10.9.0.5"}, want: "no matching subnet for aux-address 10.9.0.5"},
		{subnets: []string{"10.1.0.0/16", "10.1.2.0/24"}, want: "multiple overlapping subnet configuration is not supported"},
		{ranges: []string{"10.1.0.0/24"}, want: "every ip-range or gateway must have a corresponding subnet"},
	}
	for _, tc := range cases {
		o := networkCreateOptions{subnets: tc.subnets, ipRanges: tc.ranges, gateways: tc.gateways,
			auxAddresses: newMapOpts(nil), ipamOpts: newMapOpts(nil)}
		for _, a := range tc.aux {
			if err := o.auxAddresses.Set(a); err != nil {
				t.Fatal(err)
			}
		}
		ipam, err := o.ipamConfig()
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = fmt.Sprint(ipam.Config)
		}
		if got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc, got, tc.want)
		}
	}
}
