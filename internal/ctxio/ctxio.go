package ctxio

import (
	"context"
	"io"
)

// NewReader returns r reading until ctx ends; after that, every Read
// returns ctx's error. A Read already blocked in r is not interrupted.
func NewReader(ctx context.Context, r io.Reader) io.Reader {
	return &reader{ctx: ctx, r: r}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c *reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
