package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/moby/term"
)

// defaultEscapeKeys is ctrl-p,ctrl-q, docker's detach sequence.
var defaultEscapeKeys = []byte{16, 17}

// hijackedStreamer copies between the local streams and a hijacked
// attach or exec connection, as docker's CLI does: raw bytes with a tty,
// stdcopy frames without one.
type hijackedStreamer struct {
	streams      *cliStreams
	inputStream  io.ReadCloser
	outputStream io.Writer
	errorStream  io.Writer
	resp         client.HijackedResponse
	tty          bool
	detachKeys   string
}

// newHijackedStreamer connects resp to the local streams that the
// attached stdin, stdout and stderr call for. With a tty the container has
// one output stream, which goes to stdout.
func newHijackedStreamer(streams *cliStreams, resp client.HijackedResponse, stdin, stdout, stderr, tty bool, detachKeys string) *hijackedStreamer {
	h := &hijackedStreamer{streams: streams, resp: resp, tty: tty, detachKeys: detachKeys}
	if stdin {
		h.inputStream = streams.in
	}
	if stdout {
		h.outputStream = streams.out
	}
	if stderr {
		h.errorStream = streams.err
		if tty {
			h.errorStream = streams.out
		}
	}
	return h
}

// streamInBackground runs stream in a goroutine; the channel delivers its
// result.
func (h *hijackedStreamer) streamInBackground(ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- h.stream(ctx) }()
	return done
}

// stream returns when the output ended, the user typed the detach keys
// (a term.EscapeError), or ctx ended.
func (h *hijackedStreamer) stream(ctx context.Context) error {
	restoreInput, err := h.setupInput()
	if err != nil {
		return fmt.Errorf("unable to setup input stream: %s", err)
	}
	defer restoreInput()

	outputDone := h.beginOutputStream(restoreInput)
	inputDone, detached := h.beginInputStream(restoreInput)

	select {
	case err := <-outputDone:
		return err
	case <-inputDone:
		// Stdin ended; the output still has to drain.
		if h.outputStream != nil || h.errorStream != nil {
			select {
			case err := <-outputDone:
				return err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hijackedStreamer) setupInput() (restore func(), _ error) {
	if h.inputStream == nil || !h.tty {
		return func() {}, nil
	}
	if err := h.streams.setRawTerminal(); err != nil {
		return nil, fmt.Errorf("unable to set IO streams as raw terminal: %s", err)
	}
	in := h.inputStream
	restore = sync.OnceFunc(func() {
		h.streams.restoreTerminal()
		// Closing stdin unblocks the goroutine reading it, so that the
		// process can exit after the container did.
		_ = in.Close()
	})

	// The client watches for the detach keys too, so that it can stop
	// reading stdin and restore the terminal the moment they are typed.
	// Keys the daemon accepted but this parser does not fall back to the
	// default, as in docker.
	escapeKeys := defaultEscapeKeys
	if h.detachKeys != "" {
		if keys, err := term.ToBytes(h.detachKeys); err == nil {
			escapeKeys = keys
		}
	}
	h.inputStream = readCloser{Reader: term.NewEscapeProxy(in, escapeKeys), Closer: in}
	return restore, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

func (h *hijackedStreamer) beginOutputStream(restoreInput func()) <-chan error {
	if h.outputStream == nil && h.errorStream == nil {
		return nil
	}
	outputDone := make(chan error, 1)
	go func() {
		var err error
		if h.outputStream != nil && h.tty {
			_, err = io.Copy(h.outputStream, h.resp.Reader)
			// Restore the terminal as soon as the output ends, so that
			// whatever is printed next is not in raw mode.
			restoreInput()
		} else {
			_, err = stdcopy.StdCopy(orDiscard(h.outputStream), orDiscard(h.errorStream), h.resp.Reader)
		}
		outputDone <- err
	}()
	return outputDone
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func (h *hijackedStreamer) beginInputStream(restoreInput func()) (done <-chan struct{}, detached <-chan error) {
	inputDone := make(chan struct{})
	detachedC := make(chan error, 1)
	go func() {
		if h.inputStream != nil {
			_, err := io.Copy(h.resp.Conn, h.inputStream)
			restoreInput()
			var escErr term.EscapeError
			if errors.As(err, &escErr) {
				detachedC <- err
				return
			}
		}
		// Half-close: the daemon sees stdin EOF, and output keeps coming.
		_ = h.resp.CloseWrite()
		close(inputDone)
	}()
	return inputDone, detachedC
}
