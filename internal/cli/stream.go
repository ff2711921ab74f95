package cli

import (
	"errors"
	"io"
	"os"

	"github.com/moby/term"
)

// termStream is the terminal side of one of the CLI's standard streams:
// whether it is a terminal, and the saved state to restore after raw mode.
type termStream struct {
	fd    uintptr
	tty   bool
	state *term.State
}

func newTermStream(s any) termStream {
	fd, tty := term.GetFdInfo(s)
	return termStream{fd: fd, tty: tty}
}

func (s *termStream) setRaw(setter func(uintptr) (*term.State, error)) error {
	// NORAW is docker's escape hatch for terminals that misbehave in raw mode.
	if !s.tty || os.Getenv("NORAW") != "" {
		return nil
	}
	state, err := setter(s.fd)
	if err != nil {
		return err
	}
	s.state = state
	return nil
}

func (s *termStream) restore() {
	if s.state != nil {
		_ = term.RestoreTerminal(s.fd, s.state)
		s.state = nil
	}
}

// inStream is the CLI's stdin.
type inStream struct {
	io.ReadCloser
	termStream
}

// outStream is the CLI's stdout (or stderr).
type outStream struct {
	io.Writer
	termStream
}

// cliStreams are the three standard streams of one command invocation.
type cliStreams struct {
	in       *inStream
	out, err *outStream
}

func newCLIStreams(c *CLI) *cliStreams {
	in := c.In
	if in == nil {
		in = io.NopCloser(eofReader{})
	}
	return &cliStreams{
		in:  &inStream{ReadCloser: in, termStream: newTermStream(in)},
		out: &outStream{Writer: c.Out, termStream: newTermStream(c.Out)},
		err: &outStream{Writer: c.Err, termStream: newTermStream(c.Err)},
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// checkTty refuses a tty attach from a non-terminal stdin, with docker's
// message: piping into `run -it` cannot work.
func (i *inStream) checkTty(attachStdin, ttyMode bool) error {
	if ttyMode && attachStdin && !i.tty {
		return errors.New("the input device is not a TTY")
	}
	return nil
}

// ttySize is the terminal size of the stream, or 0,0 if it is none.
func (o *outStream) ttySize() (height, width uint) {
	if !o.tty {
		return 0, 0
	}
	ws, err := term.GetWinsize(o.fd)
	if err != nil || ws == nil {
		return 0, 0
	}
	return uint(ws.Height), uint(ws.Width)
}

func (s *cliStreams) setRawTerminal() error {
	if err := s.in.setRaw(term.SetRawTerminal); err != nil {
		return err
	}
	return s.out.setRaw(term.SetRawTerminalOutput)
}

func (s *cliStreams) restoreTerminal() {
	s.in.restore()
	s.out.restore()
}
