package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"
	"github.com/moby/moby/client"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The archive the reference Docker 20.10 wrote loads with its ID, tags
// and layer intact, and says so as docker load does.
func TestLoadDockerArchiveFromReference(t *testing.T) {
	s, bus, _ := newService(t)
	rec := loadFile(t, s, fixtureArchive)
	if got, want := rec.text(), "Loaded image: busybox:latest\nLoaded image: example.com/team/busybox:v1\n"; got != want {
		t.Errorf("load output %q, want %q", got, want)
	}
	if rec.bars == 0 {
		t.Error("no Loading layer progress")
	}
	im, err := s.Get(context.Background(), "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != fixtureID {
		t.Fatalf("ID %s, want %s", im.ID, fixtureID)
	}
	if !slices.Equal(im.RepoTags, []string{"busybox:latest", "example.com/team/busybox:v1"}) {
		t.Errorf("RepoTags %v", im.RepoTags)
	}
	if im.Comment != "berth fixture" || im.Config.Config.Labels["org.example.fixture"] != "busybox" || !slices.Equal(im.Config.Config.Cmd, []string{"sh"}) {
		t.Errorf("config not as saved: comment %q, config %+v", im.Comment, im.Config.Config)
	}
	if im.Size < 1<<20 {
		t.Errorf("size %d, want the busybox binary's worth", im.Size)
	}
	if ev := eventsOf(bus); !slices.Contains(ev, "load") || !slices.Contains(ev, "tag") {
		t.Errorf("events %v, want load and tag", ev)
	}
	// Loading again changes nothing and says the same.
	rec = loadFile(t, s, fixtureArchive)
	if !strings.Contains(rec.text(), "Loaded image: busybox:latest") {
		t.Errorf("second load output %q", rec.text())
	}
	if n, snaps, blobs := storeState(t, s); n != 1 || snaps != 1 || blobs != 1 {
		t.Errorf("after two loads: %d images, %d snapshots, %d blobs; want 1 each", n, snaps, blobs)
	}
}

// save → load into a fresh store gives the same image; the archive holds
// both the docker-archive manifest and an OCI layout, and the layer blob
// is byte-identical to what was loaded.
func TestSaveLoadRoundTrip(t *testing.T) {
	s, bus, _ := newService(t)
	loadFile(t, s, fixtureArchive)
	archive := saveImages(t, s, "busybox", "example.com/team/busybox:v1")
	files := tarEntries(t, archive)
	for _, want := range []string{"manifest.json", "index.json", "oci-layout", "repositories", "blobs/sha256/" + strings.TrimPrefix(fixtureID, "sha256:")} {
		if _, ok := files[want]; !ok {
			t.Errorf("archive lacks %s", want)
		}
	}
	var manifest []manifestItem
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, files["manifest.json"])
	}
	if !slices.Equal(manifest[0].RepoTags, []string{"busybox:latest", "example.com/team/busybox:v1"}) {
		t.Errorf("RepoTags %v", manifest[0].RepoTags)
	}
	layerBlob := files[manifest[0].Layers[0]]
	if digest.FromBytes(layerBlob).String() != fixtureDiffID {
		t.Errorf("layer blob is not the loaded layer.tar (digest %s)", digest.FromBytes(layerBlob))
	}
	var index ocispec.Index
	json.Unmarshal(files["index.json"], &index)
	if len(index.Manifests) != 2 || index.Manifests[0].Annotations[annotationImageName] != "docker.io/library/busybox:latest" {
		t.Errorf("index.json %s", files["index.json"])
	}
	if !slices.Contains(eventsOf(bus), "save") {
		t.Error("no save event")
	}

	s2, _, _ := newService(t)
	rec := &recorder{}
	if err := NewArchiver(s2).Load(context.Background(), bytes.NewReader(archive), true, rec); err != nil {
		t.Fatal(err)
	}
	if rec.bars != 0 {
		t.Error("quiet load drew progress bars")
	}
	im, err := s2.Get(context.Background(), "example.com/team/busybox:v1")
	if err != nil || im.ID != fixtureID {
		t.Fatalf("after round trip: %v %v", im, err)
	}
	// Saving again from the second store is byte-identical.
	if again := saveImages(t, s2, "busybox", "example.com/team/busybox:v1"); !bytes.Equal(again, archive) {
		t.Error("save of the reloaded image differs")
	}
}

