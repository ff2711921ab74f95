package cli

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// startFakeEngine serves handler on a private unix socket, answering
// /_ping as a daemon of the given API version does, and returns the host
// for -H. The CLI is a pure API client: what it sends and prints for a
// given answer is what these tests check, from berth and from docker alike.
func startFakeEngine(t *testing.T, apiVersion string, handler http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "fake.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", apiVersion)
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Ostype", "linux")
			w.Header().Set("Docker-Experimental", "false")
			_, _ = io.WriteString(w, "OK")
			return
		}
		handler.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix://" + sock
}
