package image

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/image/content"
)

// spool is a blob being downloaded into the content store that a reader
// can follow while it is written: extraction starts with the first bytes
// instead of waiting for the download, and the download never waits for
// extraction (the bytes go to the ingest file, and are read back from the
// page cache). A download that is cut off and resumed keeps appending.
type spool struct {
	w *content.Writer

	mu   sync.Mutex
	size int64
	done bool
	err  error
	wake chan struct{} // closed and replaced on every change
}

func newSpool(w *content.Writer) *spool {
	return &spool{w: w, wake: make(chan struct{})}
}

func (s *spool) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.mu.Lock()
	s.size += int64(n)
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
	return n, err
}

// Size is what was written so far.
func (s *spool) Size() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}

// finish ends the blob: readers get EOF after the last byte, or err.
func (s *spool) finish(err error) {
	s.mu.Lock()
	s.done, s.err = true, err
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

// reader opens the blob for reading from its start. It must be called
// before the writer is committed or closed: the file is then renamed or
// removed, which an open descriptor does not notice.
func (s *spool) reader(ctx context.Context) (*spoolReader, error) {
	f, err := os.Open(s.w.Path())
	if err != nil {
		return nil, err
	}
	return &spoolReader{s: s, f: f, ctx: ctx}, nil
}

type spoolReader struct {
	s   *spool
	f   *os.File
	ctx context.Context
	off int64
}

func (r *spoolReader) Read(p []byte) (int, error) {
	for {
		r.s.mu.Lock()
		size, done, ferr, wake := r.s.size, r.s.done, r.s.err, r.s.wake
		r.s.mu.Unlock()
		if r.off < size {
			if avail := size - r.off; int64(len(p)) > avail {
				p = p[:avail]
			}
			n, err := r.f.ReadAt(p, r.off)
			r.off += int64(n)
			if n > 0 {
				return n, nil
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, err
			}
			continue
		}
		if done {
			if ferr != nil {
				return 0, ferr
			}
			return 0, io.EOF
		}
		select {
		case <-wake:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		}
	}
}

// Offset is how far the reader got.
func (r *spoolReader) Offset() int64 { return r.off }

func (r *spoolReader) Close() error { return r.f.Close() }

// bar reports a progress bar at most every 100ms, as Docker's progress
// reader does, plus whenever force is set.
type bar struct {
	p          Progress
	id, action string
	total      int64
	last       time.Time
	lastN      int64
}

func newBar(p Progress, id, action string, total int64) *bar {
	return &bar{p: p, id: id, action: action, total: total, lastN: -1}
}

func (b *bar) report(n int64, force bool) {
	if n == b.lastN || (!force && time.Since(b.last) < 100*time.Millisecond) {
		return
	}
	b.p.Bar(b.id, b.action, n, b.total)
	b.last = time.Now()
	b.lastN = n
}

// countingReader counts what is read through it and reports it.
type countingReader struct {
	r      io.Reader
	n      int64
	onRead func(n int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.onRead != nil && n > 0 {
		c.onRead(c.n)
	}
	return n, err
}
