package image

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/layer/layertest"
	"github.com/containerd/errdefs"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testImage is an image for ociLayout: plain layer tars, bottom first.
type testImage struct {
	name   string
	layers [][]byte
	labels map[string]string
}

// ociLayout writes an OCI layout archive with the given images.
func ociLayout(t *testing.T, images ...testImage) []byte {
	t.Helper()
	files := map[string][]byte{"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`)}
	put := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		files["blobs/sha256/"+d.Encoded()] = b
		return d
	}
	var index ocispec.Index
	index.SchemaVersion = 2
	for _, im := range images {
		var diffIDs []string
		var layers []ocispec.Descriptor
		for _, l := range im.layers {
			d := put(l)
			diffIDs = append(diffIDs, d.String())
			layers = append(layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: d, Size: int64(len(l))})
		}
		config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
			"config": map[string]any{"Labels": im.labels, "Cmd": []string{"sh"}},
			"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
		cd := put(config)
		man, _ := json.Marshal(ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(config))}, Layers: layers})
		md := put(man)
		desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(man))}
		if im.name != "" {
			desc.Annotations = map[string]string{annotationImageName: im.name}
		}
		index.Manifests = append(index.Manifests, desc)
	}
	files["index.json"], _ = json.Marshal(index)
	return tarOf(t, files)
}

func loadBytes(t *testing.T, s *Service, data []byte) {
	t.Helper()
	if err := NewArchiver(s).Load(context.Background(), bytes.NewReader(data), true, nil); err != nil {
		t.Fatal(err)
	}
}

func deleteLines(res []imagetypes.DeleteResponse) string {
	var out []string
	for _, r := range res {
		if r.Untagged != "" {
			out = append(out, "Untagged: "+r.Untagged)
		}
		if r.Deleted != "" {
			out = append(out, "Deleted: "+r.Deleted)
		}
	}
	return strings.Join(out, "\n")
}

const (
	containerA = "0a1b2c3d4e5f00112233445566778899aabbccddeeff00112233445566778899"
	short      = "911349a88c25"
)

