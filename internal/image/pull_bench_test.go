package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// hostFilesLayers cuts the regular files under dir (4 KiB to 2 MiB, as
// found) into n layers of about per bytes each: content that compresses
// like a real image's.
func hostFilesLayers(b *testing.B, dir string, n int, per int64) []v1.Layer {
	b.Helper()
	var layers []v1.Layer
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var size int64
	flush := func() {
		tw.Close()
		data := append([]byte(nil), buf.Bytes()...)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithCompressedCaching)
		if err != nil {
			b.Fatal(err)
		}
		layers = append(layers, l)
		buf.Reset()
		tw = tar.NewWriter(&buf)
		size = 0
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || len(layers) >= n || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Size() < 4<<10 || fi.Size() > 2<<20 {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p[1:], Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
		if size += int64(len(data)); size >= per {
			flush()
		}
		return nil
	})
	if len(layers) < n {
		b.Skipf("not enough files under %s", dir)
	}
	return layers
}

// BenchmarkPull pulls a 5-layer image of about 100 MB of host files from
// berth's registry on loopback into an empty store.
func BenchmarkPull(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	addr := startBerthRegistry(b, "")
	img := registrytest.Image(b, "", hostFilesLayers(b, "/usr/lib", 5, 20<<20)...)
	registrytest.Push(b, addr+"/bench/img:v1", img)
	ref, _ := ParsePullReference(addr+"/bench/img:v1", "")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := New(context.Background(), Config{Root: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		dist := newDistributor(b, s, DistributorConfig{})
		b.StartTimer()
		if err := dist.Pull(context.Background(), ref, PullOptions{}, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}
