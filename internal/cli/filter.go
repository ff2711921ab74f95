package cli

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/moby/moby/client"
)

// filterFlag is --filter/-f: repeated name=value pairs, as docker's FilterOpt.
type filterFlag struct {
	filters client.Filters
}

func newFilterFlag() *filterFlag { return &filterFlag{filters: client.Filters{}} }

func (f *filterFlag) String() string {
	if len(f.filters) == 0 {
		return ""
	}
	b, err := json.Marshal(f.filters)
	if err != nil {
		return "invalid filters"
	}
	return string(b)
}

func (f *filterFlag) Set(value string) error {
	if value == "" {
		return nil
	}
	name, val, ok := strings.Cut(value, "=")
	if !ok {
		return errors.New("bad format of filter (expected name=value)")
	}
	f.filters.Add(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(val))
	return nil
}

func (*filterFlag) Type() string { return "filter" }

// Value is the filters as the API client takes them.
func (f *filterFlag) Value() client.Filters { return f.filters }

// stringsFlag is a repeatable string flag shown as "list" in help, like
// docker's ListOpts (import --change).
type stringsFlag struct{ values []string }

func (s *stringsFlag) String() string {
	if len(s.values) == 0 {
		return "" // no "(default [])" in help, as docker's
	}
	return "[" + strings.Join(s.values, " ") + "]"
}
func (s *stringsFlag) Set(v string) error { s.values = append(s.values, v); return nil }
func (*stringsFlag) Type() string         { return "list" }
