package registry

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// blobDigests lists what an image stores: its layers and its config.
func blobDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var ds []v1.Hash
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return append(ds, cfg)
}

func assertBlobs(t *testing.T, root string, ds []v1.Hash, present bool) {
	t.Helper()
	for _, d := range ds {
		_, err := os.Stat(registrytest.BlobPath(root, d))
		if present && err != nil {
			t.Errorf("blob %s gone: %v", d, err)
		}
		if !present && !os.IsNotExist(err) {
			t.Errorf("blob %s still stored (%v)", d, err)
		}
	}
}

func TestGarbageCollect(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv := startRegistry(t, Config{Root: root})

	keep := randomImage(t, 2048, 2)
	drop := randomImage(t, 2048, 3)
	if err := remote.Write(ref(t, srv, "team/keep:v1"), keep); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, srv, "team/drop:v1"), drop); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(ref(t, srv, "team/drop@"+digestOf(t, drop).String())); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}

	// The collector refuses to run under a live server.
	if _, err := GarbageCollect(ctx, root, GCOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("GC while serving: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	res, err := GarbageCollect(ctx, root, GCOptions{DryRun: true})
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if res.BlobsDeleted != 0 {
		t.Fatalf("dry run deleted %d blobs", res.BlobsDeleted)
	}
	assertBlobs(t, root, blobDigests(t, drop), true)

	res, err = GarbageCollect(ctx, root, GCOptions{})
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	// keep: 2 layers, config, manifest; drop: 3 layers, config, manifest.
	if res.BlobsBefore != 9 || res.BlobsDeleted != 5 || res.BytesFreed <= 3*2048 {
		t.Fatalf("GC result %+v, want 5 of 9 blobs deleted", res)
	}
	assertBlobs(t, root, blobDigests(t, drop), false)
	assertBlobs(t, root, blobDigests(t, keep), true)

	// A server on the collected root serves what was kept.
	srv2 := startRegistry(t, Config{Root: root})
	got, err := remote.Image(ref(t, srv2, "team/keep:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != digestOf(t, keep) {
		t.Fatal("kept image changed")
	}
	if _, err := remote.Image(ref(t, srv2, "team/drop@"+digestOf(t, drop).String())); err == nil {
		t.Fatal("deleted manifest still served")
	}
	layers, _ := drop.Layers()
	d, _ := layers[0].Digest()
	wantStatus(t, http.MethodGet, srv2.URL()+"/v2/team/drop/blobs/"+d.String(), http.StatusNotFound)
}

func TestGarbageCollectUntagged(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv := startRegistry(t, Config{Root: root})
	old := randomImage(t, 1024, 1)
	cur := randomImage(t, 1024, 1)
	for _, img := range []v1.Image{old, cur} { // the tag moves to cur
		if err := remote.Write(ref(t, srv, "app:latest"), img); err != nil {
			t.Fatal(err)
		}
	}
	srv.Close()

	// Without DeleteUntagged the untagged manifest keeps its blobs.
	res, err := GarbageCollect(ctx, root, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsDeleted != 0 {
		t.Fatalf("deleted %d blobs of an untagged but undeleted manifest", res.BlobsDeleted)
	}
	res, err = GarbageCollect(ctx, root, GCOptions{DeleteUntagged: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.BlobsDeleted != 3 { // layer, config, manifest
		t.Fatalf("GC --delete-untagged: %+v", res)
	}
	assertBlobs(t, root, blobDigests(t, old), false)
	assertBlobs(t, root, blobDigests(t, cur), true)

	srv2 := startRegistry(t, Config{Root: root})
	wantStatus(t, http.MethodGet, srv2.URL()+"/v2/app/manifests/"+digestOf(t, old).String(), http.StatusNotFound)
}

func TestGarbageCollectBadRoot(t *testing.T) {
	if _, err := GarbageCollect(context.Background(), filepath.Join(t.TempDir(), "nope"), GCOptions{}); !errdefs.IsNotFound(err) {
		t.Fatalf("missing root: %v", err)
	}
	// An empty root has nothing to collect.
	res, err := GarbageCollect(context.Background(), t.TempDir(), GCOptions{})
	if err != nil || res != (GCResult{}) {
		t.Fatalf("empty root: %+v, %v", res, err)
	}
}
