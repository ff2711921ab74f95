package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/layer/layertest"
	"github.com/containerd/errdefs"
	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestImportWithChanges(t *testing.T) {
	s, bus, _ := newService(t)
	ctx := context.Background()
	id := importTar(t, s, busyboxTar(t), ImportOptions{
		Repo: "busybox", Message: "Imported from -",
		Changes: []string{`CMD ["sh"]`, `ENV PATH=/bin:/sbin`, `WORKDIR /root`, `EXPOSE 8080`, `LABEL team=berth`, `USER root`, `VOLUME /data`, `STOPSIGNAL SIGINT`},
	})
	im, err := s.Get(ctx, "docker.io/library/busybox:latest")
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != id || !slices.Equal(im.RepoTags, []string{"busybox:latest"}) {
		t.Fatalf("image %s %v", im.ID, im.RepoTags)
	}
	c := im.Config.Config
	if !slices.Equal(c.Cmd, []string{"sh"}) || !slices.Equal(c.Env, []string{"PATH=/bin:/sbin"}) || c.WorkingDir != "/root" ||
		c.Labels["team"] != "berth" || c.User != "root" || c.StopSignal != "SIGINT" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("volumes %v", c.Volumes)
	}
	if im.Config.OS != "linux" || im.Config.Architecture == "" || im.Comment != "Imported from -" {
		t.Errorf("platform %s/%s comment %q", im.Config.OS, im.Config.Architecture, im.Comment)
	}
	// The layer's diff ID is the digest of the tar as given.
	if got := im.Config.RootFS.DiffIDs; len(got) != 1 || got[0] != digest.FromBytes(busyboxTar(t)) {
		t.Errorf("diff IDs %v", got)
	}
	if ev := eventsOf(bus); !slices.Equal(ev, []string{"tag", "import"}) {
		t.Errorf("events %v", ev)
	}
	h, err := s.History(ctx, "busybox")
	if err != nil || len(h) != 1 || h[0].ID != id || h[0].Comment != "Imported from -" || h[0].Size != im.Size || !slices.Equal(h[0].Tags, []string{"busybox:latest"}) {
		t.Errorf("history %+v %v", h, err)
	}
}

// Compressed tars are accepted; gzip and zstd blobs are kept as given.
func TestImportCompressed(t *testing.T) {
	s, _, _ := newService(t)
	plain := busyboxTar(t)
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	zsw, _ := zstd.NewWriter(&zs)
	zsw.Write(plain)
	zsw.Close()
	for name, c := range map[string]struct {
		data      []byte
		mediaType string
	}{
		"plain": {plain, ocispec.MediaTypeImageLayer},
		"gzip":  {gz.Bytes(), ocispec.MediaTypeImageLayerGzip},
		"zstd":  {zs.Bytes(), ocispec.MediaTypeImageLayerZstd},
	} {
		id := importTar(t, s, c.data, ImportOptions{Repo: "compressed", Tag: name})
		s.mu.RLock()
		rec := s.images[digest.Digest(id)].rec
		s.mu.RUnlock()
		if rec.Layers[0].DiffID != digest.FromBytes(plain) {
			t.Errorf("%s: diff ID %s", name, rec.Layers[0].DiffID)
		}
		if rec.Layers[0].Blob.MediaType != c.mediaType || rec.Layers[0].Blob.Digest != digest.FromBytes(c.data) {
			t.Errorf("%s: blob %+v", name, rec.Layers[0].Blob)
		}
	}
	// Three images, one unpacked layer between them.
	if n, snaps, blobs := storeState(t, s); n != 3 || snaps != 1 || blobs != 3 {
		t.Errorf("%d images, %d snapshots, %d blobs; want 3, 1, 3", n, snaps, blobs)
	}
}

// An empty tar makes a valid image with an empty layer, and a container
// can be made from it.
func TestImportEmptyTar(t *testing.T) {
	s, _, _ := newService(t)
	id := importTar(t, s, layertest.Tar(t), ImportOptions{Repo: "empty"})
	if err := s.RWLayers().CreateRWLayer("emptyctr", id); err != nil {
		t.Fatal(err)
	}
	root, err := s.RWLayers().MountRWLayer("emptyctr")
	if err != nil {
		t.Fatal(err)
	}
	defer s.RWLayers().RemoveRWLayer("emptyctr")
	if err := os.WriteFile(filepath.Join(root, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	rw, rootfs, err := s.RWLayers().RWLayerSize("emptyctr")
	if err != nil || rw != 2 || rootfs != 2 {
		t.Errorf("sizes %d %d %v, want 2 2", rw, rootfs, err)
	}
}

func TestImportRejectsBadInput(t *testing.T) {
	s, _, _ := newService(t)
	good := busyboxTar(t)
	for name, c := range map[string]struct {
		opts ImportOptions
		data []byte
		msg  string
	}{
		"bad change":    {ImportOptions{Changes: []string{"RUN rm -rf /"}}, good, "run is not a valid change command"},
		"bad repo":      {ImportOptions{Repo: "UPPER"}, good, "invalid reference format: repository name (library/UPPER) must be lowercase"},
		"digest repo":   {ImportOptions{Repo: "busybox@sha256:" + strings.Repeat("a", 64)}, good, "cannot import digest reference"},
		"windows":       {ImportOptions{Platform: "windows/amd64"}, good, "operating system is not supported"},
		"not a tar":     {ImportOptions{Repo: "x"}, bytes.Repeat([]byte("garbage!"), 200), ""},
		"escaping path": {ImportOptions{Repo: "x"}, layertest.Tar(t, layertest.Entry{Name: "../../../../../../tmp/berth-import-pwned"}), ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewArchiver(s).Import(context.Background(), bytes.NewReader(c.data), c.opts)
			if err == nil || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want invalid argument", err)
			}
			if c.msg != "" && err.Error() != c.msg {
				t.Errorf("message %q, want %q", err.Error(), c.msg)
			}
			if n, snaps, blobs := storeState(t, s); n != 0 || snaps != 0 || blobs != 0 {
				t.Errorf("left %d images, %d snapshots, %d blobs", n, snaps, blobs)
			}
			if _, err := os.Stat("/tmp/berth-import-pwned"); err == nil {
				os.Remove("/tmp/berth-import-pwned")
				t.Fatal("import wrote outside the layer")
			}
		})
	}
}

func TestParsePlatform(t *testing.T) {
	for in, want := range map[string]string{
		"":                "linux/amd64/",
		"linux":           "linux/amd64/",
		"linux/arm64":     "linux/arm64/",
		"linux/aarch64":   "linux/arm64/",
		"linux/x86_64":    "linux/amd64/",
		"linux/arm/v7":    "linux/arm/v7",
		"linux/arm64/v8":  "linux/arm64/",
		"linux/riscv64":   "linux/riscv64/",
		"LINUX/AMD64":     "linux/amd64/",
		"amd64":           "linux/amd64/",
		"windows/amd64":   "error",
		"linux/pdp11":     "error",
		"linux/a/b/c/d/e": "error",
	} {
		p, err := ParsePlatform(in)
		got := p.OS + "/" + p.Architecture + "/" + p.Variant
		if err != nil {
			got = "error"
		}
		if in == "" || in == "linux" {
			want = "linux/" + p.Architecture + "/"
		}
		if got != want {
			t.Errorf("ParsePlatform(%q) = %s, want %s", in, got, want)
		}
	}
}
