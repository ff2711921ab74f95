package shim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/runtime"
	"golang.org/x/sys/unix"
)

const (
	// copyBuf is the read size; also the longest log line before a
	// partial message, as Docker's copier.
	copyBuf = 16 * 1024
	// attachQueue is how many chunks an attach client may lag behind
	// before it is dropped: a slow client never blocks the container.
	attachQueue = 256
	// drainGrace bounds how long output is read after the process exited:
	// a process outside the container's pid namespace may hold the pipe.
	drainGrace = 500 * time.Millisecond
)

// procIO is the stdio of one container process (init or exec): the
// shim's ends of its pipes, or its pty master, the copy loops that feed the
// log and the attached clients, and stdin.
type procIO struct {
	terminal  bool
	openStdin bool
	stdinOnce bool
	log       logs.Writer // nil for execs: Docker does not log exec output

	// Container side, handed to the runtime and closed once it ran.
	child runtime.IO

	stdin   *os.File   // pipe write end, or the pty master; nil without stdin
	outputs []*os.File // stdout, stderr pipes; or the pty master alone
	console *os.File

	stdinMu     sync.Mutex
	stdinClosed bool

	mu      sync.Mutex
	clients map[*attachClient]struct{}
	done    bool // output drained: attach streams closed, new ones end at once
	// stdin of clients attached before the pty exists (exec before start)
	pendingStdin []net.Conn
	size         *unix.Winsize // last resize

	copies sync.WaitGroup
}

func newProcIO(terminal, openStdin bool) (*procIO, error) {
	if terminal {
		return &procIO{terminal: true, openStdin: openStdin, clients: map[*attachClient]struct{}{}}, nil
	}
	return newPipeIO(openStdin)
}

func newPipeIO(openStdin bool) (*procIO, error) {
	p := &procIO{openStdin: openStdin, clients: map[*attachClient]struct{}{}}
	var toClose []*os.File
	fail := func(err error) (*procIO, error) {
		for _, f := range toClose {
			f.Close()
		}
		return nil, err
	}
	for i := 0; i < 2; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		toClose = append(toClose, r, w)
		p.outputs = append(p.outputs, r)
		if i == 0 {
			p.child.Stdout = w
		} else {
			p.child.Stderr = w
		}
	}
	if openStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		p.child.Stdin, p.stdin = r, w
	}
	return p, nil
}

// setConsole installs the pty master received from the runtime.
func (p *procIO) setConsole(f *os.File) {
	p.mu.Lock()
	p.console = f
	p.outputs = []*os.File{f}
	if p.size != nil {
		unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, p.size)
	}
	var pending []net.Conn
	if p.openStdin {
		p.stdin = f
		pending, p.pendingStdin = p.pendingStdin, nil
	}
	p.mu.Unlock()
	for _, c := range pending {
		go p.copyStdin(c)
	}
}

// abandon ends a process that never ran: attach streams end, fds close.
func (p *procIO) abandon() {
	p.closeAll()
	p.mu.Lock()
	p.done = true
	for c := range p.clients {
		close(c.q)
	}
	clear(p.clients)
	p.pendingStdin = nil
	p.mu.Unlock()
}

// closeChild closes the container's ends once the runtime handed them over.
func (p *procIO) closeChild() {
	for _, f := range []*os.File{p.child.Stdin, p.child.Stdout, p.child.Stderr} {
		if f != nil {
			f.Close()
		}
	}
	p.child = runtime.IO{}
}

// closeAll releases everything (a failed create or exec).
func (p *procIO) closeAll() {
	p.closeChild()
	for _, f := range p.outputs {
		f.Close()
	}
	if p.stdin != nil {
		p.stdin.Close()
	}
}

// startCopy starts the output loops.
func (p *procIO) startCopy() {
	streams := []string{"stdout", "stderr"}
	for i, f := range p.outputs {
		p.copies.Add(1)
		go p.copy(f, streams[i])
	}
}

func (p *procIO) copy(f *os.File, stream string) {
	defer p.copies.Done()
	buf := make([]byte, copyBuf)
	var line []byte // log line being assembled
	for {
		n, err := f.Read(buf)
		if n > 0 {
			now := time.Now()
			p.broadcast(stream, buf[:n])
			if p.log != nil {
				line = p.logLines(stream, line, buf[:n], now)
			}
		}
		if err != nil {
			// EOF on a pipe; EIO on a pty master once the last slave closed;
			// a deadline once the drain grace is over.
			break
		}
	}
	if p.log != nil && len(line) > 0 {
		p.log.Write(stream, line, time.Now(), true)
	}
}

// logLines logs the complete lines of pending+data and returns what is left
// of an unfinished line; a line longer than copyBuf is logged as partial.
func (p *procIO) logLines(stream string, pending, data []byte, t time.Time) []byte {
	for len(data) > 0 {
		i := indexNL(data)
		if i < 0 {
			pending = append(pending, data...)
			break
		}
		if len(pending) == 0 {
			p.log.Write(stream, data[:i+1], t, false)
		} else {
			pending = append(pending, data[:i+1]...)
			p.log.Write(stream, pending, t, false)
			pending = pending[:0]
		}
		data = data[i+1:]
	}
	for len(pending) >= copyBuf {
		p.log.Write(stream, pending[:copyBuf], t, true)
		pending = append(pending[:0], pending[copyBuf:]...)
	}
	return pending
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// broadcast hands a chunk to every client attached to stream, framed as
// the Engine API does: stdcopy frames (8-byte header: stream 1 stdout, 2
// stderr; big-endian length), raw bytes with a terminal.
func (p *procIO) broadcast(stream string, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.clients) == 0 {
		return
	}
	var frame []byte
	if p.terminal {
		frame = append([]byte(nil), data...)
	} else {
		frame = make([]byte, 8+len(data))
		frame[0] = 1
		if stream == "stderr" {
			frame[0] = 2
		}
		binary.BigEndian.PutUint32(frame[4:], uint32(len(data)))
		copy(frame[8:], data)
	}
	for c := range p.clients {
		if (stream == "stderr" && !c.stderr) || (stream == "stdout" && !c.stdout) {
			continue
		}
		select {
		case c.q <- frame:
		default:
			// Too slow or gone: drop it rather than hold the container.
			delete(p.clients, c)
			c.conn.Close()
			close(c.q)
		}
	}
}

