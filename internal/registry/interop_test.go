package registry

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// dockerRegistry is Debian's docker-registry package: distribution 2.8, an
// independent peer to check berth's registry against.
const dockerRegistry = "/usr/bin/docker-registry"

// startDockerRegistry runs docker-registry over root on a free loopback
// port and returns its address once it listens.
func startDockerRegistry(t testing.TB, root string) string {
	t.Helper()
	if _, err := os.Stat(dockerRegistry); err != nil {
		t.Skipf("%s not installed", dockerRegistry)
	}
	// The port is picked by binding and releasing it; another process
	// taking it in between makes the start fail, not hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	config := filepath.Join(t.TempDir(), "config.yml")
	err = os.WriteFile(config, fmt.Appendf(nil, `version: 0.1
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
`, root, addr), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, dockerRegistry, "serve", config)
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

func insecureRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s, name.Insecure, name.StrictValidation)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestInteropDistribution28 copies images both ways between berth's
// registry and Debian's docker-registry with go-containerregistry, and
// lets docker-registry serve a storage root that berth wrote.
func TestInteropDistribution28(t *testing.T) {
	root := t.TempDir()
	peer := startDockerRegistry(t, t.TempDir())
	srv := startRegistry(t, Config{Root: root})

	// berth → docker-registry: an image.
	img := randomImage(t, 4096, 3)
	want := digestOf(t, img)
	if err := remote.Write(ref(t, srv, "team/busybox:v1"), img); err != nil {
		t.Fatal(err)
	}
	src, err := remote.Image(ref(t, srv, "team/busybox:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(insecureRef(t, peer+"/team/busybox:v1"), src); err != nil {
		t.Fatalf("copy to docker-registry: %v", err)
	}
	got, err := remote.Image(insecureRef(t, peer+"/team/busybox:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if d := digestOf(t, got); d != want {
		t.Fatalf("docker-registry has %s, berth pushed %s", d, want)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}

	// docker-registry → berth: a multi-platform index.
	idx, err := random.Index(1024, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(insecureRef(t, peer+"/multi:latest"), idx); err != nil {
		t.Fatal(err)
	}
	srcIdx, err := remote.Index(insecureRef(t, peer+"/multi:latest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref(t, srv, "multi:latest"), srcIdx); err != nil {
		t.Fatalf("copy index to berth: %v", err)
	}
	gotIdx, err := remote.Index(ref(t, srv, "multi:latest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Fatal(err)
	}
	wantIdx, _ := idx.Digest()
	if d, _ := gotIdx.Digest(); d != wantIdx {
		t.Fatalf("berth has index %s, docker-registry had %s", d, wantIdx)
	}

	// The storage layout is the same: docker-registry serves berth's root.
	shared := startDockerRegistry(t, root)
	fromShared, err := remote.Image(insecureRef(t, shared+"/team/busybox:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(fromShared); err != nil {
		t.Fatalf("berth's root served by docker-registry: %v", err)
	}
}
