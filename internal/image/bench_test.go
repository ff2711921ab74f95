package image

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/layer/layertest"
)

// BenchmarkOpenManyImages measures daemon start (New) with 1000 images of
// one distinct layer each, all tagged.
func BenchmarkOpenManyImages(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	root := b.TempDir()
	s, err := New(context.Background(), Config{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const n = 1000
	for i := 0; i < n; i++ {
		data := layertest.Tar(b, layertest.Entry{Name: "f", Body: fmt.Sprint(i)})
		if _, err := NewArchiver(s).Import(context.Background(), bytes.NewReader(data), ImportOptions{Repo: fmt.Sprintf("many/img%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d imports took %v", n, time.Since(start))
	s.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := New(context.Background(), Config{Root: root})
		if err != nil {
			b.Fatal(err)
		}
		if s.Count() != n {
			b.Fatalf("%d images", s.Count())
		}
		s.Close()
	}
}
