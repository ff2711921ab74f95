// Package handoff moves a byte stream between a goroutine locked to its
// OS thread (a view of a container's filesystem, a chrooted layer
// unpack) and the rest of the daemon in large chunks. An io.Pipe hands
// data over one Write and one Read at a time; when one end is a locked
// thread each handoff is a context switch, and a tar moved in its
// natural pieces (512-byte headers, 32 KiB of content) costs several
// times the work it carries.
package handoff

import (
	"bufio"
	"io"
)

// Chunk is the size of a handoff.
const Chunk = 1 << 20

// Pipe is an io.Pipe moving whole chunks: the writer buffers until it
// has one (or is closed), the reader takes one per handoff however small
// its own reads are.
func Pipe() (io.ReadCloser, *Writer) {
	pr, pw := io.Pipe()
	return Reader(pr), &Writer{bw: bufio.NewWriterSize(pw, Chunk), pw: pw}
}

// Writer is the writing end of a Pipe.
type Writer struct {
	bw *bufio.Writer
	pw *io.PipeWriter
}

func (w *Writer) Write(p []byte) (int, error) { return w.bw.Write(p) }

// CloseWithError flushes what is buffered (unless err is set) and
// closes the pipe: the reader gets err, or io.EOF when it is nil.
func (w *Writer) CloseWithError(err error) error {
	if err == nil {
		err = w.bw.Flush()
	}
	return w.pw.CloseWithError(err)
}

// Reader reads pr a chunk per handoff, however small the caller's reads.
// Closing it closes pr.
func Reader(pr *io.PipeReader) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{bufio.NewReaderSize(pr, Chunk), pr}
}

// Prefetch reads r on a goroutine of its own and delivers it in chunks;
// a read error of r is the reader's. Close stops the goroutine and waits
// for it: once Close returns, r is read no more (a caller may read the
// rest of r itself), so r must be a stream whose reads return.
func Prefetch(r io.Reader) io.ReadCloser {
	out, w := Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := io.Copy(w, r)
		w.CloseWithError(err)
	}()
	return &prefetched{ReadCloser: out, done: done}
}

type prefetched struct {
	io.ReadCloser
	done chan struct{}
}

func (p *prefetched) Close() error {
	err := p.ReadCloser.Close()
	<-p.done
	return err
}
