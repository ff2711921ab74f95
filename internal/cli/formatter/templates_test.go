package formatter

import (
	"bytes"
	"strings"
	"testing"
)

func execTemplate(t *testing.T, format string, data any) string {
	t.Helper()
	tmpl, err := ParseTemplate(format)
	if err != nil {
		t.Fatalf("parse %q: %v", format, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatalf("execute %q: %v", format, err)
	}
	return b.String()
}

// The outputs were checked against docker 28.2.2's inspect --format.
func TestTemplateFunctions(t *testing.T) {
	data := map[string]any{
		"Args":   []string{"100000", "x"},
		"Empty":  "",
		"Word":   "hello world",
		"Labels": map[string]string{"b": "2", "a": "1"},
		"Cmd":    []string{"sh", "-c", "echo <hi> & bye"},
	}
	for format, want := range map[string]string{
		`{{join .Args ","}}`:            "100000,x",
		`{{split "a,b" ","}}`:           "[a b]",
		`{{upper "abc"}}`:               "ABC",
		`{{lower "AbC"}}`:               "abc",
		`{{title .Word}}`:               "Hello World",
		`{{pad "x" 1 2}}`:               " x  ",
		`{{pad .Empty 1 2}}|`:           "|",
		`{{truncate "abcdef" 3}}`:       "abc",
		`{{truncate "ab" 3}}`:           "ab",
		`{{json .Cmd}}`:                 `["sh","-c","echo <hi> & bye"]`,
		`{{json .Labels}}`:              `{"a":"1","b":"2"}`,
		`{{println "x"}}`:               "x\n",
		`{{range .Args}}[{{.}}]{{end}}`: "[100000][x]",
		`{{index .Labels "b"}}`:         "2",
		`{{len .Args}}`:                 "2",
	} {
		if got := execTemplate(t, format, data); got != want {
			t.Errorf("%s = %q, want %q", format, got, want)
		}
	}
}

// join takes a []string only, as in docker 28: a map is an error.
func TestJoinRejectsMap(t *testing.T) {
	tmpl, err := ParseTemplate(`{{join .L ","}}`)
	if err != nil {
		t.Fatal(err)
	}
	err = tmpl.Execute(&bytes.Buffer{}, map[string]any{"L": map[string]any{"a": "b"}})
	if err == nil || !strings.Contains(err.Error(), "wrong type for value; expected []string; got map[string]interface {}") {
		t.Fatalf("err = %v", err)
	}
}

func TestFormatTemplateString(t *testing.T) {
	for _, tc := range []struct {
		f              Format
		table, isJSON  bool
		templateString string
	}{
		{"json", false, true, JSONFormat},
		{"table", true, false, ""},
		{`table {{.ID}}\t{{.Names}}`, true, false, "{{.ID}}\t{{.Names}}"},
		{"table {{.ID}}\\t{{.Names}}", true, false, "{{.ID}}\t{{.Names}}"},
		{"   other   ", false, false, "other"},
		{"   other\n   ", false, false, "other\n"},
		{`{{.ID}}\n`, false, false, "{{.ID}}\n"},
	} {
		if tc.f.IsTable() != tc.table || tc.f.IsJSON() != tc.isJSON || tc.f.templateString() != tc.templateString {
			t.Errorf("%q: table=%v json=%v template=%q", tc.f, tc.f.IsTable(), tc.f.IsJSON(), tc.f.templateString())
		}
	}
}

// Header cells keep the column names whatever function the row applies;
// pad still pads, to stay aligned.
func TestTableHeaderFunctions(t *testing.T) {
	var b bytes.Buffer
	ctx := Context{Output: &b, Format: `table {{upper .Names}}\t{{json .Image}}\t{{truncate .ID 3}}\t{{pad .State 1 1}}|`}
	ctr := containerRows("0123456789abcdef", "/web", "busybox", "running")
	if err := ContainerWrite(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"NAMES     IMAGE       CONTAINER ID    STATE |\n" +
		"WEB       \"busybox\"   012             running |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestLabelHeader(t *testing.T) {
	var h SubHeaderContext
	for in, want := range map[string]string{
		"com.example.my-label": "my label",
		"simple":               "simple",
		"a.b_c":                "b c",
	} {
		if got := h.Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}
