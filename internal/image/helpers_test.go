package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/busyboxtest"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/layer"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
)

const (
	fixtureArchive = "testdata/docker-20.10-busybox.tar.gz"
	fixtureID      = "sha256:911349a88c25d7cadef8809de8dc49d2aa6a3120fb70d6c699ec65b791f2adaf"
	fixtureDiffID  = "sha256:bed6e351043a1f890f3d857d90edaa7db3775684138fb51dbbf9e428113d4eb4"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: overlay mounts and chroot")
	}
}

// newService opens a service on a fresh root, closed at cleanup.
func newService(t *testing.T) (*Service, *events.Bus, string) {
	t.Helper()
	needRoot(t)
	root := t.TempDir()
	bus := events.New()
	s, err := New(context.Background(), Config{Root: root, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		// A failed test may leave rootfs mounts; TempDir cannot remove them.
		entries, _ := os.ReadDir(filepath.Join(root, "rw"))
		for _, e := range entries {
			layer.Unmount(filepath.Join(root, "rw", e.Name(), "merged"))
		}
	})
	return s, bus, root
}

// reopen closes s and opens the same root again, as a daemon restart does.
func reopen(t *testing.T, s *Service, root string) *Service {
	t.Helper()
	s.Close()
	s2, err := New(context.Background(), Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

// busyboxTar is the test busybox root filesystem (package busyboxtest),
// built once: tests compare digests of it.
func busyboxTar(t testing.TB) []byte {
	t.Helper()
	data, err := busyboxRootfs()
	if err != nil {
		t.Fatalf("build busybox rootfs: %v", err)
	}
	return data
}

var busyboxRootfs = sync.OnceValues(busyboxtest.Rootfs{}.Tar)

func importTar(t *testing.T, s *Service, data []byte, opts ImportOptions) string {
	t.Helper()
	id, err := NewArchiver(s).Import(context.Background(), bytes.NewReader(data), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return id
}

func loadFile(t *testing.T, s *Service, path string) *recorder {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := &recorder{}
	if err := NewArchiver(s).Load(context.Background(), f, false, rec); err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return rec
}

func saveImages(t *testing.T, s *Service, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := NewArchiver(s).Save(context.Background(), names, &buf); err != nil {
		t.Fatalf("save %v: %v", names, err)
	}
	return buf.Bytes()
}

// recorder is a Progress that keeps everything.
type recorder struct {
	mu      sync.Mutex
	streams []string
	bars    int
}

func (r *recorder) Bar(id, action string, current, total int64) {
	r.mu.Lock()
	r.bars++
	r.mu.Unlock()
}
func (r *recorder) Status(id, status string) {}
func (r *recorder) Update(id, action string) {}
func (r *recorder) Aux(any)                  {}
func (r *recorder) Stream(text string) {
	r.mu.Lock()
	r.streams = append(r.streams, text)
	r.mu.Unlock()
}
func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.streams, "")
}

// tarEntries lists the names in a tar.
func tarEntries(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}

// tarOf builds a tar of name → content, in name order; a name ending in
// "/" is a directory.
func tarOf(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		if strings.HasSuffix(n, "/") {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o755})
			continue
		}
		b := files[n]
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.Close()
	return buf.Bytes()
}

// storeState summarises everything on disk that a failed operation must
// not leave: images, snapshots, blobs.
func storeState(t *testing.T, s *Service) (images, snapshots, blobs int) {
	t.Helper()
	images = s.Count()
	s.layers.sn.Walk(context.Background(), func(context.Context, layer.Info) error { snapshots++; return nil })
	s.layers.blobs.Walk(func(digest.Digest, int64) error { blobs++; return nil })
	return
}

// eventsOf collects the image events published so far.
func eventsOf(bus *events.Bus) []string {
	past, _, cancel := bus.Subscribe(time.Unix(1, 0))
	defer cancel()
	var out []string
	for _, m := range past {
		if m.Type == eventtypes.ImageEventType {
			out = append(out, string(m.Action))
		}
	}
	return out
}

// newDistributor connects s to registries, as the daemon does.
func newDistributor(t testing.TB, s *Service, cfg DistributorConfig) *Distributor {
	t.Helper()
	d, err := NewDistributor(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
