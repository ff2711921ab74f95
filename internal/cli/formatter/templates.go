package formatter

import (
	"bytes"
	"encoding/json"
	"strings"
	"text/template"
)

// basicFunctions are the functions docker offers in every --format
// template, beside text/template's builtins (print, println, index, len...).
var basicFunctions = template.FuncMap{
	"json":     formatJSON,
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    strings.Title, //nolint:staticcheck // docker uses strings.Title; keep its output for ASCII
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad":      padWithSpace,
	"truncate": truncateWithLength,
}

// headerFunctions replace basicFunctions when a table header is rendered:
// the header cells are the column names, which must come out unchanged
// ("{{upper .Names}}" still heads its column NAMES). pad is kept so that
// headers stay aligned with padded cells.
var headerFunctions = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"truncate": func(v string, _ int) string { return v },
}

// ParseTemplate parses a --format template with docker's functions.
func ParseTemplate(format string) (*template.Template, error) {
	return template.New("").Funcs(basicFunctions).Parse(format)
}

// NewTemplate is an empty named template with docker's functions, for
// callers that add functions of their own before parsing.
func NewTemplate(tag string) *template.Template {
	return template.New(tag).Funcs(basicFunctions)
}

// padWithSpace surrounds a non-empty string with spaces.
func padWithSpace(source string, prefix, suffix int) string {
	if source == "" {
		return source
	}
	return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
}

// truncateWithLength cuts source to length bytes, as docker's does.
func truncateWithLength(source string, length int) string {
	if len(source) < length {
		return source
	}
	return source[:length]
}

// formatJSON is {{json .}}: compact, no HTML escaping, no trailing newline.
func formatJSON(v any) string {
	buf := &bytes.Buffer{}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSpace(buf.String())
}
