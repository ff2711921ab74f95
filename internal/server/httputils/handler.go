package httputils

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/filters"
)

// Handler is the one signature every route uses. It returns an error and
// never writes an error body itself: the server does that, through
// StatusFromError.
type Handler func(ctx context.Context, w http.ResponseWriter, r *http.Request, vars map[string]string) error

// Route binds a method and a path pattern to a handler. Patterns use
// "{name}" for one path segment and "{name:.*}" for the rest of the path,
// which may contain slashes (image references do).
type Route struct {
	Method  string
	Path    string
	Handler Handler
	// MinVersion is the oldest API version that has this endpoint.
	MinVersion string
}

// Router is implemented by each resource package under server/router.
type Router interface {
	Routes() []Route
}

// WriteJSON writes v with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// NoContent answers 204 for a change that succeeded; an error is
// returned for the server to map.
func NoContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// WriteFiltered answers with what query returns for the request's
// "filters" parameter: the whole of many list and prune endpoints.
func WriteFiltered[T any](ctx context.Context, w http.ResponseWriter, r *http.Request, query func(context.Context, filters.Args) (T, error)) error {
	f, err := filters.Parse(r.FormValue("filters"))
	if err != nil {
		return err
	}
	v, err := query(ctx, f)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, v)
}

// ReadJSON decodes the request body into v. An empty body leaves v as is;
// malformed JSON is an invalid argument (400), as in Docker.
func ReadJSON(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") && r.ContentLength != 0 {
		return fmt.Errorf("unsupported Content-Type header (%s): must be 'application/json': %w", ct, errdefs.ErrInvalidArgument)
	}
	err := json.NewDecoder(r.Body).Decode(v)
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("invalid JSON: %s: %w", err.Error(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// BoolValue reads a boolean query parameter the way Docker does: anything
// other than "", "0", "no", "false" and "none" is true.
func BoolValue(r *http.Request, key string) bool {
	switch strings.ToLower(strings.TrimSpace(r.FormValue(key))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// BoolValueOrDefault is BoolValue with a default for an absent parameter.
func BoolValueOrDefault(r *http.Request, key string, def bool) bool {
	if _, ok := r.Form[key]; !ok {
		return def
	}
	return BoolValue(r, key)
}

// IntValue reads an integer query parameter; absent gives def, garbage 400.
func IntValue(r *http.Request, key string, def int) (int, error) {
	s := r.FormValue(key)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid value for %s: %q: %w", key, s, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

// Hijack takes over the connection for attach and exec streams. It answers
// with 101 UPGRADED when the client asked to upgrade, 200 otherwise, and
// sets the stream content type (multiplexed unless tty). The caller owns
// the returned connection and must close it.
func Hijack(w http.ResponseWriter, r *http.Request, tty bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("connection cannot be hijacked: %w", errdefs.ErrNotImplemented)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	contentType := "application/vnd.docker.multiplexed-stream"
	if tty {
		contentType = "application/vnd.docker.raw-stream"
	}
	if upgrade := r.Header.Get("Upgrade"); upgrade != "" {
		fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", contentType, upgrade)
	} else {
		fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n", contentType)
	}
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

// FlushWriter flushes after every write, for streamed responses (logs,
// events, progress) that clients read as they come.
type FlushWriter struct {
	W io.Writer
	F http.Flusher
}

// NewFlushWriter wraps w; it flushes the header at once.
func NewFlushWriter(w http.ResponseWriter) *FlushWriter {
	f, _ := w.(http.Flusher)
	fw := &FlushWriter{W: w, F: f}
	if f != nil {
		f.Flush()
	}
	return fw
}

func (fw *FlushWriter) Write(p []byte) (int, error) {
	n, err := fw.W.Write(p)
	if fw.F != nil {
		fw.F.Flush()
	}
	return n, err
}
