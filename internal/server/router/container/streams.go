package container

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/server/httputils"
)

// hijacked is a client connection taken over from the HTTP server. Reads
// go through the server's buffered reader, which may already hold the
// first bytes of stdin.
type hijacked struct {
	net.Conn
	r *bufio.Reader
}

func (h *hijacked) Read(p []byte) (int, error) { return h.r.Read(p) }

// CloseWrite half-closes, so the client sees the end of the output while
// it may still be sending.
func (h *hijacked) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// hijacker hands out the connection once, and remembers that it did:
// after that, errors can no longer be answered with a status.
type hijacker struct {
	w    http.ResponseWriter
	req  *http.Request
	done bool
}

func (h *hijacker) get(tty bool) (io.ReadWriteCloser, error) {
	if h.done {
		return nil, fmt.Errorf("connection already hijacked: %w", errdefs.ErrInternal)
	}
	conn, rw, err := httputils.Hijack(h.w, h.req, tty)
	if err != nil {
		return nil, err
	}
	h.done = true
	return &hijacked{Conn: conn, r: rw.Reader}, nil
}

func (r *Router) attach(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if _, ok := w.(http.Hijacker); !ok {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error attaching to container %s, hijack connection missing", vars["name"]))
	}
	h := &hijacker{w: w, req: req}
	err := r.b.Attach(ctx, vars["name"], container.AttachOptions{
		Stdin:      httputils.BoolValue(req, "stdin"),
		Stdout:     httputils.BoolValue(req, "stdout"),
		Stderr:     httputils.BoolValue(req, "stderr"),
		Stream:     httputils.BoolValue(req, "stream"),
		Logs:       httputils.BoolValue(req, "logs"),
		DetachKeys: req.Form.Get("detachKeys"),
		GetStream:  h.get,
	})
	if h.done {
		return nil
	}
	return err
}

func (r *Router) logs(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	stdout, stderr := httputils.BoolValue(req, "stdout"), httputils.BoolValue(req, "stderr")
	if !stdout && !stderr {
		return errdefs.ErrInvalidArgument.WithMessage("Bad parameters: you must choose at least one stream")
	}
	tty, stream, err := r.b.Logs(ctx, vars["name"], container.LogsOptions{
		Stdout:     stdout,
		Stderr:     stderr,
		Follow:     httputils.BoolValue(req, "follow"),
		Timestamps: httputils.BoolValue(req, "timestamps"),
		Since:      req.Form.Get("since"),
		Until:      req.Form.Get("until"),
		Tail:       req.Form.Get("tail"),
	})
	if err != nil {
		return err
	}
	contentType := "application/vnd.docker.raw-stream"
	if !tty && !httputils.VersionLessThan(ctx, "1.42") {
		contentType = "application/vnd.docker.multiplexed-stream"
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	// From here on the status is sent: errors end the stream.
	_ = stream(httputils.NewFlushWriter(w))
	return nil
}

func (r *Router) execCreate(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body containertypes.ExecCreateRequest
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	if len(body.Cmd) == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	if httputils.VersionLessThan(ctx, "1.42") {
		body.ConsoleSize = nil
	}
	id, err := r.execs.Create(ctx, vars["name"], body)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, containertypes.ExecCreateResponse{ID: id})
}

func (r *Router) execStart(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body containertypes.ExecStartRequest
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	id := vars["id"]
	if err := r.execs.Check(id); err != nil {
		return err
	}
	if body.ConsoleSize != nil && (httputils.VersionLessThan(ctx, "1.42") || !body.Tty) {
		body.ConsoleSize = nil
	}
	opts := container.ExecStartOptions{Detach: body.Detach, ConsoleSize: body.ConsoleSize}
	var h *hijacker
	if !body.Detach {
		if _, ok := w.(http.Hijacker); !ok {
			return errdefs.ErrInvalidArgument.WithMessage("exec start: hijack connection missing")
		}
		h = &hijacker{w: w, req: req}
		opts.GetStream = h.get
	}
	err := r.execs.Start(ctx, id, opts)
	if h != nil && h.done {
		return nil
	}
	if err != nil {
		return err
	}
	if body.Detach {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

func (r *Router) execResize(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, wd, err := resizeArgs(req)
	if err != nil {
		return err
	}
	return r.execs.Resize(ctx, vars["id"], h, wd)
}

func (r *Router) execInspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	resp, err := r.execs.Inspect(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}
