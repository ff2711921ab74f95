package logs

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// ReadConfig selects what Read returns.
type ReadConfig struct {
	Since, Until time.Time // zero: unbounded
	Tail         int       // last N messages; -1 = all
	Follow       bool
}

// Message is one logged line.
type Message struct {
	Stream string // "stdout" or "stderr"
	Line   []byte // includes the trailing '\n' unless partial
	Time   time.Time
}

// errStop ends a read early (until reached, or the consumer went away).
var errStop = errors.New("stop")

// Read streams the messages of the log at path. Without Follow it ends at
// the end of the file. With Follow it goes on until ctx ends, or until
// stopped is closed (the container exited: nothing more will be written)
// and the file is drained; it waits on inotify, never polls, and follows
// the writer through rotations and truncations. The message channel is
// closed at the end; the error channel then yields at most one error.
func Read(ctx context.Context, driver, path string, cfg ReadConfig, stopped <-chan struct{}) (<-chan Message, <-chan error) {
	msgs := make(chan Message, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		defer close(msgs)
		r := &reader{ctx: ctx, path: path, cfg: cfg, out: msgs}
		err := r.run(driver, stopped)
		if err != nil && !errors.Is(err, errStop) {
			errc <- err
		}
	}()
	return msgs, errc
}

type reader struct {
	ctx   context.Context
	path  string
	cfg   ReadConfig
	codec codec
	out   chan<- Message
}

func (r *reader) emit(m Message) error {
	if !r.cfg.Since.IsZero() && m.Time.Before(r.cfg.Since) {
		return nil
	}
	if !r.cfg.Until.IsZero() && m.Time.After(r.cfg.Until) {
		return errStop
	}
	select {
	case r.out <- m:
		return nil
	case <-r.ctx.Done():
		return errStop
	}
}

func (r *reader) run(driver string, stopped <-chan struct{}) error {
	if driver == None {
		return errdefs.ErrNotImplemented.WithMessage("configured logging driver does not support reading")
	}
	c, err := codecFor(driver)
	if err != nil {
		return err
	}
	r.codec = c

	// Watch before the first read so no write between the two is missed.
	var events <-chan struct{}
	if r.cfg.Follow {
		w, err := watchDir(r.path)
		if err != nil {
			return err
		}
		defer w.close()
		events = w.events
	}

	cur, err := os.Open(r.path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if cur != nil {
		defer func() { cur.Close() }()
	}
	if err := r.history(cur); err != nil {
		return err
	}
	if !r.cfg.Follow {
		if cur == nil {
			return nil
		}
		_, err := r.drain(cur, nil)
		return err
	}

	t := &tailState{}
	for {
		isStopped := closed(stopped)
		st, statErr := os.Stat(r.path)
		rotated := statErr == nil && (cur == nil || !sameFile(cur, st))
		if cur != nil {
			if _, err := r.drain(cur, t); err != nil {
				return err
			}
			if !rotated {
				if fst, err := cur.Stat(); err == nil && fst.Size() < t.off {
					// Truncated in place (max-file 1): start over.
					if _, err := cur.Seek(0, io.SeekStart); err != nil {
						return err
					}
					t.off, t.pending = 0, t.pending[:0]
					continue
				}
			}
		}
		if rotated {
			nf, err := os.Open(r.path)
			if err == nil {
				if cur != nil {
					// The writer may have rotated more than once since we
					// last read: files newer than ours come first.
					for _, f := range r.between(cur, nf) {
						err := r.scan(f, &tailState{}, r.emit)
						f.Close()
						if err != nil {
							nf.Close()
							return err
						}
					}
					cur.Close()
				}
				cur = nf
				t.off, t.pending = 0, t.pending[:0]
				continue
			}
		}
		if isStopped {
			return nil
		}
		select {
		case <-r.ctx.Done():
			return nil
		case <-stopped:
			// Seen as closed at the top of the loop: one more drain, then done.
		case _, ok := <-events:
			if !ok {
				return errors.New("inotify watch ended")
			}
		}
	}
}

func closed(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func sameFile(f *os.File, st os.FileInfo) bool {
	fst, err := f.Stat()
	return err == nil && os.SameFile(fst, st)
}

// history emits what precedes the live part of the current file: rotated
// files (all of them, or as many trailing records as Tail still needs) and
// positions cur at the first record to emit.
func (r *reader) history(cur *os.File) error {
	var size int64
	if cur != nil {
		st, err := cur.Stat()
		if err != nil {
			return err
		}
		size = st.Size()
	}
	if r.cfg.Tail < 0 {
		for i := r.oldestRotated(); i >= 1; i-- {
			if err := r.scanRotated(i, func(m Message) error { return r.emit(m) }); err != nil {
				return err
			}
		}
		return nil
	}
	start, got := size, 0
	if cur != nil {
		var err error
		start, got, err = r.codec.tail(cur, size, r.cfg.Tail)
		if err != nil {
			return err
		}
		if _, err := cur.Seek(start, io.SeekStart); err != nil {
			return err
		}
	}
	need := r.cfg.Tail - got
	var older [][]Message // newest file first
	for i := 1; need > 0; i++ {
		var ms []Message
		err := r.scanRotated(i, func(m Message) error { ms = append(ms, m); return nil })
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			return err
		}
		if len(ms) > need {
			ms = ms[len(ms)-need:]
		}
		need -= len(ms)
		older = append(older, ms)
	}
	for i := len(older) - 1; i >= 0; i-- {
		for _, m := range older[i] {
			if err := r.emit(m); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *reader) oldestRotated() int {
	n := 0
	for i := 1; ; i++ {
		if !exists(rotatedName(r.path, i, false)) && !exists(rotatedName(r.path, i, true)) {
			return n
		}
		n = i
	}
}

// between opens the rotated files newer than old and older than next
// (the writer rotated more than once while we read old), oldest first.
// The writer may still be rotating: the files are identified on a
// snapshot of the rotated set that did not change while they were opened.
func (r *reader) between(old, next *os.File) []*os.File {
	ost, err1 := old.Stat()
	nst, err2 := next.Stat()
	if err1 != nil || err2 != nil {
		return nil
	}
	for attempt := 0; attempt < 100; attempt++ {
		snap := r.snapshot()
		k := -1
		for i, st := range snap {
			if st != nil && os.SameFile(st, ost) {
				k = i
			}
		}
		if k < 0 {
			if sameSnapshot(snap, r.snapshot()) {
				return nil // old was dropped or compressed: nothing to add
			}
			continue
		}
		// next may have been rotated too by now: only what lies between.
		j := -1
		for i, st := range snap {
			if st != nil && os.SameFile(st, nst) {
				j = i
			}
		}
		var files []*os.File
		ok := true
		for i := k - 1; i > j && ok; i-- {
			if snap[i] == nil {
				continue
			}
			f, err := os.Open(rotatedName(r.path, i+1, false))
			if err != nil {
				ok = false
				break
			}
			st, err := f.Stat()
			if err != nil || !os.SameFile(st, snap[i]) {
				f.Close()
				ok = false
				break
			}
			files = append(files, f)
		}
		if ok && sameSnapshot(snap, r.snapshot()) {
			return files
		}
		for _, f := range files {
			f.Close()
		}
	}
	return nil
}

// snapshot lists the rotated files path.1, path.2, ... by index (nil for
// a gap, or one only present gzipped). The directory is listed rather than
// probed name by name: a rotation in progress leaves gaps.
func (r *reader) snapshot() []os.FileInfo {
	entries, err := os.ReadDir(filepath.Dir(r.path))
	if err != nil {
		return nil
	}
	prefix := filepath.Base(r.path) + "."
	var snap []os.FileInfo
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest)
		if err != nil || i < 1 {
			continue
		}
		st, err := e.Info()
		if err != nil {
			continue
		}
		for len(snap) < i {
			snap = append(snap, nil)
		}
		snap[i-1] = st
	}
	return snap
}

func sameSnapshot(a, b []os.FileInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || a[i] != nil && !os.SameFile(a[i], b[i]) {
			return false
		}
	}
	return true
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// scanRotated calls fn for every record of rotated file i, plain or
// gzipped (the plain one wins while compression is in progress).
func (r *reader) scanRotated(i int, fn func(Message) error) error {
	var rd io.Reader
	f, err := os.Open(rotatedName(r.path, i, false))
	if os.IsNotExist(err) {
		f, err = os.Open(rotatedName(r.path, i, true))
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			f.Close()
			return err
		}
		rd = zr
	} else if err != nil {
		return err
	} else {
		rd = f
	}
	defer f.Close()
	t := &tailState{}
	return r.scan(rd, t, fn)
}

