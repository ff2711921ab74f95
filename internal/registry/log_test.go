package registry

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
)

// TestQuietLogging checks what distribution prints through logrus: nothing
// for the 404s clients provoke by design in quiet mode, one line per
// request at info.
func TestQuietLogging(t *testing.T) {
	var buf bytes.Buffer
	std := logrus.StandardLogger()
	prev := std.Out
	std.SetOutput(&buf)
	t.Cleanup(func() {
		std.SetOutput(prev)
		_ = setLogLevel("")
	})

	srv := startRegistry(t, Config{})
	get := func(path string) {
		t.Helper()
		resp, err := http.Get(srv.URL() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	missing := "/v2/team/busybox/blobs/sha256:" + strings.Repeat("0", 64)
	get("/v2/")
	get(missing)
	get("/v2/team/busybox/manifests/latest")
	if buf.Len() != 0 {
		t.Fatalf("quiet registry logged:\n%s", buf.String())
	}

	if err := setLogLevel("info"); err != nil {
		t.Fatal(err)
	}
	get(missing)
	if !strings.Contains(buf.String(), "blob unknown") {
		t.Fatalf("info level logged %q", buf.String())
	}

	// Server-side errors still print when quiet.
	if err := setLogLevel(""); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	std.WithField("http.response.status", 500).Error("response completed with error")
	std.Error("storage failure")
	std.WithField("http.response.status", 404).Error("response completed with error")
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("quiet mode printed %d lines:\n%s", got, buf.String())
	}
}