type attachClient struct {
	conn           net.Conn
	stdout, stderr bool
	q              chan []byte
}

// attach connects conn to the process: output frames out, stdin in.
func (p *procIO) attach(conn net.Conn, o AttachOptions) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		closeConn(conn)
		return
	}
	switch {
	case o.Stdin && p.openStdin && p.stdin != nil:
		go p.copyStdin(conn)
	case o.Stdin && p.openStdin:
		p.pendingStdin = append(p.pendingStdin, conn)
	case o.Stdin:
		// No stdin to feed (OpenStdin unset): swallow it, so that whoever
		// copies into the stream never blocks on a full socket.
		go io.Copy(io.Discard, conn)
	}
	c := &attachClient{conn: conn, stdout: o.Stdout, stderr: o.Stderr, q: make(chan []byte, attachQueue)}
	if p.terminal {
		c.stderr = c.stdout
	}
	p.clients[c] = struct{}{}
	go func() {
		for frame := range c.q {
			if _, err := conn.Write(frame); err != nil {
				conn.Close()
				// Drain so broadcast never finds the queue full of a dead client.
				for range c.q {
				}
				return
			}
		}
		closeConn(conn)
	}()
}

// closeConn closes the output side first, so a client still sending stdin
// sees the end of the stream.
func closeConn(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.Close()
}

func (p *procIO) copyStdin(conn net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			p.stdinMu.Lock()
			closed := p.stdinClosed
			p.stdinMu.Unlock()
			if closed {
				return
			}
			if _, werr := p.stdin.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && p.stdinOnce {
				p.closeStdin()
			}
			return
		}
	}
}

// closeStdin gives the process end of file on stdin: the pipe is closed;
// a pty cannot be half-closed, so it gets EOT (^D), as a user would type.
func (p *procIO) closeStdin() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdinClosed || p.stdin == nil {
		return
	}
	p.stdinClosed = true
	if p.terminal {
		p.stdin.Write([]byte{4})
		return
	}
	p.stdin.Close()
}

// finish waits for the output to drain (EOF, or drainGrace after the
// process exited), then ends every attach stream and closes the shim's
// ends.
func (p *procIO) finish() {
	deadline := time.Now().Add(drainGrace)
	for _, f := range p.outputs {
		f.SetReadDeadline(deadline)
	}
	p.copies.Wait()
	p.mu.Lock()
	p.done = true
	for c := range p.clients {
		close(c.q)
	}
	clear(p.clients)
	p.mu.Unlock()
	for _, f := range p.outputs {
		f.Close()
	}
	p.stdinMu.Lock()
	if p.stdin != nil && !p.stdinClosed && p.stdin != p.console {
		p.stdin.Close()
	}
	p.stdinClosed = true
	p.stdinMu.Unlock()
}

// resize sets the pty's window size; without a terminal it does nothing,
// as containerd. A size set before the pty exists (an exec not started
// yet) is applied when it comes.
func (p *procIO) resize(w, h uint16) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.size = &unix.Winsize{Col: w, Row: h}
	if p.console == nil {
		return nil
	}
	return unix.IoctlSetWinsize(int(p.console.Fd()), unix.TIOCSWINSZ, p.size)
}

func (p *procIO) windowSize() *unix.Winsize {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// consoleSocket receives the pty master the runtime sends over
// --console-socket.
type consoleSocket struct {
	path string
	l    *net.UnixListener
	res  chan consoleResult
}

type consoleResult struct {
	f   *os.File
	err error
}

func newConsoleSocket(path string) (*consoleSocket, error) {
	if len(path) >= len(unix.RawSockaddrUnix{}.Path) {
		return nil, fmt.Errorf("console socket path too long: %s", path)
	}
	os.Remove(path)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	cs := &consoleSocket{path: path, l: l, res: make(chan consoleResult, 1)}
	go func() {
		f, err := cs.accept()
		cs.res <- consoleResult{f, err}
	}()
	return cs, nil
}

func (cs *consoleSocket) accept() (*os.File, error) {
	conn, err := cs.l.AcceptUnix()
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("console socket: no fd received: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("console socket: no fd received: %v", err)
	}
	for _, fd := range fds[1:] {
		unix.Close(fd)
	}
	unix.CloseOnExec(fds[0])
	// Non-blocking, so reads go through the poller and take deadlines.
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, err
	}
	return os.NewFile(uintptr(fds[0]), "console"), nil
}

// result returns the master once the runtime command finished: if the
// runtime succeeded it has sent it already; if not, nothing will come.
func (cs *consoleSocket) result(runtimeErr error) (*os.File, error) {
	if runtimeErr != nil {
		cs.l.Close()
	} else {
		cs.l.SetDeadline(time.Now().Add(time.Second))
	}
	r := <-cs.res
	cs.l.Close()
	if runtimeErr != nil {
		if r.f != nil {
			r.f.Close()
		}
		return nil, runtimeErr
	}
	if r.err != nil {
		return nil, fmt.Errorf("no terminal received from the runtime (process.terminal must be true): %w", r.err)
	}
	return r.f, nil
}