func TestRemoveSemantics(t *testing.T) {
	ctx := context.Background()
	layerChain := fixtureDiffID // one layer: its chain ID is its diff ID

	t.Run("last tag deletes", func(t *testing.T) {
		s, bus, _ := newService(t)
		loadFile(t, s, fixtureArchive)
		if err := s.Tag(ctx, "busybox", "example.com/team/busybox", "v1"); err != nil {
			t.Fatal(err)
		}
		res, err := s.Remove(ctx, "busybox", false, true)
		if err != nil || deleteLines(res) != "Untagged: busybox:latest" {
			t.Fatalf("first rmi: %q %v", deleteLines(res), err)
		}
		res, err = s.Remove(ctx, "example.com/team/busybox:v1", false, true)
		want := "Untagged: example.com/team/busybox:v1\nDeleted: " + fixtureID + "\nDeleted: " + layerChain
		if err != nil || deleteLines(res) != want {
			t.Fatalf("second rmi:\n%s\nwant\n%s\n(%v)", deleteLines(res), want, err)
		}
		if n, snaps, blobs := storeState(t, s); n+snaps+blobs != 0 {
			t.Errorf("left %d images, %d snapshots, %d blobs", n, snaps, blobs)
		}
		ev := eventsOf(bus)
		if !slices.Contains(ev, "untag") || !slices.Contains(ev, "delete") {
			t.Errorf("events %v", ev)
		}
		if _, err := s.Remove(ctx, "busybox", false, true); !errdefs.IsNotFound(err) || err.Error() != "No such image: busybox:latest" {
			t.Errorf("rmi of removed image: %v", err)
		}
	})

	t.Run("id with several repositories", func(t *testing.T) {
		s, _, _ := newService(t)
		loadFile(t, s, fixtureArchive)
		_, err := s.Remove(ctx, short, false, true)
		want := "conflict: unable to delete " + short + " (must be forced) - image is referenced in multiple repositories"
		if !errdefs.IsConflict(err) || err.Error() != want {
			t.Fatalf("rmi id: %v, want %q", err, want)
		}
		res, err := s.Remove(ctx, short, true, true)
		if err != nil {
			t.Fatal(err)
		}
		if got := deleteLines(res); got != "Untagged: busybox:latest\nUntagged: example.com/team/busybox:v1\nDeleted: "+fixtureID+"\nDeleted: "+layerChain {
			t.Errorf("rmi -f id:\n%s", got)
		}
	})

	t.Run("id with one tag untags and deletes", func(t *testing.T) {
		s, _, _ := newService(t)
		id := importTar(t, s, busyboxTar(t), ImportOptions{Repo: "solo"})
		res, err := s.Remove(ctx, id, false, false)
		if err != nil || deleteLines(res) != "Untagged: solo:latest\nDeleted: "+id+"\nDeleted: "+string(digest.FromBytes(busyboxTar(t))) {
			t.Fatalf("%q %v", deleteLines(res), err)
		}
	})

	t.Run("stopped container", func(t *testing.T) {
		s, _, _ := newService(t)
		loadFile(t, s, fixtureArchive)
		s.Remove(ctx, "example.com/team/busybox:v1", false, true)
		if err := s.RWLayers().CreateRWLayer(containerA, "busybox"); err != nil {
			t.Fatal(err)
		}
		s.SetContainerUsage(func(id string) []string {
			if id == fixtureID {
				return []string{containerA}
			}
			return nil
		})
		s.SetContainerRunning(func(string) bool { return false })
		_, err := s.Remove(ctx, "busybox", false, true)
		want := `conflict: unable to remove repository reference "busybox" (must force) - container 0a1b2c3d4e5f is using its referenced image ` + short
		if !errdefs.IsConflict(err) || err.Error() != want {
			t.Fatalf("rmi: %v\nwant %q", err, want)
		}
		_, err = s.Remove(ctx, fixtureID, false, true)
		want = "conflict: unable to delete " + short + " (must be forced) - image is being used by stopped container 0a1b2c3d4e5f"
		if !errdefs.IsConflict(err) || err.Error() != want {
			t.Fatalf("rmi id: %v\nwant %q", err, want)
		}
		res, err := s.Remove(ctx, "busybox", true, true)
		if err != nil || deleteLines(res) != "Untagged: busybox:latest\nDeleted: "+fixtureID {
			t.Fatalf("rmi -f: %q %v", deleteLines(res), err)
		}
		// The container's layers outlive the image...
		if _, snaps, _ := storeState(t, s); snaps != 2 {
			t.Errorf("%d snapshots, want the image layer and the rw layer", snaps)
		}
		root, err := s.RWLayers().MountRWLayer(containerA)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := layerFile(root, "bin/busybox"); err != nil {
			t.Errorf("rootfs lost its image layer: %v", err)
		}
		// ...until the container goes.
		if err := s.RWLayers().RemoveRWLayer(containerA); err != nil {
			t.Fatal(err)
		}
		if n, snaps, blobs := storeState(t, s); n+snaps+blobs != 0 {
			t.Errorf("left %d images, %d snapshots, %d blobs", n, snaps, blobs)
		}
	})

	t.Run("running container", func(t *testing.T) {
		s, _, _ := newService(t)
		loadFile(t, s, fixtureArchive)
		s.Remove(ctx, "example.com/team/busybox:v1", false, true)
		s.SetContainerUsage(func(id string) []string { return []string{containerA} })
		s.SetContainerRunning(func(string) bool { return true })
		_, err := s.Remove(ctx, short, true, true)
		want := "conflict: unable to delete " + short + " (cannot be forced) - image is being used by running container 0a1b2c3d4e5f"
		if !errdefs.IsConflict(err) || err.Error() != want {
			t.Fatalf("rmi -f id: %v\nwant %q", err, want)
		}
		// By name with force, Docker untags and keeps the image.
		res, err := s.Remove(ctx, "busybox", true, true)
		if err != nil || deleteLines(res) != "Untagged: busybox:latest" {
			t.Fatalf("rmi -f name: %q %v", deleteLines(res), err)
		}
		if _, err := s.Get(ctx, fixtureID); err != nil {
			t.Errorf("image of a running container deleted: %v", err)
		}
	})
}

