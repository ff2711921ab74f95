package httputils

import (
	"net/http"
	"testing"
)

func TestSplitVersion(t *testing.T) {
	cases := []struct {
		path, version, rest string
		status              int
	}{
		{"/containers/json", "", "/containers/json", 0},
		{"/v1.45/containers/json", "1.45", "/containers/json", 0},
		{"/v1.24/_ping", "1.24", "/_ping", 0},
		{"/volumes", "", "/volumes", 0},
		{"/v1.45", "1.45", "/", 0},
		{"/v1.23/info", "", "", http.StatusBadRequest},
		{"/v9.99/info", "", "", http.StatusBadRequest},
	}
	for _, c := range cases {
		v, rest, err := SplitVersion(c.path)
		if c.status != 0 {
			if StatusFromError(err) != c.status {
				t.Errorf("%s: err %v, want status %d", c.path, err, c.status)
			}
			continue
		}
		if err != nil || v != c.version || rest != c.rest {
			t.Errorf("%s: got (%q, %q, %v), want (%q, %q)", c.path, v, rest, err, c.version, c.rest)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	if CompareVersions("1.9", "1.10") >= 0 || CompareVersions("1.45", "1.45") != 0 || CompareVersions("2.0", "1.99") <= 0 {
		t.Fatal("numeric comparison broken")
	}
}
