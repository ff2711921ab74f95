package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
)

// Server serves the Engine API on any number of listeners.
type Server struct {
	mux     mux
	servers []*http.Server
	// Version is reported in the Server header, e.g. "28.2.2".
	Version string
}

// New builds a server from the resource routers.
func New(version string, routers ...httputils.Router) *Server {
	s := &Server{Version: version}
	for _, r := range routers {
		for _, rt := range r.Routes() {
			s.mux.add(rt)
		}
	}
	return s
}

// ServeHTTP negotiates the API version, finds the route and maps a
// returned error to its status.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h := w.Header()
	h.Set("Server", "Docker/"+s.Version+" (linux)")
	h.Set("Api-Version", httputils.APIVersion)
	h.Set("Docker-Experimental", "false")
	h.Set("Ostype", "linux")

	version, path, err := httputils.SplitVersion(r.URL.Path)
	if err != nil {
		httputils.WriteError(w, err)
		return
	}
	rt, vars, err := s.mux.match(r.Method, path)
	if errors.Is(err, errMethodNotAllowed) {
		http.Error(w, "", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		httputils.WriteError(w, err)
		return
	}
	if version != "" && rt.MinVersion != "" && httputils.CompareVersions(version, rt.MinVersion) < 0 {
		httputils.WriteError(w, fmt.Errorf("%s %s requires API version %s or newer: %w", r.Method, path, rt.MinVersion, errdefs.ErrNotFound))
		return
	}
	if err := r.ParseForm(); err != nil {
		httputils.WriteError(w, fmt.Errorf("%s: %w", err.Error(), errdefs.ErrInvalidArgument))
		return
	}
	ctx := httputils.WithVersion(r.Context(), version)
	if err := rt.Handler(ctx, w, r.WithContext(ctx), vars); err != nil {
		status := httputils.StatusFromError(err)
		if status >= 500 {
			slog.Error("handler failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		// A handler that already streamed or hijacked cannot send a status;
		// the write simply fails and the error is logged above.
		httputils.WriteError(w, err)
	}
	slog.Debug("request", "method", r.Method, "path", r.URL.Path, "dur", time.Since(start))
}

// Serve serves on l until the listener is closed.
func (s *Server) Serve(l net.Listener) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	s.servers = append(s.servers, srv)
	err := srv.Serve(l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests. Hijacked streams are not waited for.
func (s *Server) Shutdown(ctx context.Context) {
	for _, srv := range s.servers {
		_ = srv.Shutdown(ctx)
	}
}
