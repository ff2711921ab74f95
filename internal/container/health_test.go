package container

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
)

func TestHealthTest(t *testing.T) {
	for _, tc := range []struct {
		test, shell, want []string
	}{
		{test: []string{"CMD", "curl", "-f", "x"}, want: []string{"curl", "-f", "x"}},
		{test: []string{"CMD-SHELL", "exit 1"}, want: []string{"/bin/sh", "-c", "exit 1"}},
		{test: []string{"CMD-SHELL", "exit 1"}, shell: []string{"/bin/ash", "-e", "-c"}, want: []string{"/bin/ash", "-e", "-c", "exit 1"}},
		{test: []string{"NONE"}},
		{test: []string{"CMD"}},
		{},
	} {
		cfg := &containertypes.Config{Shell: tc.shell, Healthcheck: &containertypes.HealthConfig{Test: tc.test}}
		if got := healthTest(cfg); !slices.Equal(got, tc.want) {
			t.Errorf("%q (shell %q): %q, want %q", tc.test, tc.shell, got, tc.want)
		}
	}
}

// TestProbeOutput: frames split anywhere across writes, stdout and
// stderr together, cut at the limit.
func TestProbeOutput(t *testing.T) {
	frame := func(stream byte, s string) []byte {
		h := make([]byte, 8)
		h[0] = stream
		binary.BigEndian.PutUint32(h[4:], uint32(len(s)))
		return append(h, s...)
	}
	all := append(frame(1, "out "), frame(2, "err")...)
	for cut := 0; cut <= len(all); cut++ {
		p := newProbeOutput()
		p.Write(all[:cut])
		p.Write(all[cut:])
		p.Close()
		if got := p.String(); got != "out err" {
			t.Fatalf("cut at %d: %q", cut, got)
		}
	}
	p := newProbeOutput()
	p.Write(frame(1, strings.Repeat("x", probeOutputLimit+10)))
	p.Close()
	if got := p.String(); len(got) != probeOutputLimit {
		t.Errorf("limit: %d bytes", len(got))
	}
}

func TestHumanStringHealth(t *testing.T) {
	now := time.Now()
	s := State{Running: true, StartedAt: now.Add(-time.Minute)}
	for status, want := range map[containertypes.HealthStatus]string{
		containertypes.Starting:  "Up About a minute (health: starting)",
		containertypes.Healthy:   "Up About a minute (healthy)",
		containertypes.Unhealthy: "Up About a minute (unhealthy)",
	} {
		s.Health = &containertypes.Health{Status: status}
		if got := s.HumanString(now); got != want {
			t.Errorf("%s: %q, want %q", status, got, want)
		}
	}
}
