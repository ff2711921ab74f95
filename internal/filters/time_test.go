package filters

import (
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestParseTime(t *testing.T) {
	ref := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500000000),
		"1700000000.000000001": time.Unix(1700000000, 1),
		"10m":                  ref.Add(-10 * time.Minute),
		"2024-12-31T23:00:00Z": ref.Add(-time.Hour),
		"":                     {},
	}
	for in, want := range cases {
		if got, err := ParseTime(in, ref); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("yesterday", ref); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad timestamp: %v", err)
	}
}
