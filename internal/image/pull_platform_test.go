package image

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// pushIndex writes an index of images (one per arch), OCI or Docker's
// manifest list, and returns its digest.
func pushIndex(t *testing.T, ref string, oci bool, imgs map[string]v1.Image) string {
	t.Helper()
	mt := types.DockerManifestList
	if oci {
		mt = types.OCIImageIndex
	}
	return registrytest.PushIndex(t, ref, registrytest.PlatformIndex(mt, imgs))
}

// TestPullIndex pulls a multi-platform index (Docker manifest list on
// docker-registry, OCI index on berth's registry): the host's platform
// unless --platform says otherwise; RepoDigests records the index digest;
// an index without this platform gets Docker's error.
func TestPullIndex(t *testing.T) {
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("the test indexes have amd64 and arm64 images")
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	for _, reg := range []string{"distribution", "berth"} {
		t.Run(reg, func(t *testing.T) {
			s, _, _ := newService(t)
			dist := newDistributor(t, s, DistributorConfig{})
			var addr string
			if reg == "berth" {
				addr = startBerthRegistry(t, "")
			} else {
				addr = registrytest.DockerRegistry(t, registrytest.Config{})
			}
			ctx := context.Background()
			imgs := map[string]v1.Image{}
			for _, arch := range []string{"amd64", "arm64"} {
				imgs[arch] = registrytest.Image(t, arch, registrytest.Layer(t, map[string]string{"arch": arch}, reg == "berth"))
			}
			idx := pushIndex(t, addr+"/team/multi:v1", reg == "berth", imgs)

			var m messages
			if err := dist.Pull(ctx, mustRef(t, addr+"/team/multi:v1"), PullOptions{}, &m); err != nil {
				t.Fatalf("%v\n%s", err, &m)
			}
			host, _ := imgs[runtime.GOARCH].ConfigName()
			im, err := s.Get(ctx, addr+"/team/multi:v1")
			if err != nil || im.ID != host.String() || im.Config.Architecture != runtime.GOARCH {
				t.Fatalf("pulled %v (%v), want the %s image %s", im, err, runtime.GOARCH, host)
			}
			if !slices.Equal(im.RepoDigests, []string{addr + "/team/multi@" + idx}) || !m.has("Digest: "+idx) {
				t.Errorf("RepoDigests %v, messages\n%s", im.RepoDigests, &m)
			}

			if err := dist.Pull(ctx, mustRef(t, addr+"/team/multi:v1"), PullOptions{Platform: "linux/" + other}, nil); err != nil {
				t.Fatal(err)
			}
			want, _ := imgs[other].ConfigName()
			im, _ = s.Get(ctx, addr+"/team/multi:v1")
			if im.ID != want.String() || im.Config.Architecture != other {
				t.Errorf("--platform linux/%s pulled %s (%s)", other, im.ID, im.Config.Architecture)
			}

			// Only another platform: Docker's error, nothing stored.
			pushIndex(t, addr+"/team/s390x:v1", reg == "berth", map[string]v1.Image{"s390x": registrytest.Image(t, "s390x", registrytest.Layer(t, map[string]string{"x": "y"}, false))})
			before := s.Count()
			err = dist.Pull(ctx, mustRef(t, addr+"/team/s390x:v1"), PullOptions{}, nil)
			if !errdefs.IsNotFound(err) || err.Error() != "no matching manifest for linux/"+runtime.GOARCH+" in the manifest list entries" {
				t.Errorf("pull of an s390x-only index: %v", err)
			}
			if s.Count() != before {
				t.Errorf("a failed pull added an image")
			}
		})
	}
}

// TestPullPlatformMismatch: a single-platform image for another
// architecture than --platform asks for is pulled with Docker's warning
// (Docker keeps single-platform pulls working for compatibility).
func TestPullPlatformMismatch(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	registrytest.Push(t, addr+"/team/s390x:v1", registrytest.Image(t, "s390x", registrytest.Layer(t, map[string]string{"x": "y"}, false)))
	var m messages
	if err := dist.Pull(context.Background(), mustRef(t, addr+"/team/s390x:v1"), PullOptions{Platform: "linux/amd64"}, &m); err != nil {
		t.Fatalf("pull: %v", err)
	}
	want := "WARNING: image with reference " + addr + "/team/s390x:v1 was found but does not match the specified platform: wanted linux/amd64, actual: linux/s390x"
	if !m.has(want) {
		t.Errorf("no %q in\n%s", want, &m)
	}
}

// TestPullAllTags pulls every tag of a repository (-a), sharing layers.
func TestPullAllTags(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	base := registrytest.Layer(t, map[string]string{"base": "b"}, false)
	registrytest.Push(t, addr+"/team/all:v1", registrytest.Image(t, "", base))
	registrytest.Push(t, addr+"/team/all:v2", registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"v2": "2"}, false)))
	var m messages
	if err := dist.Pull(context.Background(), mustRef(t, addr+"/team/all"), PullOptions{}, &m); err != nil {
		t.Fatalf("%v\n%s", err, &m)
	}
	bd, _ := base.Digest()
	for _, want := range []string{"v1: Pulling from team/all", "v2: Pulling from team/all", bd.Hex[:12] + ": Already exists", "Status: Downloaded newer image for " + addr + "/team/all"} {
		if !m.has(want) {
			t.Errorf("no %q in\n%s", want, &m)
		}
	}
	for _, tag := range []string{"v1", "v2"} {
		if _, err := s.Get(context.Background(), addr+"/team/all:"+tag); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(m.String(), "Status: Downloaded newer image") {
		t.Error("no status")
	}
}