// tailState carries a partly written record across reads of a live file.
type tailState struct {
	pending []byte
	off     int64 // bytes consumed from the file, complete records only
}

func (r *reader) drain(f *os.File, t *tailState) (int64, error) {
	if t == nil {
		t = &tailState{}
	}
	err := r.scan(f, t, r.emit)
	return t.off, err
}

func (r *reader) scan(rd io.Reader, t *tailState, fn func(Message) error) error {
	buf := make([]byte, 32*1024)
	for {
		n, err := rd.Read(buf)
		if n > 0 {
			t.pending = append(t.pending, buf[:n]...)
			consumed := 0
			for {
				m, k, derr := r.codec.decode(t.pending[consumed:])
				if k == 0 {
					break
				}
				consumed += k
				t.off += int64(k)
				if derr != nil {
					continue // skip a corrupt record, as Docker does
				}
				if ferr := fn(m); ferr != nil {
					return ferr
				}
			}
			t.pending = append(t.pending[:0], t.pending[consumed:]...)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// dirWatch reports changes to the log file and its rotated siblings.
type dirWatch struct {
	f      *os.File
	events chan struct{}
}

func watchDir(path string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	mask := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE | unix.IN_CLOSE_WRITE)
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), mask); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("inotify_add_watch", err)
	}
	// Non-blocking, so reads park in the Go poller and Close wakes them.
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify"), events: make(chan struct{}, 1)}
	base := filepath.Base(path)
	go w.loop(base)
	return w, nil
}

func (w *dirWatch) loop(base string) {
	defer close(w.events)
	buf := make([]byte, 16*1024)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		relevant := false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd, mask, cookie, len (u32 each), name.
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			end := min(off+unix.SizeofInotifyEvent+nameLen, n)
			name := bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:end], "\x00")
			if mask&unix.IN_Q_OVERFLOW != 0 || strings.HasPrefix(string(name), base) {
				relevant = true
			}
			off = end
		}
		if relevant {
			select {
			case w.events <- struct{}{}:
			default: // a wakeup is already pending; the reader re-reads everything
			}
		}
	}
}

func (w *dirWatch) close() { w.f.Close() }
