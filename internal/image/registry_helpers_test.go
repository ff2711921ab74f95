package image

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry"
	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// htpasswdFile writes an htpasswd file with one bcrypt entry.
func htpasswdFile(t testing.TB, user, password string) string {
	t.Helper()
	entry, err := registry.HashPassword(user, password)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(entry+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarLayer builds a layer from files (name → content; a name ending in
// "/" is a directory), gzip-compressed unless zstd is set.
func tarLayer(t testing.TB, files map[string]string, zstd bool) v1.Layer {
	t.Helper()
	contents := make(map[string][]byte, len(files))
	for n, c := range files {
		contents[n] = []byte(c)
	}
	data := tarOf(t, contents)
	opts := []tarball.LayerOption{tarball.WithCompressedCaching}
	if zstd {
		opts = append(opts, tarball.WithCompression("zstd"), tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// remoteImage is an image for this host's platform (or arch) with layers.
func remoteImage(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	if arch == "" {
		arch = runtime.GOARCH
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Labels = map[string]string{"team": "berth"}
	cf.Created = v1.Time{Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.DockerManifestSchema2)
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
