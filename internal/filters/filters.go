// Package filters parses the Engine API "filters" query parameter and
// answers the matching questions list endpoints ask of it.
package filters

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
)

// Args is a set of filter terms, each with a set of accepted values.
type Args map[string]map[string]bool

// Parse reads the JSON of a "filters" parameter. Both the current form
// {"term":{"value":true}} and the pre-1.22 form {"term":["value"]} are
// accepted, as Docker does.
func Parse(s string) (Args, error) {
	args := Args{}
	if strings.TrimSpace(s) == "" {
		return args, nil
	}
	if err := json.Unmarshal([]byte(s), (*map[string]map[string]bool)(&args)); err == nil {
		return args, nil
	}
	var legacy map[string][]string
	if err := json.Unmarshal([]byte(s), &legacy); err != nil {
		return nil, fmt.Errorf("invalid filter: %q: %w", s, errdefs.ErrInvalidArgument)
	}
	for k, vs := range legacy {
		for _, v := range vs {
			args.Add(k, v)
		}
	}
	return args, nil
}

// Add accepts value for term.
func (a Args) Add(term, value string) {
	if a[term] == nil {
		a[term] = map[string]bool{}
	}
	a[term][value] = true
}

// Has reports whether term is present.
func (a Args) Has(term string) bool { return len(a[term]) > 0 }

// Get lists the values of term, sorted.
func (a Args) Get(term string) []string {
	out := make([]string, 0, len(a[term]))
	for v := range a[term] {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Validate rejects terms the endpoint does not know, with Docker's message.
func (a Args) Validate(accepted ...string) error {
	for term := range a {
		ok := false
		for _, t := range accepted {
			if t == term {
				ok = true
				break
			}
		}
		if !ok {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", term))
		}
	}
	return nil
}

// Match reports whether value is accepted for term: an absent term accepts
// everything; each accepted value is also tried as a regular expression,
// as Docker does for names.
func (a Args) Match(term, value string) bool {
	vals := a[term]
	if len(vals) == 0 {
		return true
	}
	for v := range vals {
		if v == value {
			return true
		}
		if re, err := regexp.Compile(v); err == nil && re.MatchString(value) {
			return true
		}
	}
	return false
}

// ExactMatch is Match without regular expressions.
func (a Args) ExactMatch(term, value string) bool {
	vals := a[term]
	return len(vals) == 0 || vals[value]
}

// FuzzyMatch accepts value when it equals or begins with an accepted value
// (IDs given as prefixes).
func (a Args) FuzzyMatch(term, value string) bool {
	vals := a[term]
	if len(vals) == 0 || vals[value] {
		return true
	}
	for v := range vals {
		if strings.HasPrefix(value, v) {
			return true
		}
	}
	return false
}

// MatchLabels checks "label" style terms against labels: every accepted
// "key" must be present and every "key=value" must match, "key!=value"
// must not.
func (a Args) MatchLabels(term string, labels map[string]string) bool {
	for v := range a[term] {
		if k, val, ok := strings.Cut(v, "!="); ok {
			if got, has := labels[k]; has && got == val {
				return false
			}
			continue
		}
		k, val, hasVal := strings.Cut(v, "=")
		got, has := labels[k]
		if !has || (hasVal && got != val) {
			return false
		}
	}
	return true
}
