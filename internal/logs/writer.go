package logs

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// Writer records a container's output, one message at a time.
// Implementations are safe for concurrent use (stdout and stderr are
// copied by different goroutines).
type Writer interface {
	// Write records one line of stream ("stdout" or "stderr"). line ends
	// with '\n' unless partial (a line longer than the copier's buffer, or
	// the output's last bytes without a newline).
	Write(stream string, line []byte, t time.Time, partial bool) error
	Close() error
}

// NewWriter opens the log at path for driver ("json-file", "local" or
// "none"), appending to what is there.
func NewWriter(driver, path string, opts map[string]string) (Writer, error) {
	o, err := parseOpts(driver, opts)
	if err != nil {
		return nil, err
	}
	if driver == None {
		return nopWriter{}, nil
	}
	c, err := codecFor(driver)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileWriter{path: path, f: f, size: st.Size(), opts: o, codec: c}, nil
}

type nopWriter struct{}

func (nopWriter) Write(string, []byte, time.Time, bool) error { return nil }
func (nopWriter) Close() error                                { return nil }

// fileWriter appends encoded messages to path and rotates it as Docker
// does: before a write, once the file has reached max-size, path.N-1 is
// dropped, path.i becomes path.i+1 and path becomes path.1 (gzipped in the
// background when compress is set); with max-file 1 the file is truncated.
type fileWriter struct {
	mu         sync.Mutex
	path       string
	f          *os.File
	size       int64
	opts       fileOpts
	codec      codec
	buf        []byte
	compressWG sync.WaitGroup
	closed     bool
}

func (w *fileWriter) Write(stream string, line []byte, t time.Time, partial bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return os.ErrClosed
	}
	if w.opts.maxSize > 0 && w.size >= w.opts.maxSize {
		if err := w.rotate(); err != nil {
			return fmt.Errorf("rotating %s: %w", w.path, err)
		}
	}
	w.buf = w.codec.encode(w.buf[:0], stream, line, t, partial)
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if cap(w.buf) > 64*1024 {
		w.buf = nil // do not keep a huge line's buffer for the container's lifetime
	}
	return err
}

func rotatedName(path string, i int, gz bool) string {
	s := path + "." + strconv.Itoa(i)
	if gz {
		s += ".gz"
	}
	return s
}

func (w *fileWriter) rotate() error {
	if w.opts.maxFiles < 2 {
		if err := w.f.Truncate(0); err != nil {
			return err
		}
		w.size = 0
		return nil
	}
	// The previous compression renames path.1; let it finish first.
	w.compressWG.Wait()
	last := w.opts.maxFiles - 1
	os.Remove(rotatedName(w.path, last, false))
	os.Remove(rotatedName(w.path, last, true))
	for i := last - 1; i >= 1; i-- {
		for _, gz := range []bool{false, true} {
			if err := os.Rename(rotatedName(w.path, i, gz), rotatedName(w.path, i+1, gz)); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(w.path, rotatedName(w.path, 1, false)); err != nil {
		return err
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	w.f = f
	w.size = 0
	if w.opts.compress {
		w.compressWG.Add(1)
		go func() {
			defer w.compressWG.Done()
			compressFile(rotatedName(w.path, 1, false), rotatedName(w.path, 1, true))
		}()
	}
	return nil
}

// compressFile gzips src into dst and removes src. Readers prefer src while
// both exist, and dst appears complete (renamed from a temp file).
func compressFile(src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		return
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return
	}
	zw := gzip.NewWriter(out)
	_, err = io.Copy(zw, in)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return
	}
	if os.Rename(tmp, dst) == nil {
		os.Remove(src)
	}
}

func (w *fileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	w.compressWG.Wait()
	return w.f.Close()
}
