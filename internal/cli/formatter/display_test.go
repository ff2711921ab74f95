package formatter

import (
	"testing"
	"time"
)

func TestEllipsis(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"sh -c 'echo out; echo err >&2; exit 3'", 20, "sh -c 'echo out; ec…"},
		{"sleep 100000", 20, "sleep 100000"},
		{"12345678901234567890", 20, "12345678901234567890"},
		{"123456789012345678901", 20, "1234567890123456789…"},
		{"abc", 1, "a"},
		{"abc", 0, ""},
		{"", 5, ""},
		{"你好世界你好", 5, "你好…"}, // wide characters take two columns
		{"你好", 4, "你好"},
		{"héllo wörld", 5, "héll…"},
	} {
		if got := Ellipsis(tc.in, tc.max); got != tc.want {
			t.Errorf("Ellipsis(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestTruncateID(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:11732dffc2391b9f49a9463552ffef842f235818e85d82e7db9e83e3440a851d": "11732dffc239",
		"8d433b4d2823e807c31860c591a8106bf5ac6566129640b6e00292eb63f32479":        "8d433b4d2823",
		"abc": "abc",
		"":    "",
	} {
		if got := TruncateID(in); got != want {
			t.Errorf("TruncateID(%q) = %q, want %q", in, got, want)
		}
	}
}

// Sizes as docker prints them: three significant digits, SI units.
func TestHumanSize(t *testing.T) {
	for in, want := range map[int64]string{
		0:             "0B",
		1:             "1B",
		999:           "999B",
		1000:          "1kB",
		1984241:       "1.98MB",
		4194304:       "4.19MB",
		77800000:      "77.8MB",
		123456789:     "123MB",
		1000000000:    "1GB",
		5300000000000: "5.3TB",
	} {
		if got := HumanSize(in); got != want {
			t.Errorf("HumanSize(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestTimeAgo(t *testing.T) {
	now := time.Date(2024, 1, 31, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0:                         "Less than a second ago",
		500 * time.Millisecond:    "Less than a second ago",
		time.Second:               "1 second ago",
		3 * time.Second:           "3 seconds ago",
		59 * time.Second:          "59 seconds ago",
		time.Minute:               "About a minute ago",
		2 * time.Minute:           "2 minutes ago",
		59 * time.Minute:          "59 minutes ago",
		time.Hour:                 "About an hour ago",
		90 * time.Minute:          "2 hours ago",
		47 * time.Hour:            "47 hours ago",
		48 * time.Hour:            "2 days ago",
		13 * 24 * time.Hour:       "13 days ago",
		14 * 24 * time.Hour:       "2 weeks ago",
		60 * 24 * time.Hour:       "2 months ago",
		2 * 365 * 24 * time.Hour:  "2 years ago",
		56 * 365 * 24 * time.Hour: "56 years ago",
	} {
		if got := TimeAgo(now.Add(-d), now); got != want {
			t.Errorf("TimeAgo(-%v) = %q, want %q", d, got, want)
		}
	}
}
