package registrytest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Binary is Debian's docker-registry package's program.
const Binary = "/usr/bin/docker-registry"

// Config is what a test's docker-registry serves.
type Config struct {
	// Root is the storage root; a fresh temporary directory when empty.
	Root string
	// Htpasswd, when set, is an htpasswd file: the registry asks for
	// basic auth.
	Htpasswd string
	// Extra is appended to the registry's YAML configuration (e.g. a
	// token auth section).
	Extra string
}

// DockerRegistry runs docker-registry on a free loopback port until the
// test ends and returns its address ("127.0.0.1:port") once it listens.
func DockerRegistry(t testing.TB, cfg Config) string {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skipf("%s not installed", Binary)
	}
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	addr := freeAddr(t)
	yml := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, cfg.Root, addr)
	if cfg.Htpasswd != "" {
		yml += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", cfg.Htpasswd)
	}
	yml += cfg.Extra
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, Binary, "serve", path)
	// REGISTRY_* variables would override the configuration.
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})

	// It logs "listening on <addr>" once the socket is bound.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var last []string
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- nil
				_, _ = io.Copy(io.Discard, stderr) // keep the pipe drained
				return
			}
			last = append(last, sc.Text())
		}
		ready <- fmt.Errorf("docker-registry exited before listening: %s", strings.Join(last, "\n"))
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("docker-registry did not start listening within 30s")
	}
	return addr
}

// BlobPath is where a storage root in distribution's filesystem layout
// (docker-registry's, and berth's registry's) keeps a blob's data.
func BlobPath(root string, d v1.Hash) string {
	return filepath.Join(root, "docker/registry/v2/blobs", d.Algorithm, d.Hex[:2], d.Hex, "data")
}

// Push writes img to ref, on a registry served over plain HTTP, as
// another client would, and returns the image's manifest digest.
func Push(t testing.TB, ref string, img v1.Image, opts ...remote.Option) string {
	t.Helper()
	if err := remote.Write(parse(t, ref), img, opts...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// PushIndex is Push for an image index.
func PushIndex(t testing.TB, ref string, idx v1.ImageIndex, opts ...remote.Option) string {
	t.Helper()
	if err := remote.WriteIndex(parse(t, ref), idx, opts...); err != nil {
		t.Fatalf("push index %s: %v", ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// PlatformIndex is an index (of media type mt) of one image per linux
// architecture, in architecture order.
func PlatformIndex(mt types.MediaType, imgs map[string]v1.Image) v1.ImageIndex {
	var adds []mutate.IndexAddendum
	for _, arch := range slices.Sorted(maps.Keys(imgs)) {
		adds = append(adds, mutate.IndexAddendum{Add: imgs[arch], Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), mt)
}

func parse(t testing.TB, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// freeAddr picks a free loopback port by binding and releasing it;
// another process taking it in between makes the start fail, not hang.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
