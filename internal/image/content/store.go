package content

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// Store keeps blobs under blobs/<algorithm>/<encoded digest>. A blob is
// written to ingest/ first, fsynced, and renamed into place only once its
// digest is known (and matches what the caller expected), so a blob that
// exists is always complete and correct.
type Store struct {
	root string
}

// New opens the store at root and discards ingests that a crash
// interrupted.
func New(root string) (*Store, error) {
	for _, d := range []string{"blobs/sha256", "ingest"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, err
		}
	}
	ingest := filepath.Join(root, "ingest")
	entries, err := os.ReadDir(ingest)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(ingest, e.Name())); err != nil {
			return nil, err
		}
	}
	return &Store{root: root}, nil
}

// Path is where the blob with digest d lives (whether or not it exists).
func (s *Store) Path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("invalid digest %q: %w", d, errdefs.ErrInvalidArgument)
	}
	return filepath.Join(s.root, "blobs", d.Algorithm().String(), d.Encoded()), nil
}

// Info returns the size of the blob; errdefs.ErrNotFound if absent.
func (s *Store) Info(d digest.Digest) (int64, error) {
	p, err := s.Path(d)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
		}
		return 0, err
	}
	return fi.Size(), nil
}

// Open opens the blob for reading.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	p, err := s.Path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return f, err
}

// Delete removes the blob. Deleting an absent blob is not an error.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.Path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Walk calls fn with the digest and size of every blob.
func (s *Store) Walk(fn func(d digest.Digest, size int64) error) error {
	base := filepath.Join(s.root, "blobs")
	algs, err := os.ReadDir(base)
	if err != nil {
		return err
	}
	for _, alg := range algs {
		entries, err := os.ReadDir(filepath.Join(base, alg.Name()))
		if err != nil {
			return err
		}
		for _, e := range entries {
			d := digest.NewDigestFromEncoded(digest.Algorithm(alg.Name()), e.Name())
			if d.Validate() != nil {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if err := fn(d, fi.Size()); err != nil {
				return err
			}
		}
	}
	return nil
}

// Writer returns a writer for a new blob. Close it in every case; after a
// successful Commit, Close does nothing.
func (s *Store) Writer() (*Writer, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), "blob-")
	if err != nil {
		return nil, err
	}
	return &Writer{s: s, f: f, path: f.Name(), h: digest.Canonical.Hash()}, nil
}

// Put stores data as a blob and returns its digest.
func (s *Store) Put(data []byte) (digest.Digest, error) {
	w, err := s.Writer()
	if err != nil {
		return "", err
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	return w.Digest(), w.Commit("")
}

// Writer hashes what it writes into an ingest file.
type Writer struct {
	s    *Store
	f    *os.File
	path string // the ingest file, then the blob once committed
	h    hash.Hash
	size int64
	done bool
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.size += int64(n)
	return n, err
}

// ReadFrom lets io.Copy use a large buffer straight into the file.
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Digest is the digest of everything written so far.
func (w *Writer) Digest() digest.Digest {
	return digest.NewDigest(digest.Canonical, w.h)
}

// Path is where the content is: the ingest file before Commit (to verify
// what a blob holds before it becomes visible), the blob after.
func (w *Writer) Path() string { return w.path }

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.size }

// Commit makes the blob visible under its digest: fsync, rename, fsync the
// directory. With expected set, a different digest is an error and
// nothing is stored. A blob that already exists is left as it is.
func (w *Writer) Commit(expected digest.Digest) error {
	if w.done {
		return fmt.Errorf("blob already committed: %w", errdefs.ErrFailedPrecondition)
	}
	d := w.Digest()
	if expected != "" && expected != d {
		w.Close()
		return fmt.Errorf("blob digest mismatch: expected %s, got %s: %w", expected, d, errdefs.ErrInvalidArgument)
	}
	p, err := w.s.Path(d)
	if err != nil {
		w.Close()
		return err
	}
	if _, err := os.Stat(p); err == nil {
		w.Close()
		w.path = p
		return nil
	}
	if err := w.f.Sync(); err != nil {
		w.Close()
		return err
	}
	if err := w.f.Chmod(0o444); err != nil {
		w.Close()
		return err
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	if err := os.Rename(w.f.Name(), p); err != nil {
		os.Remove(w.f.Name())
		return err
	}
	w.done = true
	w.path = p
	return syncDir(filepath.Dir(p))
}

// Close discards an uncommitted blob.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	return os.Remove(w.f.Name())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// TempDir makes a scratch directory on the store's filesystem (so files in
// it can be renamed into blobs) that the next New removes if nobody does.
func (s *Store) TempDir(prefix string) (string, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	dir := filepath.Join(s.root, "ingest", strings.TrimSuffix(prefix, "-")+"-"+hex.EncodeToString(b[:]))
	return dir, os.Mkdir(dir, 0o700)
}
