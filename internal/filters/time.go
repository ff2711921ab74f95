package filters

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// ParseTime reads the since/until values clients send: Unix
// seconds with optional fraction ("1700000000.123456789", what the docker
// CLI sends), RFC 3339 times, or a Go duration meaning "that long before
// ref".
func ParseTime(v string, ref time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil && v != "0" {
		return ref.Add(-d), nil
	}
	if sec, frac, ok := strings.Cut(v, "."); !strings.ContainsAny(v, "-:TZ") {
		s, err := strconv.ParseInt(sec, 10, 64)
		if err == nil {
			var ns int64
			if ok {
				if len(frac) > 9 {
					frac = frac[:9]
				}
				frac += strings.Repeat("0", 9-len(frac))
				ns, err = strconv.ParseInt(frac, 10, 64)
			}
			if err == nil {
				return time.Unix(s, ns), nil
			}
		}
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to parse value as time or duration: %q", v))
}
