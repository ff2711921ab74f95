package image

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/registry"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// startBerthRegistry runs berth's own registry in the test process.
func startBerthRegistry(t testing.TB, htpasswd string) string {
	t.Helper()
	srv, err := registry.Serve(context.Background(), registry.Config{Root: t.TempDir(), Addr: "127.0.0.1:0", Htpasswd: htpasswd})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

func basicAuth(user, pass string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: pass})
}

func mustRef(t testing.TB, s string) reference.Named {
	t.Helper()
	ref, err := ParsePullReference(s, "")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// messages is a Progress that keeps Docker's messages as text lines:
// "id: status" (or "status"), bars as "id: action" without numbers.
type messages struct {
	mu    sync.Mutex
	lines []string
	aux   []any
}

func (m *messages) add(id, s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if id != "" {
		s = id + ": " + s
	}
	m.lines = append(m.lines, s)
}

func (m *messages) Bar(id, action string, current, total int64) { m.add(id, action) }
func (m *messages) Status(id, status string)                    { m.add(id, status) }
func (m *messages) Update(id, action string)                    { m.add(id, action) }
func (m *messages) Stream(text string)                          { m.add("", text) }
func (m *messages) Aux(v any) {
	m.mu.Lock()
	m.aux = append(m.aux, v)
	m.mu.Unlock()
}

// has reports whether a line equals s.
func (m *messages) has(s string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lines {
		if l == s {
			return true
		}
	}
	return false
}

func (m *messages) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Bars repeat; keep each line once in a row.
	var out []string
	for _, l := range m.lines {
		if len(out) > 0 && out[len(out)-1] == l {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
