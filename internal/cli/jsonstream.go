package cli

import (
	"context"
	"io"

	"github.com/moby/moby/client/pkg/jsonmessage"
	"github.com/moby/term"
)

// displayJSONStream renders a daemon's JSON progress stream (pull, load,
// import) as docker does: progress bars redrawn in place on a terminal,
// plain lines otherwise. Cancelling ctx ends the rendering.
func displayJSONStream(ctx context.Context, in io.Reader, out io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &ctxReader{ctx: ctx, r: in}
	fd, isTerminal := term.GetFdInfo(out)
	if err := jsonmessage.DisplayJSONMessagesStream(r, out, fd, isTerminal, nil); err != nil {
		return err
	}
	return ctx.Err()
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (r *ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
