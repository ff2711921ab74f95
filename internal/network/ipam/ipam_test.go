package ipam

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/containerd/errdefs"
)

func mustPool(t *testing.T, subnet, gw string) *Pool {
	t.Helper()
	p, err := New(netip.MustParsePrefix(subnet), netip.MustParseAddr(gw))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewValidation(t *testing.T) {
	for _, tc := range []struct {
		subnet, gw string
		ok         bool
	}{
		{"172.17.0.0/16", "172.17.0.1", true},
		{"172.17.0.1/16", "172.17.0.1", true}, // unmasked prefix is masked
		{"10.0.0.0/30", "10.0.0.1", true},
		{"10.0.0.0/31", "10.0.0.1", false},
		{"10.0.0.0/24", "10.0.1.1", false},   // gateway outside
		{"10.0.0.0/24", "10.0.0.0", false},   // network address
		{"10.0.0.0/24", "10.0.0.255", false}, // broadcast
		{"fd00::/64", "fd00::1", true},
		{"fd00::/127", "fd00::1", false},
		{"fd00::/64", "10.0.0.1", false}, // families differ
		{"fd00::/64", "fd00::", false},   // subnet-router anycast
	} {
		_, err := New(netip.MustParsePrefix(tc.subnet), netip.MustParseAddr(tc.gw))
		if (err == nil) != tc.ok {
			t.Errorf("New(%s, %s): err=%v, want ok=%v", tc.subnet, tc.gw, err, tc.ok)
		}
		if err != nil && !errdefs.IsInvalidArgument(err) {
			t.Errorf("New(%s, %s): %v is not InvalidArgument", tc.subnet, tc.gw, err)
		}
	}
}

func TestAllocateLowestFree(t *testing.T) {
	p := mustPool(t, "172.17.0.0/16", "172.17.0.1")
	steps := []struct {
		op, owner, want string
	}{
		{"alloc", "a", "172.17.0.2"},
		{"alloc", "b", "172.17.0.3"},
		{"alloc", "c", "172.17.0.4"},
		{"release", "", "172.17.0.3"},
		{"alloc", "d", "172.17.0.3"}, // a freed address is reused, as Docker does
		{"alloc", "e", "172.17.0.5"},
	}
	for i, s := range steps {
		switch s.op {
		case "alloc":
			a, err := p.Allocate(s.owner)
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if a.String() != s.want {
				t.Fatalf("step %d: got %s, want %s", i, a, s.want)
			}
			if p.Owner(a) != s.owner {
				t.Fatalf("step %d: owner %q", i, p.Owner(a))
			}
		case "release":
			p.Release(netip.MustParseAddr(s.want))
			if p.Owner(netip.MustParseAddr(s.want)) != "" {
				t.Fatalf("step %d: still owned", i)
			}
		}
	}
}

func TestGatewaySkipped(t *testing.T) {
	// A gateway in the middle of the range is never handed out.
	p := mustPool(t, "10.1.0.0/29", "10.1.0.3")
	var got []string
	for {
		a, err := p.Allocate("x")
		if err != nil {
			break
		}
		got = append(got, a.String())
	}
	want := []string{"10.1.0.1", "10.1.0.2", "10.1.0.4", "10.1.0.5", "10.1.0.6"}
	if len(got) != len(want) || p.Size() != len(want) {
		t.Fatalf("got %v (size %d), want %v", got, p.Size(), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestExhaustion(t *testing.T) {
	p := mustPool(t, "10.2.0.0/30", "10.2.0.1")
	if p.Size() != 1 {
		t.Fatalf("size %d", p.Size())
	}
	a, err := p.Allocate("a")
	if err != nil || a.String() != "10.2.0.2" {
		t.Fatalf("got %s, %v", a, err)
	}
	_, err = p.Allocate("b")
	if !errdefs.IsResourceExhausted(err) {
		t.Fatalf("want ResourceExhausted, got %v", err)
	}
	p.Release(a)
	if a2, err := p.Allocate("c"); err != nil || a2 != a {
		t.Fatalf("after release: %s, %v", a2, err)
	}
}

func TestReserve(t *testing.T) {
	p := mustPool(t, "10.3.0.0/24", "10.3.0.1")
	for _, tc := range []struct {
		addr, owner string
		check       func(error) bool
	}{
		{"10.3.0.7", "a", func(err error) bool { return err == nil }},
		{"10.3.0.7", "a", func(err error) bool { return err == nil }}, // same owner: idempotent
		{"10.3.0.7", "b", errdefs.IsConflict},
		{"10.3.0.1", "b", errdefs.IsInvalidArgument},   // gateway
		{"10.3.0.255", "b", errdefs.IsInvalidArgument}, // broadcast
		{"10.4.0.2", "b", errdefs.IsInvalidArgument},   // outside
	} {
		if err := p.Reserve(netip.MustParseAddr(tc.addr), tc.owner); !tc.check(err) {
			t.Errorf("Reserve(%s, %s): unexpected %v", tc.addr, tc.owner, err)
		}
	}
	// Allocation goes around reserved addresses.
	for i := 2; i <= 8; i++ {
		a, err := p.Allocate("n")
		if err != nil {
			t.Fatal(err)
		}
		if a.String() == "10.3.0.7" {
			t.Fatal("reserved address handed out again")
		}
	}
}

func TestPersistence(t *testing.T) {
	p := mustPool(t, "10.5.0.0/24", "10.5.0.1")
	a1, _ := p.Allocate("c1")
	a2, _ := p.Allocate("c2")
	a3, _ := p.Allocate("c3")
	p.Release(a2)

	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(p)
	if string(data) != string(again) {
		t.Fatalf("marshal is not deterministic:\n%s\n%s", data, again)
	}

	var q Pool
	if err := json.Unmarshal(data, &q); err != nil {
		t.Fatal(err)
	}
	if q.Subnet() != p.Subnet() || q.Gateway() != p.Gateway() {
		t.Fatalf("restored %s gw %s", q.Subnet(), q.Gateway())
	}
	if q.Owner(a1) != "c1" || q.Owner(a3) != "c3" || q.Owner(a2) != "" {
		t.Fatalf("restored allocations %v", q.Allocated())
	}
	// The restored pool allocates around what is held: the freed address first.
	if a, _ := q.Allocate("c4"); a != a2 {
		t.Fatalf("got %s, want %s", a, a2)
	}
	if a, _ := q.Allocate("c5"); a.String() != "10.5.0.5" {
		t.Fatalf("got %s, want 10.5.0.5", a)
	}

	for _, bad := range []string{
		`{`,
		`{"subnet":"10.5.0.0/24","gateway":"10.6.0.1","allocated":[]}`,
		`{"subnet":"10.5.0.0/24","gateway":"10.5.0.1","allocated":[{"addr":"10.5.0.1","owner":"x"}]}`,
		`{"subnet":"10.5.0.0/24","gateway":"10.5.0.1","allocated":[{"addr":"10.5.0.2","owner":"x"},{"addr":"10.5.0.2","owner":"y"}]}`,
	} {
		var r Pool
		if err := json.Unmarshal([]byte(bad), &r); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}

func TestIPv6Pool(t *testing.T) {
	p := mustPool(t, "fd00:50::/64", "fd00:50::1")
	a, err := p.Allocate("c1")
	if err != nil || a.String() != "fd00:50::2" {
		t.Fatalf("first v6 address %v, %v", a, err)
	}
	if err := p.Reserve(netip.MustParseAddr("fd00:50::ffff"), "c2"); err != nil {
		t.Fatal(err)
	}
	if err := p.Reserve(netip.MustParseAddr("fd00:51::2"), "c3"); err == nil {
		t.Fatal("address outside the subnet reserved")
	}
	if p.Size() != 1<<30 {
		t.Fatalf("size %d", p.Size())
	}
	small := mustPool(t, "fd00:50::/126", "fd00:50::1")
	if _, err := small.Allocate("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Allocate("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := small.Allocate("c"); !errdefs.IsResourceExhausted(err) {
		t.Fatalf("/126 handed out a third address: %v", err)
	}
}
