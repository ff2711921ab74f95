package formatter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// Format keys with a meaning of their own in --format.
const (
	TableFormatKey = "table"
	RawFormatKey   = "raw"
	JSONFormatKey  = "json"

	// DefaultQuietFormat is what -q prints for each row.
	DefaultQuietFormat = "{{.ID}}"
	// JSONFormat is what "--format json" means.
	JSONFormat = "{{json .}}"
)

// Format is a --format value: "table", "table TEMPLATE", "json" or a template.
type Format string

// IsTable reports whether rows go through the table writer, with a header.
func (f Format) IsTable() bool { return strings.HasPrefix(string(f), TableFormatKey) }

// IsJSON reports whether the format is the bare "json" keyword.
func (f Format) IsJSON() bool { return string(f) == JSONFormatKey }

// Contains reports whether the format mentions sub (e.g. "{{.Digest}}").
func (f Format) Contains(sub string) bool { return strings.Contains(string(f), sub) }

// templateString is the Go template the format stands for: the "table"
// prefix removed, surrounding spaces trimmed, and the two-character escapes
// \t and \n that shells pass literally turned into a tab and a newline.
func (f Format) templateString() string {
	out := string(f)
	switch {
	case f.IsTable():
		out = out[len(TableFormatKey):]
	case f.IsJSON():
		out = JSONFormat
	}
	out = strings.Trim(out, " ")
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(out)
}

// SubContext is one row's data; FullHeader gives the table header values.
type SubContext interface {
	FullHeader() any
}

// SubHeaderContext maps a field name to its column header.
type SubHeaderContext map[string]string

// Label is the header for a label column such as {{.Label "com.x.y"}}:
// the last dotted part with - and _ as spaces.
func (SubHeaderContext) Label(name string) string {
	n := strings.Split(name, ".")
	return strings.NewReplacer("-", " ", "_", " ").Replace(n[len(n)-1])
}

// HeaderContext is embedded in row types to provide their header.
type HeaderContext struct {
	Header any
}

// FullHeader returns the header.
func (c *HeaderContext) FullHeader() any { return c.Header }

// joinLabels is a LABELS column: the key=value pairs, sorted, joined by
// commas.
func joinLabels(labels map[string]string) string {
	pairs := make([]string, 0, len(labels))
	for k, v := range labels {
		pairs = append(pairs, k+"="+v)
	}
	sort.Strings(pairs)
	return strings.Join(pairs, ",")
}

// Context renders rows through a format to Output.
type Context struct {
	Output io.Writer
	Format Format
	// Trunc shortens IDs, commands and the like (no --no-trunc).
	Trunc bool

	buffer *bytes.Buffer
}

// Write renders every row that rows passes to its callback, then, for a
// table, the header and the aligned columns.
func (c *Context) Write(header SubContext, rows func(func(SubContext) error) error) error {
	c.buffer = &bytes.Buffer{}
	tmpl, err := ParseTemplate(c.Format.templateString())
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	err = rows(func(row SubContext) error {
		if err := tmpl.Execute(c.buffer, row); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		c.buffer.WriteString("\n")
		return nil
	})
	if err != nil {
		return err
	}
	c.flush(tmpl, header)
	return nil
}

func (c *Context) flush(tmpl *template.Template, header SubContext) {
	out := c.Output
	if out == nil {
		out = io.Discard
	}
	if !c.Format.IsTable() {
		_, _ = c.buffer.WriteTo(out)
		return
	}
	tw := NewTabWriter(out)
	_ = tmpl.Funcs(headerFunctions).Execute(tw, header.FullHeader())
	_, _ = tw.Write([]byte{'\n'})
	_, _ = c.buffer.WriteTo(tw)
	_ = tw.Flush()
}

// NewTabWriter is the column writer docker uses for its tables: minimum
// width 10, three spaces of padding.
func NewTabWriter(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
}

// MarshalJSON turns a row type into the JSON object {{json .}} prints: one
// key per exported method that takes no argument and returns one value.
func MarshalJSON(x any) ([]byte, error) {
	m, err := marshalMap(x)
	if err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

func marshalMap(x any) (map[string]any, error) {
	val := reflect.ValueOf(x)
	if val.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("expected a pointer to a struct, got %v", val.Kind())
	}
	if val.IsNil() {
		return nil, errors.New("expected a pointer to a struct, got nil pointer")
	}
	if val.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("expected a pointer to a struct, got a pointer to %v", val.Elem().Kind())
	}
	typ := val.Type()
	m := make(map[string]any)
	for i := 0; i < val.NumMethod(); i++ {
		method, fn := typ.Method(i), val.Method(i)
		name := method.Name
		if !unicode.IsUpper(rune(name[0])) || name == "FullHeader" || name == "MarshalJSON" {
			continue
		}
		if fn.Type().NumIn() != 0 || fn.Type().NumOut() != 1 {
			continue
		}
		m[name] = fn.Call(nil)[0].Interface()
	}
	return m, nil
}
