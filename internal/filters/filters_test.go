package filters

import "testing"

func TestParseBothForms(t *testing.T) {
	for _, s := range []string{`{"status":{"running":true},"name":{"web":true}}`, `{"status":["running"],"name":["web"]}`} {
		a, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if !a.ExactMatch("status", "running") || a.ExactMatch("status", "exited") || !a.Match("name", "webapp") {
			t.Fatalf("%s: wrong matches: %v", s, a)
		}
	}
	if _, err := Parse(`{"x":`); err == nil {
		t.Fatal("malformed filter accepted")
	}
}

func TestLabelsAndValidate(t *testing.T) {
	a, _ := Parse(`{"label":{"a":true,"b=2":true,"c!=3":true}}`)
	if !a.MatchLabels("label", map[string]string{"a": "", "b": "2", "c": "4"}) {
		t.Fatal("should match")
	}
	if a.MatchLabels("label", map[string]string{"a": "", "b": "2", "c": "3"}) || a.MatchLabels("label", map[string]string{"b": "2"}) {
		t.Fatal("should not match")
	}
	if a.Validate("label") != nil || a.Validate("name") == nil {
		t.Fatal("validate")
	}
}
