package container

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/term"
)

// AttachOptions is an attach request.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
	Stream                bool // attach to the live streams
	Logs                  bool // replay the log first
	DetachKeys            string
	// GetStream takes over the client connection (HTTP hijack) once the
	// request is known to be good; tty says which stream type to
	// announce. Reads are the client's stdin, writes go to the client;
	// if it has CloseWrite, that is called when the output ends.
	GetStream func(tty bool) (io.ReadWriteCloser, error)
}

// defaultDetachKeys is ctrl-p ctrl-q.
var defaultDetachKeys = []byte{16, 17}

func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return defaultDetachKeys, nil
	}
	keys, err := term.ToBytes(s)
	if err != nil || len(keys) == 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid detach keys (%s) provided", s))
	}
	return keys, nil
}

// Attach connects a client to the container's streams. Before the
// container starts the attach waits, and Start hands it the streams
// before the process runs, so nothing of the output is missed. A client
// that goes away, or detaches with the detach keys, leaves the
// container running.
func (s *Service) Attach(ctx context.Context, ref string, opts AttachOptions) error {
	keys, err := parseDetachKeys(opts.DetachKeys)
	if err != nil {
		return err
	}
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	switch {
	case c.State.Paused:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is paused, unpause the container before attach", ref))
	case c.State.Restarting:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is restarting, wait until the container is running", ref))
	}
	tty, openStdin := c.Config.Tty, c.Config.OpenStdin
	c.mu.Unlock()
	if err != nil {
		return err
	}
	// The stream is reserved before the client hears that the attach is
	// up: a client that starts the container next must not miss a byte.
	var (
		conn    net.Conn
		pending *pendingAttach
		so      = StreamOptions{Stdin: opts.Stdin && openStdin, Stdout: opts.Stdout, Stderr: opts.Stderr}
	)
	if opts.Stream {
		if conn, pending, err = c.reserveStream(ctx, so); err != nil {
			return err
		}
	}
	client, err := opts.GetStream(tty)
	if err != nil {
		c.dropStream(conn, pending)
		return err
	}
	defer client.Close()
	s.publish(c, events.ActionAttach, nil)

	if opts.Logs {
		if err := s.replayLogs(ctx, c, client, tty, opts.Stdout, opts.Stderr); err != nil {
			c.dropStream(conn, pending)
			return nil // the client is gone
		}
	}
	if !opts.Stream {
		return nil
	}
	if pending != nil {
		if conn, err = c.awaitStream(pending, s.life.ctx.Done()); err != nil {
			return nil // the container went away; closing the stream says it
		}
	}
	if pump(client, conn, so.Stdin, tty, keys, nil) {
		s.publish(c, events.ActionDetach, nil)
	}
	return nil
}

// reserveStream gets the shim's stream for an attach now if the
// container has a shim, or registers the attach for the next start.
func (c *Container) reserveStream(ctx context.Context, so StreamOptions) (net.Conn, *pendingAttach, error) {
	c.mu.Lock()
	if sh := c.shim; sh != nil {
		c.mu.Unlock()
		conn, err := sh.Attach(ctx, so)
		return conn, nil, err
	}
	p := &pendingAttach{opts: so, ready: make(chan handoff, 1)}
	c.pending = append(c.pending, p)
	c.mu.Unlock()
	return nil, p, nil
}

// awaitStream waits for the start that hands a pending attach its
// stream; it gives up when the container is removed or stop is closed
// (the daemon shuts down).
func (c *Container) awaitStream(p *pendingAttach, stop <-chan struct{}) (net.Conn, error) {
	select {
	case h := <-p.ready:
		return h.conn, h.err
	case <-c.removed:
	case <-stop:
	}
	c.dropStream(nil, p)
	return nil, errdefs.ErrNotFound.WithMessage("No such container: " + c.ID)
}