// An OCI image layout without manifest.json (what buildx, skopeo and
// containerd write) loads too, with gzip and zstd layers.
func TestLoadOCILayoutCompressedLayers(t *testing.T) {
	for _, comp := range []string{"gzip", "zstd"} {
		t.Run(comp, func(t *testing.T) {
			s, _, _ := newService(t)
			layerTar := busyboxTar(t)
			var blob bytes.Buffer
			mediaType := ocispec.MediaTypeImageLayerGzip
			if comp == "gzip" {
				zw := gzip.NewWriter(&blob)
				zw.Write(layerTar)
				zw.Close()
			} else {
				mediaType = ocispec.MediaTypeImageLayerZstd
				zw, _ := zstd.NewWriter(&blob)
				zw.Write(layerTar)
				zw.Close()
			}
			archive := ociArchive(t, blob.Bytes(), mediaType, digest.FromBytes(layerTar), "registry.example:5000/tools/busybox:1.36")
			rec := &recorder{}
			if err := NewArchiver(s).Load(context.Background(), bytes.NewReader(archive), false, rec); err != nil {
				t.Fatal(err)
			}
			if rec.text() != "Loaded image: registry.example:5000/tools/busybox:1.36\n" {
				t.Errorf("output %q", rec.text())
			}
			im, err := s.Get(context.Background(), "registry.example:5000/tools/busybox:1.36")
			if err != nil {
				t.Fatal(err)
			}
			// The compressed blob is kept as it came, for save and push.
			out := tarEntries(t, saveImages(t, s, im.ID))
			if !bytes.Equal(out["blobs/sha256/"+digest.FromBytes(blob.Bytes()).Encoded()], blob.Bytes()) {
				t.Error("saved layer blob is not the loaded compressed blob")
			}
			// An untagged save reports the ID when loaded.
			s3, _, _ := newService(t)
			rec = &recorder{}
			NewArchiver(s3).Load(context.Background(), bytes.NewReader(saveImages(t, s, im.ID)), true, rec)
			if rec.text() != "Loaded image ID: "+im.ID+"\n" {
				t.Errorf("untagged load output %q", rec.text())
			}
		})
	}
}

// ociArchive writes an OCI layout holding one image with one layer.
func ociArchive(t *testing.T, layerBlob []byte, mediaType string, diffID digest.Digest, name string) []byte {
	t.Helper()
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Cmd": []string{"sh"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID.String()}},
	})
	man, _ := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(config), Size: int64(len(config))},
		Layers:    []ocispec.Descriptor{{MediaType: mediaType, Digest: digest.FromBytes(layerBlob), Size: int64(len(layerBlob))}},
	})
	ann := map[string]string{}
	if name != "" {
		ann[annotationImageName] = name
		ann[ocispec.AnnotationRefName] = name[strings.LastIndex(name, ":")+1:]
	}
	index, _ := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man)), Annotations: ann}},
	})
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": index,
		"blobs/sha256/" + digest.FromBytes(config).Encoded():    config,
		"blobs/sha256/" + digest.FromBytes(man).Encoded():       man,
		"blobs/sha256/" + digest.FromBytes(layerBlob).Encoded(): layerBlob,
	}
	return tarOf(t, files)
}

