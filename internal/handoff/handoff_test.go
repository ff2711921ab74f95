package handoff

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
)

func TestPipeAndPrefetchKeepTheStream(t *testing.T) {
	data := make([]byte, 3*Chunk+12345)
	rand.New(rand.NewSource(1)).Read(data)

	r, w := Pipe()
	go func() {
		// Small writes, as a tar writer makes them.
		for p := data; len(p) > 0; {
			n := min(len(p), 512)
			w.Write(p[:n])
			p = p[n:]
		}
		w.CloseWithError(nil)
	}()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("pipe: %d bytes, err %v", len(got), err)
	}

	got, err = io.ReadAll(Prefetch(bytes.NewReader(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("prefetch: %d bytes, err %v", len(got), err)
	}
}

func TestErrorsReachTheReader(t *testing.T) {
	boom := errors.New("boom")
	r, w := Pipe()
	go func() {
		w.Write([]byte("partial"))
		w.CloseWithError(boom)
	}()
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Fatalf("pipe: %v, want boom", err)
	}
	src := io.MultiReader(bytes.NewReader([]byte("x")), errReader{boom})
	if _, err := io.ReadAll(Prefetch(src)); !errors.Is(err, boom) {
		t.Fatalf("prefetch: %v, want boom", err)
	}
	// A closed reader stops the writer.
	r, w = Pipe()
	r.Close()
	w.Write(make([]byte, 2*Chunk))
	if err := w.CloseWithError(nil); err != nil {
		t.Fatalf("close after the reader went: %v", err)
	}
	if _, err := w.Write(make([]byte, 2*Chunk)); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("write after the reader went: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestPrefetchCloseWaits: after Close the source is read no more, so the
// caller may read the rest itself.
func TestPrefetchCloseWaits(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 5*Chunk)
	src := bytes.NewReader(data)
	r := Prefetch(src)
	buf := make([]byte, 10)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	r.Close()
	before := src.Len()
	rest, _ := io.ReadAll(src)
	if len(rest) != before || src.Len() != 0 {
		t.Fatalf("source read after Close: %d left, read %d", before, len(rest))
	}
}