// dropStream releases a reserved stream that will not be used.
func (c *Container) dropStream(conn net.Conn, p *pendingAttach) {
	if conn != nil {
		conn.Close()
	}
	if p == nil {
		return
	}
	c.mu.Lock()
	for i, q := range c.pending {
		if q == p {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	select {
	case h := <-p.ready: // handed over meanwhile
		if h.conn != nil {
			h.conn.Close()
		}
	default:
	}
}

// pump copies between a client and a shim stream until the output ends,
// the client goes, or (with a tty) the client types the detach keys; it
// reports a detach. When the output ended by itself, outputDone (if any)
// runs before the client's connection is closed.
//
// Stdin follows Docker. Without a tty, the end of the client's input is
// passed on as stdin EOF (the shim closes stdin if StdinOnce). With a
// tty, the end of the client's input (or a detach) ends the attach but
// not the container's stdin; as the shim takes any end of an attach
// stream as stdin EOF, the shim's stream is then never closed by the
// daemon: it is drained until the process ends it.
func pump(client io.ReadWriteCloser, conn net.Conn, stdin, tty bool, keys []byte, outputDone func()) (detached bool) {
	keepOpen := tty && stdin
	if len(keys) == 0 {
		keys = defaultDetachKeys
	}
	outEnded := make(chan struct{})
	var outErr error // set before outEnded closes
	go func() {
		buf := copyBuffers.Get().(*[]byte)
		_, outErr = io.CopyBuffer(writerOnly{client}, conn, *buf)
		copyBuffers.Put(buf)
		close(outEnded)
		if outErr != nil && keepOpen {
			// The client is gone, not the process: drain.
			_, _ = io.Copy(io.Discard, conn)
			conn.Close()
		}
	}()
	inDone := make(chan bool, 1)
	if stdin {
		go func() {
			if tty {
				_, err := io.Copy(conn, term.NewEscapeProxy(client, keys))
				var esc term.EscapeError
				inDone <- errors.As(err, &esc)
				return
			}
			_, err := io.Copy(conn, client)
			if err == nil {
				if cw, ok := conn.(interface{ CloseWrite() error }); ok {
					_ = cw.CloseWrite()
				}
				return // the output decides when the attach ends
			}
			inDone <- false
		}()
	}
	select {
	case <-outEnded:
		if outErr == nil && outputDone != nil {
			outputDone()
		}
		client.Close()
		if outErr == nil || !keepOpen {
			conn.Close()
		}
		return false
	case detached = <-inDone:
		// Closing the client fails the output goroutine's next write;
		// with keepOpen it then drains the shim's stream.
		client.Close()
		if !keepOpen {
			conn.Close()
			<-outEnded
		}
		return detached
	}
}

// writerOnly hides ReadFrom so io.CopyBuffer uses the pooled buffer.
type writerOnly struct{ io.Writer }

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

// Resize changes the container's terminal size.
func (s *Service) Resize(ctx context.Context, ref string, height, width uint32) error {
	c, err := s.idx.get(ref)
	if err != nil {
		return err
	}
	c.mu.Lock()
	sh, running := c.shim, c.State.Running
	c.mu.Unlock()
	if !running || sh == nil {
		return errNotRunning(c.ID)
	}
	if err := sh.Resize(ctx, uint16(width), uint16(height)); err != nil {
		return fmt.Errorf("resize container %s: %w", c.ID, err)
	}
	s.publish(c, events.ActionResize, map[string]string{"height": strconv.Itoa(int(height)), "width": strconv.Itoa(int(width))})
	return nil
}

// Engine API stream frames: an 8-byte header (stream, 0, 0, 0, size
// big-endian) before each chunk, unless the container has a tty.
const (
	streamStdout = 1
	streamStderr = 2
)

func writeFrame(w io.Writer, stream byte, p []byte) error {
	var hdr [8]byte
	hdr[0] = stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(p)
	return err
}

// replayLogs writes the container's log so far to w, as an attach with
// logs=1 does.
func (s *Service) replayLogs(ctx context.Context, c *Container, w io.Writer, tty, stdout, stderr bool) error {
	r := c.snapshot()
	driver := r.HostConfig.LogConfig.Type
	if driver == "none" || r.LogPath == "" {
		return nil
	}
	err := s.deps.ReadLogs(ctx, driver, r.LogPath, LogReadConfig{Tail: -1}, closedChan, func(m LogMessage) error {
		return writeLogMessage(w, m, tty, stdout, stderr, false)
	})
	if errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// writeLogMessage writes one message in the attach/logs stream format.
func writeLogMessage(w io.Writer, m LogMessage, tty, stdout, stderr, timestamps bool) error {
	var stream byte = streamStdout
	switch m.Stream {
	case "stderr":
		if !stderr {
			return nil
		}
		stream = streamStderr
	default:
		if !stdout {
			return nil
		}
	}
	line := m.Line
	if timestamps {
		line = append([]byte(m.Time.UTC().Format(timestampFormat)+" "), line...)
	}
	if tty {
		_, err := w.Write(line)
		return err
	}
	return writeFrame(w, stream, line)
}

// timestampFormat is Docker's fixed-width RFC 3339 with nanoseconds.
const timestampFormat = "2006-01-02T15:04:05.000000000Z07:00"
