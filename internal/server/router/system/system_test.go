package system

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/moby/moby/api/types/events"
)

func TestParseTimestamp(t *testing.T) {
	cases := map[string]time.Time{
		"0":                    time.Unix(0, 0),
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500000000),
		"2024-01-02T03:04:05Z": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	for in, want := range cases {
		got, err := parseTimestamp(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseTimestamp("yesterday"); err == nil {
		t.Error("garbage accepted")
	}
}

func TestMatchFilters(t *testing.T) {
	m := events.Message{Type: events.ContainerEventType, Action: "exec_start: sh -c true", Scope: "local",
		Actor: events.Actor{ID: "abcdef123456", Attributes: map[string]string{"name": "web", "image": "busybox", "com.x": "1"}}}
	match := func(js string) bool {
		f, err := filters.Parse(js)
		if err != nil {
			t.Fatal(err)
		}
		return Match(f, m)
	}
	for js, want := range map[string]bool{
		`{}`:                            true,
		`{"event":{"exec_start":true}}`: true,
		`{"event":{"start":true}}`:      false,
		`{"container":{"web":true}}`:    true,
		`{"container":{"abcdef":true}}`: true,
		`{"container":{"db":true}}`:     false,
		`{"image":{"busybox":true}}`:    true,
		`{"type":{"image":true}}`:       false,
		`{"label":{"com.x=1":true}}`:    true,
		`{"label":{"com.x=2":true}}`:    false,
		`{"network":{"bridge":true}}`:   false,
	} {
		if got := match(js); got != want {
			t.Errorf("%s: got %v, want %v", js, got, want)
		}
	}
}