// Archives that lie or try to escape are refused and leave nothing behind.
func TestLoadRejectsBadArchives(t *testing.T) {
	s, _, root := newService(t)
	evil := tarOf(t, map[string][]byte{"../escape": []byte("x")})
	traversalLayer := tarOf(t, map[string][]byte{"../../../../../../../tmp/berth-pwned": []byte("x")})
	good := busyboxTar(t)

	dockerArchive := func(layer []byte, diffID digest.Digest, layerPath string) []byte {
		config, _ := json.Marshal(map[string]any{"architecture": "amd64", "os": "linux",
			"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID.String()}}})
		cfgName := digest.FromBytes(config).Encoded() + ".json"
		manifest, _ := json.Marshal([]manifestItem{{Config: cfgName, RepoTags: []string{"evil:latest"}, Layers: []string{layerPath}}})
		return tarOf(t, map[string][]byte{cfgName: config, "layer/layer.tar": layer, "manifest.json": manifest})
	}
	cases := map[string][]byte{
		"archive path escape":  evil,
		"layer path traversal": dockerArchive(traversalLayer, digest.FromBytes(traversalLayer), "layer/layer.tar"),
		"wrong diff id":        dockerArchive(good, digest.FromString("not this"), "layer/layer.tar"),
		"manifest escapes":     dockerArchive(good, digest.FromBytes(good), "../../etc/passwd"),
		"not a tar":            []byte("definitely not a tar archive, not even close, no way at all.........."),
		"no manifest":          tarOf(t, map[string][]byte{"hello": []byte("x")}),
		"oci digest mismatch":  ociArchive(t, good, ocispec.MediaTypeImageLayer, digest.FromString("other"), "evil:1"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			err := NewArchiver(s).Load(context.Background(), bytes.NewReader(data), true, nil)
			if err == nil {
				t.Fatal("bad archive loaded")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Errorf("error class: %v", err)
			}
			if n, snaps, blobs := storeState(t, s); n != 0 || snaps != 0 || blobs != 0 {
				t.Errorf("left %d images, %d snapshots, %d blobs", n, snaps, blobs)
			}
			if entries, _ := os.ReadDir(root + "/content/ingest"); len(entries) != 0 {
				t.Errorf("left %d ingest files", len(entries))
			}
			if _, err := os.Stat("/tmp/berth-pwned"); err == nil {
				os.Remove("/tmp/berth-pwned")
				t.Fatal("layer wrote outside its directory")
			}
		})
	}
}

// A load that moves a tag says so with Docker's words.
func TestLoadMovesTag(t *testing.T) {
	s, _, _ := newService(t)
	other := importTar(t, s, busyboxTar(t), ImportOptions{Repo: "busybox", Message: "older"})
	rec := loadFile(t, s, fixtureArchive)
	want := "The image busybox:latest already exists, renaming the old one with ID " + other + " to empty string\n" +
		"Loaded image: busybox:latest\nLoaded image: example.com/team/busybox:v1\n"
	if rec.text() != want {
		t.Errorf("output %q\nwant %q", rec.text(), want)
	}
	im, _ := s.Get(context.Background(), other)
	if len(im.RepoTags) != 0 {
		t.Errorf("old image still tagged %v", im.RepoTags)
	}
	if loaded, _ := s.Get(context.Background(), "busybox"); !loaded.LastTagTime.IsZero() {
		t.Error("load set LastTagTime; Docker only sets it when tagging")
	}
}

// referenceDockerEnv names the socket of a reference dockerd (for example
// Docker 20.10 started beside the tests); when set, berth's save archive is
// loaded into it to prove older engines accept it.
const referenceDockerEnv = "BERTH_REFERENCE_DOCKER_HOST"

func TestSaveLoadsInReferenceDocker(t *testing.T) {
	host := os.Getenv(referenceDockerEnv)
	if host == "" {
		t.Skip(referenceDockerEnv + " not set")
	}
	s, _, _ := newService(t)
	ctx := context.Background()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(busyboxTar(t))
	zw.Close()
	importTar(t, s, gz.Bytes(), ImportOptions{Repo: "berth-compat", Tag: "gzip", Changes: []string{`CMD ["echo", "hi"]`}})
	loadFile(t, s, fixtureArchive)
	s.Tag(ctx, "busybox", "berth-compat", "plain")
	archive := saveImages(t, s, "berth-compat")

	cli, err := client.New(client.WithHost(host))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	rc, err := cli.ImageLoad(ctx, bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	for _, tag := range []string{"berth-compat:gzip", "berth-compat:plain"} {
		if !strings.Contains(string(out), "Loaded image: "+tag) {
			t.Errorf("reference load output lacks %s: %s", tag, out)
		}
		insp, err := cli.ImageInspect(ctx, tag)
		if err != nil {
			t.Errorf("reference engine has no %s: %v", tag, err)
			continue
		}
		mine, _ := s.Get(ctx, tag)
		if insp.ID != mine.ID {
			t.Errorf("%s: reference ID %s, berth %s", tag, insp.ID, mine.ID)
		}
		cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{})
	}
}
