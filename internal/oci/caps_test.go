package oci

import (
	"os"
	"slices"
	"testing"
)

func TestParseCapBnd(t *testing.T) {
	status := []byte("Name:\tcat\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\n" +
		"CapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\nCapAmb:\t0000000000000000\n")
	mask, err := parseCapBnd(status)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "mask", mask, uint64(thisMachineCaps))
	caps := capsFromMask(mask)
	eq(t, "count", len(caps), 40)
	if slices.Contains(caps, "CAP_SYS_RESOURCE") {
		t.Errorf("CAP_SYS_RESOURCE in %v", caps)
	}
	eq(t, "first", caps[0], "CAP_CHOWN")
	eq(t, "last", caps[len(caps)-1], "CAP_CHECKPOINT_RESTORE")

	if _, err := parseCapBnd([]byte("Name:\tcat\n")); err == nil {
		t.Errorf("no error without a CapBnd line")
	}
	if _, err := parseCapBnd([]byte("CapBnd:\tzz\n")); err == nil {
		t.Errorf("no error for a bad CapBnd")
	}
}

func TestCapsFromMaskIgnoresUnknownBits(t *testing.T) {
	eq(t, "caps", capsFromMask(1<<63|1<<0), []string{"CAP_CHOWN"})
}

// TestCurrentHostCaps checks the detected set against this process's own
// status, whatever machine the test runs on.
func TestCurrentHostCaps(t *testing.T) {
	h, err := CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	mask, err := parseCapBnd(status)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "caps", h.Caps, capsFromMask(mask))
	if _, ok := h.HardLimits["RLIMIT_NOFILE"]; !ok {
		t.Errorf("no RLIMIT_NOFILE hard limit detected")
	}
}

func TestCapabilities(t *testing.T) {
	host := testHost()
	tests := []struct {
		name        string
		add, drop   []string
		privileged  bool
		want        []string
		wantErr     string
		description string
	}{
		{name: "defaults", want: DefaultCapabilities()},
		{name: "privileged", privileged: true, want: host.Caps},
		{name: "privileged ignores add and drop", privileged: true, add: []string{"FOO"}, drop: []string{"ALL"}, want: host.Caps},
		{name: "add lower case without prefix", add: []string{"sys_admin"}, want: append(DefaultCapabilities(), "CAP_SYS_ADMIN")},
		{name: "add twice", add: []string{"CHOWN", "cap_chown"}, want: DefaultCapabilities()},
		{name: "drop", drop: []string{"CAP_KILL"}, want: without(DefaultCapabilities(), "CAP_KILL")},
		{name: "add and drop the same: add wins", add: []string{"KILL"}, drop: []string{"KILL"}, want: append(without(DefaultCapabilities(), "CAP_KILL"), "CAP_KILL")},
		{name: "all", add: []string{"all"}, want: host.Caps},
		{name: "drop all", drop: []string{"ALL"}, want: nil},
		{name: "unknown add", add: []string{"NOPE"}, wantErr: `unknown capability: "CAP_NOPE"`},
		{name: "unknown drop", drop: []string{"NOPE"}, wantErr: `unknown capability: "CAP_NOPE"`},
		{name: "unavailable add", add: []string{"SYS_RESOURCE"}, wantErr: `capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := capabilities(host, tc.add, tc.drop, tc.privileged)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "caps", got, tc.want)
		})
	}
}
