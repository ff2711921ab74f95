package content

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

func TestPutOpenDelete(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Put([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if d != digest.FromString("hello") {
		t.Fatalf("digest %s", d)
	}
	f, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}
	if size, err := s.Info(d); err != nil || size != 5 {
		t.Fatalf("info %d %v", size, err)
	}
	// Storing the same content again is a no-op.
	if _, err := s.Put([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(d); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(d); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Open(d); !errdefs.IsNotFound(err) {
		t.Fatalf("open deleted: %v", err)
	}
}

func TestCommitVerifiesDigest(t *testing.T) {
	root := t.TempDir()
	s, _ := New(root)
	w, err := s.Writer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, strings.NewReader("payload")); err != nil {
		t.Fatal(err)
	}
	err = w.Commit(digest.FromString("something else"))
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("commit with wrong digest: %v", err)
	}
	if _, err := s.Info(digest.FromString("payload")); !errdefs.IsNotFound(err) {
		t.Fatalf("mismatching blob stored: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "ingest")); len(entries) != 0 {
		t.Fatalf("ingest not cleaned: %d entries", len(entries))
	}
}

// A crash mid-write leaves an ingest file; the next New removes it and
// stored blobs are untouched.
func TestInterruptedIngestDiscarded(t *testing.T) {
	root := t.TempDir()
	s, _ := New(root)
	good, _ := s.Put([]byte("good"))
	w, _ := s.Writer()
	w.Write([]byte("half a blo"))
	tmp, _ := s.TempDir("load")
	os.WriteFile(filepath.Join(tmp, "x"), []byte("x"), 0o600)
	// no Commit, no Close: the process "died".
	s, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(root, "ingest")); len(entries) != 0 {
		t.Fatalf("ingest holds %d leftovers", len(entries))
	}
	var seen []digest.Digest
	s.Walk(func(d digest.Digest, size int64) error { seen = append(seen, d); return nil })
	if len(seen) != 1 || seen[0] != good {
		t.Fatalf("blobs after restart: %v", seen)
	}
	if err := s.Walk(func(digest.Digest, int64) error { return errors.New("stop") }); err == nil {
		t.Fatal("walk error not returned")
	}
}
