package image

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// dockerPushDigest is what Docker 20.10 pushed for the fixture image (the
// busybox it saved into testdata): same layer, same gzip, same manifest
// bytes.
const dockerPushDigest = "sha256:a04a274a09e20c4e29c79b725fe4e8e91418e753b3b2aa4b8805114cd68cb5f6"

// TestPushLikeDocker pushes the fixture image to docker-registry and gets
// the manifest digest Docker got for it, then pushes again (the layer
// exists) and to another repository (mounted), and reads it back with
// go-containerregistry's validator.
func TestPushLikeDocker(t *testing.T) {
	s, bus, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	ctx := context.Background()
	loadFile(t, s, fixtureArchive)
	if err := s.Tag(ctx, "busybox", addr+"/team/busybox", "v1"); err != nil {
		t.Fatal(err)
	}
	ref := mustRef(t, addr+"/team/busybox:v1")
	var m messages
	if err := dist.Push(ctx, ref, PushOptions{}, &m); err != nil {
		t.Fatalf("push: %v\n%s", err, &m)
	}
	id := strings.TrimPrefix(fixtureDiffID, "sha256:")[:12]
	want := "The push refers to repository [" + addr + "/team/busybox]\n" +
		id + ": Preparing\n" + id + ": Pushing\n" + id + ": Pushed\n" +
		"v1: digest: " + dockerPushDigest + " size: 527"
	if m.String() != want {
		t.Errorf("push messages:\n%s\nwant\n%s", &m, want)
	}
	if len(m.aux) != 1 || m.aux[0] != (pushResult{Tag: "v1", Digest: dockerPushDigest, Size: 527}) {
		t.Errorf("aux %v", m.aux)
	}
	im, _ := s.Get(ctx, ref.String())
	if !slices.Contains(im.RepoDigests, addr+"/team/busybox@"+dockerPushDigest) {
		t.Errorf("RepoDigests %v", im.RepoDigests)
	}
	r, _ := name.ParseReference(addr+"/team/busybox:v1", name.Insecure)
	got, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("pushed image: %v", err)
	}

	var again messages
	if err := dist.Push(ctx, ref, PushOptions{}, &again); err != nil {
		t.Fatal(err)
	}
	if !again.has(id+": Layer already exists") || again.has(id+": Pushed") {
		t.Errorf("second push:\n%s", &again)
	}

	if err := s.Tag(ctx, "busybox", addr+"/team/other", "v2"); err != nil {
		t.Fatal(err)
	}
	var mounted messages
	if err := dist.Push(ctx, mustRef(t, addr+"/team/other:v2"), PushOptions{}, &mounted); err != nil {
		t.Fatal(err)
	}
	if !mounted.has(id+": Mounted from team/busybox") || !mounted.has("v2: digest: "+dockerPushDigest+" size: 527") {
		t.Errorf("push to another repository:\n%s", &mounted)
	}
	if got := eventsOf(bus); !slices.Contains(got, "push") {
		t.Errorf("events %v", got)
	}

	// Without a tag, every tag of the repository goes.
	if err := s.Tag(ctx, "busybox", addr+"/team/other", "v3"); err != nil {
		t.Fatal(err)
	}
	var all messages
	if err := dist.Push(ctx, mustRef(t, addr+"/team/other"), PushOptions{}, &all); err != nil {
		t.Fatal(err)
	}
	if !all.has("v2: digest: "+dockerPushDigest+" size: 527") || !all.has("v3: digest: "+dockerPushDigest+" size: 527") {
		t.Errorf("push of all tags:\n%s", &all)
	}

	err = dist.Push(ctx, mustRef(t, addr+"/team/none:v1"), PushOptions{}, nil)
	if !errdefs.IsNotFound(err) || err.Error() != "An image does not exist locally with the tag: "+addr+"/team/none" {
		t.Errorf("push of a missing image: %v", err)
	}
}

// TestPullPushRoundTrip pulls an image from one registry and pushes it to
// berth's own registry: blobs go as they were pulled, so the manifest is
// the same, and a pull from there finds everything present.
func TestPullPushRoundTrip(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	peer := registrytest.DockerRegistry(t, registrytest.Config{})
	own := startBerthRegistry(t, "")
	ctx := context.Background()
	img := registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"a/": "", "a/1": "1"}, false), registrytest.Layer(t, map[string]string{"b": "2"}, true))
	dgst := registrytest.Push(t, peer+"/src/img:1", img)
	if err := dist.Pull(ctx, mustRef(t, peer+"/src/img:1"), PullOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, peer+"/src/img:1", own+"/dst/img", "1"); err != nil {
		t.Fatal(err)
	}
	var m messages
	if err := dist.Push(ctx, mustRef(t, own+"/dst/img:1"), PushOptions{}, &m); err != nil {
		t.Fatalf("%v\n%s", err, &m)
	}
	r, _ := name.ParseReference(own+"/dst/img:1", name.Insecure)
	got, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	// go-containerregistry reads every layer as gzip when validating
	// content, so only the structure is checked here; the pull back
	// below unpacks and verifies the layers.
	if err := validate.Image(got, validate.Fast); err != nil {
		t.Errorf("pushed image: %v", err)
	}
	// A zstd layer makes the manifest OCI; gzip layers keep their digests.
	mf, _ := got.Manifest()
	wantMf, _ := img.Manifest()
	if string(mf.MediaType) != "application/vnd.oci.image.manifest.v1+json" || mf.Layers[0].Digest != wantMf.Layers[0].Digest || mf.Layers[1].Digest != wantMf.Layers[1].Digest {
		t.Errorf("pushed manifest %+v, pulled %s", mf, dgst)
	}
	var again messages
	if err := dist.Pull(ctx, mustRef(t, own+"/dst/img:1"), PullOptions{}, &again); err != nil {
		t.Fatal(err)
	}
	if !again.has("Status: Image is up to date for " + own + "/dst/img:1") {
		t.Errorf("pull back:\n%s", &again)
	}
	// A fresh store pulls it from berth's registry, layers and all.
	s2, _, _ := newService(t)
	dist2 := newDistributor(t, s2, DistributorConfig{})
	var fresh messages
	if err := dist2.Pull(ctx, mustRef(t, own+"/dst/img:1"), PullOptions{}, &fresh); err != nil {
		t.Fatalf("%v\n%s", err, &fresh)
	}
	if !fresh.has("Status: Downloaded newer image for " + own + "/dst/img:1") {
		t.Errorf("fresh pull:\n%s", &fresh)
	}
}
