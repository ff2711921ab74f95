package image

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPullFromDistribution28 pulls a three-layer image by tag from
// Debian's docker-registry, checks Docker's progress messages, the files
// of the layers, RepoTags and RepoDigests, then pulls it again (up to
// date) and by digest.
func TestPullFromDistribution28(t *testing.T) {
	s, bus, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	ctx := context.Background()
	l1 := registrytest.Layer(t, map[string]string{"etc/": "", "etc/hello": "one\n", "bin/": ""}, false)
	l2 := registrytest.Layer(t, map[string]string{"etc/hello": "two\n", "etc/other": "x"}, false)
	l3 := registrytest.Layer(t, map[string]string{"etc/.wh.other": "", "usr/": "", "usr/zst": "zstd layer\n"}, true)
	img := registrytest.Image(t, "", l1, l2, l3)
	dgst := registrytest.Push(t, addr+"/team/busybox:v1", img)

	ref := addr + "/team/busybox:v1"
	var m messages
	if err := dist.Pull(ctx, mustRef(t, ref), PullOptions{}, &m); err != nil {
		t.Fatalf("pull: %v\n%s", err, &m)
	}
	d1, _ := l1.Digest()
	id1 := d1.Hex[:12]
	for _, want := range []string{
		"v1: Pulling from team/busybox",
		id1 + ": Pulling fs layer",
		id1 + ": Downloading",
		id1 + ": Verifying Checksum",
		id1 + ": Download complete",
		id1 + ": Extracting",
		id1 + ": Pull complete",
		"Digest: " + dgst,
		"Status: Downloaded newer image for " + ref,
	} {
		if !m.has(want) {
			t.Errorf("no %q in\n%s", want, &m)
		}
	}
	cfgName, _ := img.ConfigName()
	im, err := s.Get(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != cfgName.String() || !slices.Equal(im.RepoTags, []string{ref}) ||
		!slices.Equal(im.RepoDigests, []string{addr + "/team/busybox@" + dgst}) {
		t.Errorf("image %s tags %v digests %v", im.ID, im.RepoTags, im.RepoDigests)
	}
	// The merged layers: l2 replaced hello, l3 whited out other.
	if err := s.RWLayers().CreateRWLayer("c1", im.ID); err != nil {
		t.Fatal(err)
	}
	rootfs, err := s.RWLayers().MountRWLayer("c1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.RWLayers().UnmountRWLayer("c1"); s.RWLayers().RemoveRWLayer("c1") })
	if b, _ := os.ReadFile(filepath.Join(rootfs, "etc/hello")); string(b) != "two\n" {
		t.Errorf("etc/hello = %q", b)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "etc/other")); !os.IsNotExist(err) {
		t.Errorf("whited-out file: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(rootfs, "usr/zst")); string(b) != "zstd layer\n" {
		t.Errorf("usr/zst = %q", b)
	}

	// Again: nothing to fetch.
	var again messages
	if err := dist.Pull(ctx, mustRef(t, ref), PullOptions{}, &again); err != nil {
		t.Fatal(err)
	}
	if want := "v1: Pulling from team/busybox\nDigest: " + dgst + "\nStatus: Image is up to date for " + ref; again.String() != want {
		t.Errorf("second pull:\n%s\nwant\n%s", &again, want)
	}
	// By digest: the image is there; the digest reference is new.
	var byDigest messages
	dref := addr + "/team/busybox@" + dgst
	if err := dist.Pull(ctx, mustRef(t, dref), PullOptions{}, &byDigest); err != nil {
		t.Fatal(err)
	}
	if !byDigest.has(dgst+": Pulling from team/busybox") || !byDigest.has("Status: Image is up to date for "+dref) {
		t.Errorf("digest pull:\n%s", &byDigest)
	}
	if got := eventsOf(bus); !slices.Contains(got, "pull") {
		t.Errorf("events %v", got)
	}
}

// TestPullErrors checks Docker's wording for what users get wrong.
func TestPullErrors(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	ctx := context.Background()
	registrytest.Push(t, addr+"/team/busybox:v1", registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"a": "a"}, false)))

	cases := []struct {
		ref  string
		want string
		nf   bool
	}{
		{addr + "/team/busybox:nope", "manifest for " + addr + "/team/busybox:nope not found: manifest unknown: manifest unknown", true},
		{addr + "/team/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000",
			"manifest for " + addr + "/team/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000 not found: manifest unknown", true},
		{"127.0.0.1:1/x:latest", `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`, false},
	}
	for _, c := range cases {
		before, snaps, blobs := storeState(t, s)
		err := dist.Pull(ctx, mustRef(t, c.ref), PullOptions{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("pull %s: %v, want %q", c.ref, err, c.want)
		}
		if c.nf && !errdefs.IsNotFound(err) {
			t.Errorf("pull %s: %v is not NotFound", c.ref, err)
		}
		if a, b, c2 := storeState(t, s); a != before || b != snaps || c2 != blobs {
			t.Errorf("pull %s left %d images %d snapshots %d blobs", c.ref, a-before, b-snaps, c2-blobs)
		}
	}
	_ = remote.Option(nil)
}
