package registry

import (
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

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
	peer := registrytest.DockerRegistry(t, registrytest.Config{})
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
	registrytest.Push(t, peer+"/team/busybox:v1", src)
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
	registrytest.PushIndex(t, peer+"/multi:latest", idx)
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
	shared := registrytest.DockerRegistry(t, registrytest.Config{Root: root})
	fromShared, err := remote.Image(insecureRef(t, shared+"/team/busybox:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(fromShared); err != nil {
		t.Fatalf("berth's root served by docker-registry: %v", err)
	}
}
