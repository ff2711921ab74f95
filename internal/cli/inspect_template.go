package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
)

// inspect runs the --format template on one object. docker 28 runs it on
// its own typed value, and if that fails, strictly on the daemon's JSON.
// berth's typed values come from a newer API package (fields removed,
// ports keyed by a struct rather than "80/tcp"), so it first runs the
// template on a view of the JSON shaped like docker 28's types: objects
// become structs (fields the typed value lacks included, misspelled ones
// still an error), values the typed value describes keep it (so that an
// empty list prints "[]" and not "<no value>"), and port maps are keyed
// by text, which is how index and range see them in docker.
func (i *templateInspector) inspect(typed any, raw []byte) error {
	var b bytes.Buffer
	write := func() error {
		i.buf.Write(b.Bytes())
		i.buf.WriteByte('\n')
		return nil
	}
	if raw == nil {
		if err := i.tmpl.Execute(&b, typed); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		return write()
	}
	var m any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return fmt.Errorf("unable to read inspect data: %w", err)
	}
	if err := i.tmpl.Execute(&b, docker28View(m, reflect.ValueOf(typed))); err == nil {
		return write()
	}
	b.Reset()
	if err := i.tmpl.Execute(&b, typed); err == nil {
		return write()
	}
	b.Reset()
	strict, err := i.tmpl.Clone()
	if err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	if err := strict.Option("missingkey=error").Execute(&b, m); err != nil {
		return fmt.Errorf("template parsing error: %w", err)
	}
	return write()
}

// docker28View merges the daemon's JSON (decoded with UseNumber) with the
// typed value describing it; see templateInspector.inspect.
func docker28View(raw any, typed reflect.Value) any {
	v, _ := viewOf(raw, typed)
	return v
}

var fieldName = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*$`)

// viewOf returns the value a template sees for raw, and whether it is
// the typed value itself (faithful: printing it matches the JSON).
func viewOf(raw any, typed reflect.Value) (any, bool) {
	for typed.IsValid() && (typed.Kind() == reflect.Pointer || typed.Kind() == reflect.Interface) {
		if typed.IsNil() {
			if raw == nil && typed.CanInterface() {
				return typed.Interface(), true
			}
			typed = reflect.Value{}
			break
		}
		typed = typed.Elem()
	}
	if typed.IsValid() && !typed.CanInterface() {
		typed = reflect.Value{}
	}
	switch r := raw.(type) {
	case nil:
		if typed.IsValid() {
			return typed.Interface(), true
		}
		return nil, false
	case string:
		// Also addresses and the like whose text is the JSON string.
		if typed.IsValid() && (typed.Kind() == reflect.String || fmt.Sprint(typed.Interface()) == r) {
			return typed.Interface(), true
		}
		return r, false
	case json.Number:
		if typed.IsValid() {
			switch typed.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
				reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
				reflect.Float32, reflect.Float64:
				return typed.Interface(), true
			}
		}
		return r, false
	case bool:
		if typed.IsValid() && typed.Kind() == reflect.Bool {
			return typed.Interface(), true
		}
		return r, false
	case []any:
		sameShape := typed.IsValid() && (typed.Kind() == reflect.Slice || typed.Kind() == reflect.Array) && typed.Len() == len(r)
		out := make([]any, len(r))
		faithful := sameShape
		for i := range r {
			var elem reflect.Value
			if sameShape {
				elem = typed.Index(i)
			}
			var ok bool
			out[i], ok = viewOf(r[i], elem)
			faithful = faithful && ok
		}
		if faithful {
			return typed.Interface(), true
		}
		return out, false
	case map[string]any:
		switch {
		case typed.IsValid() && typed.Kind() == reflect.Map:
			return mapView(r, typed)
		case typed.IsValid() && typed.Kind() == reflect.Struct:
			return structView(r, typed)
		default:
			// An object the typed value knows nothing of: a struct in
			// docker's types, so a struct here too when its keys allow.
			return structView(r, reflect.Value{})
		}
	}
	return raw, false
}

// mapView keys a map by text, as the JSON does.
func mapView(r map[string]any, typed reflect.Value) (any, bool) {
	byText := map[string]reflect.Value{}
	iter := typed.MapRange()
	for iter.Next() {
		byText[fmt.Sprint(iter.Key().Interface())] = iter.Value()
	}
	faithful := typed.Type().Key().Kind() == reflect.String && len(byText) == len(r)
	out := make(map[string]any, len(r))
	for k, v := range r {
		var ok bool
		out[k], ok = viewOf(v, byText[k])
		faithful = faithful && ok
	}
	if faithful {
		return typed.Interface(), true
	}
	return out, false
}

// structView is a struct made for the JSON object's keys, typed-value
// order first, so that a misspelled field is an error as in docker and
// the object prints as a struct.
func structView(r map[string]any, typed reflect.Value) (any, bool) {
	var fields map[string]reflect.Value
	var order []string
	if typed.IsValid() {
		fields, order = jsonFields(typed)
	}
	faithful := typed.IsValid()
	values := map[string]any{}
	for k, v := range r {
		f, ok := fields[k]
		if !ok {
			faithful = false
		}
		var fok bool
		values[k], fok = viewOf(v, f)
		faithful = faithful && fok
	}
	if faithful {
		return typed.Interface(), true
	}
	var keys []string
	for _, k := range order {
		if _, ok := r[k]; ok {
			keys = append(keys, k)
		}
	}
	var extra []string
	for k := range r {
		if _, ok := fields[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	keys = append(keys, extra...)

	sf := make([]reflect.StructField, 0, len(keys))
	anyType := reflect.TypeFor[any]()
	for _, k := range keys {
		if !fieldName.MatchString(k) {
			return values, false // not a Go struct in docker either; keep a map
		}
		sf = append(sf, reflect.StructField{Name: k, Type: anyType})
	}
	st := reflect.New(reflect.StructOf(sf)).Elem()
	for i, k := range keys {
		if v := values[k]; v != nil {
			st.Field(i).Set(reflect.ValueOf(v))
		}
	}
	return st.Interface(), false
}

// jsonFields maps the JSON names of a struct's fields (embedded structs
// flattened) to their values, in declaration order.
func jsonFields(v reflect.Value) (map[string]reflect.Value, []string) {
	out := map[string]reflect.Value{}
	var order []string
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, embedded := sf.Name, sf.Anonymous
		if tag, ok := sf.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name, embedded = n, false
			}
		}
		fv := v.Field(i)
		if embedded {
			for fv.Kind() == reflect.Pointer && !fv.IsNil() {
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				sub, subOrder := jsonFields(fv)
				for _, k := range subOrder {
					if _, exists := out[k]; !exists {
						out[k] = sub[k]
						order = append(order, k)
					}
				}
				continue
			}
		}
		if _, exists := out[name]; !exists {
			out[name] = fv
			order = append(order, name)
		}
	}
	return out, order
}
