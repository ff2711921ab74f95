package containerfs

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/moby/go-archive"

	"github.com/berth-dev/berth/internal/layer"
)

// BenchmarkExtract unpacks BENCH_TAR (a tar of a tree) into a stopped
// container's view, as PUT /containers/{id}/archive does.
func BenchmarkExtract(b *testing.B) {
	src := os.Getenv("BENCH_TAR")
	if src == "" || os.Geteuid() != 0 {
		b.Skip("BENCH_TAR (a tar) and root needed")
	}
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"view", "plain"} {
		b.Run(mode, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				base := b.TempDir()
				root, target := filepath.Join(base, "root"), filepath.Join(base, "merged")
				os.MkdirAll(filepath.Join(root, "in"), 0o755)
				os.MkdirAll(target, 0o755)
				b.StartTimer()
				if mode == "plain" {
					if err := archive.Untar(bytes.NewReader(data), filepath.Join(root, "in"), &archive.TarOptions{NoOverwriteDirNonDir: true}); err != nil {
						b.Fatal(err)
					}
					continue
				}
				v, err := OpenRootfs(target, []layer.Mount{{Type: "bind", Source: root, Options: []string{"rbind"}}}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := v.Extract("/in", bytes.NewReader(data), true, ""); err != nil {
					b.Fatal(err)
				}
				v.Close()
			}
		})
	}
}

// BenchmarkArchive tars BENCH_TREE (a directory) from a view of it, as
// GET /containers/{id}/archive does, and straight from the host.
func BenchmarkArchive(b *testing.B) {
	tree := os.Getenv("BENCH_TREE")
	if tree == "" || os.Geteuid() != 0 {
		b.Skip("BENCH_TREE (a directory) and root needed")
	}
	for _, mode := range []string{"view", "plain"} {
		b.Run(mode, func(b *testing.B) {
			var total int64
			for i := 0; i < b.N; i++ {
				var rc io.ReadCloser
				var v *View
				if mode == "plain" {
					var err error
					if rc, err = archive.TarWithOptions(tree, &archive.TarOptions{}); err != nil {
						b.Fatal(err)
					}
				} else {
					var err error
					v, err = OpenRootfs(b.TempDir(), []layer.Mount{{Type: "bind", Source: tree, Options: []string{"rbind"}}}, nil)
					if err != nil {
						b.Fatal(err)
					}
					if rc, _, err = v.Archive("/."); err != nil {
						b.Fatal(err)
					}
				}
				n, err := io.Copy(io.Discard, rc)
				if err != nil {
					b.Fatal(err)
				}
				total += n
				rc.Close()
				if v != nil {
					v.Close()
				}
			}
			b.SetBytes(total / int64(b.N))
		})
	}
}