// Layers shared by images are stored once and freed with the last image.
func TestSharedLayersRefcounted(t *testing.T) {
	ctx := context.Background()
	s, _, root := newService(t)
	base := busyboxTar(t)
	app := layertest.Tar(t, layertest.Entry{Name: "app/"}, layertest.Entry{Name: "app/run", Body: "#!/bin/sh\necho app\n", Mode: 0o755})
	cfg := layertest.Tar(t, layertest.Entry{Name: "etc/"}, layertest.Entry{Name: "etc/app.conf", Body: "x=1\n"})
	loadBytes(t, s, ociLayout(t,
		testImage{name: "base:1", layers: [][]byte{base}},
		testImage{name: "app:1", layers: [][]byte{base, app}},
		testImage{name: "app:2", layers: [][]byte{base, app, cfg}},
	))
	if n, snaps, blobs := storeState(t, s); n != 3 || snaps != 3 || blobs != 3 {
		t.Fatalf("%d images, %d snapshots, %d blobs; want 3 each (layers stored once)", n, snaps, blobs)
	}
	list, err := s.List(ctx, ListOptions{SharedSize: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range list {
		if im.SharedSize <= 0 || im.SharedSize > im.Size {
			t.Errorf("%v: shared size %d of %d", im.RepoTags, im.SharedSize, im.Size)
		}
	}
	res, err := s.Remove(ctx, "app:1", false, true)
	if err != nil || strings.Count(deleteLines(res), "Deleted:") != 1 {
		t.Fatalf("rmi app:1 freed layers still used by app:2: %q %v", deleteLines(res), err)
	}
	res, err = s.Remove(ctx, "base:1", false, true)
	if err != nil || strings.Count(deleteLines(res), "Deleted:") != 1 {
		t.Fatalf("rmi base:1: %q %v", deleteLines(res), err)
	}
	if _, snaps, blobs := storeState(t, s); snaps != 3 || blobs != 3 {
		t.Errorf("app:2 lost layers: %d snapshots, %d blobs", snaps, blobs)
	}
	// app:2 still runs.
	if err := s.RWLayers().CreateRWLayer("c1", "app:2"); err != nil {
		t.Fatal(err)
	}
	rootfs, err := s.RWLayers().MountRWLayer("c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"bin/busybox", "app/run", "etc/app.conf", "etc/passwd"} {
		if _, err := layerFile(rootfs, f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	s.RWLayers().RemoveRWLayer("c1")
	res, err = s.Remove(ctx, "app:2", false, true)
	if err != nil || strings.Count(deleteLines(res), "Deleted:") != 4 {
		t.Fatalf("rmi app:2: %q %v", deleteLines(res), err)
	}
	if n, snaps, blobs := storeState(t, s); n+snaps+blobs != 0 {
		t.Errorf("left %d images, %d snapshots, %d blobs", n, snaps, blobs)
	}
	// Reopening finds nothing left to collect either.
	s2 := reopen(t, s, root)
	if n, snaps, blobs := storeState(t, s2); n+snaps+blobs != 0 {
		t.Errorf("after reopen: %d images, %d snapshots, %d blobs", n, snaps, blobs)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s, bus, _ := newService(t)
	a := layertest.Tar(t, layertest.Entry{Name: "a", Body: strings.Repeat("a", 1000)})
	b := layertest.Tar(t, layertest.Entry{Name: "b", Body: strings.Repeat("b", 2000)})
	c := layertest.Tar(t, layertest.Entry{Name: "c", Body: "c"})
	loadBytes(t, s, ociLayout(t,
		testImage{name: "keep:1", layers: [][]byte{a}},
		testImage{layers: [][]byte{b}, labels: map[string]string{"tier": "tmp"}},
		testImage{name: "used:1", layers: [][]byte{c}},
	))
	if err := s.RWLayers().CreateRWLayer("user", "used:1"); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Prune(ctx, filters.Args{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ImagesDeleted) != 2 || rep.SpaceReclaimed != 2000 {
		t.Errorf("dangling prune: %+v", rep)
	}
	if s.Count() != 2 {
		t.Fatalf("%d images after dangling prune", s.Count())
	}
	f, _ := filters.Parse(`{"dangling":["false"],"label!":["tier=keep"]}`)
	rep, err = s.Prune(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if got := deleteLines(rep.ImagesDeleted); !strings.HasPrefix(got, "Untagged: keep:1\nDeleted: ") || rep.SpaceReclaimed != 1000 {
		t.Errorf("prune -a: %q %d", got, rep.SpaceReclaimed)
	}
	if _, err := s.Get(ctx, "used:1"); err != nil {
		t.Errorf("prune removed an image in use: %v", err)
	}
	bad, _ := filters.Parse(`{"dangling":["maybe"]}`)
	if _, err := s.Prune(ctx, bad); err == nil || err.Error() != "invalid filter 'dangling=[maybe]'" {
		t.Errorf("bad filter: %v", err)
	}
	if !slices.Contains(eventsOf(bus), "prune") {
		t.Error("no prune event")
	}
	s.RWLayers().RemoveRWLayer("user")
}

func layerFile(root, name string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, name))
	return string(b), err
}
