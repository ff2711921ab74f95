package registrytest

import (
	"archive/tar"
	"bytes"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

// Tar is a tar of files (name → content), in name order; a name ending in
// "/" is a directory.
func Tar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n]))}
		if strings.HasSuffix(n, "/") {
			h = &tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o755}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Layer is a layer of files (see Tar), gzip-compressed unless zstd is
// set.
func Layer(t testing.TB, files map[string]string, zstd bool) v1.Layer {
	t.Helper()
	return LayerOf(t, Tar(t, files), zstd)
}

// LayerOf is a layer of a tar, gzip-compressed unless zstd is set.
func LayerOf(t testing.TB, data []byte, zstd bool) v1.Layer {
	t.Helper()
	opts := []tarball.LayerOption{tarball.WithCompressedCaching}
	if zstd {
		opts = append(opts, tarball.WithCompression("zstd"), tarball.WithMediaType(types.OCILayerZStd))
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Image is a Docker schema 2 image of layers for linux/arch (this host's
// when arch is ""), with CMD ["sh"], the label team=berth and a fixed
// creation date.
func Image(t testing.TB, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	if arch == "" {
		arch = runtime.GOARCH
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"sh"}
	cf.Config.Labels = map[string]string{"team": "berth"}
	cf.Created = v1.Time{Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.DockerManifestSchema2)
}

// Htpasswd writes an htpasswd file with one bcrypt entry (at a low cost:
// distribution checks it on every request) and returns its path.
func Htpasswd(t testing.TB, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(p, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
