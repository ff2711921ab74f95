// Package system serves /_ping, /version, /info and /events.
package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
)

// Backend answers /info and /version.
type Backend interface {
	Info(ctx context.Context) (*system.Info, error)
	Version(ctx context.Context) system.VersionResponse
}

// EventSource is the event bus.
type EventSource interface {
	Subscribe(since time.Time) ([]events.Message, <-chan events.Message, func())
}

// Router serves the system endpoints.
type Router struct {
	backend Backend
	events  EventSource
	df      DiskUsageBackend
}

// New makes the system router. df may be nil: /system/df then answers
// 501.
func New(b Backend, e EventSource, df DiskUsageBackend) *Router {
	return &Router{backend: b, events: e, df: df}
}

// Routes implements httputils.Router.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/_ping", Handler: r.ping},
		{Method: http.MethodHead, Path: "/_ping", Handler: r.ping},
		{Method: http.MethodGet, Path: "/version", Handler: r.version},
		{Method: http.MethodGet, Path: "/info", Handler: r.info},
		{Method: http.MethodGet, Path: "/events", Handler: r.getEvents},
		{Method: http.MethodGet, Path: "/system/df", Handler: r.diskUsage},
	}
}

func (r *Router) ping(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Builder-Version", "1")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if req.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

func (r *Router) version(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	return httputils.WriteJSON(w, http.StatusOK, r.backend.Version(ctx))
}

func (r *Router) info(ctx context.Context, w http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	info, err := r.backend.Info(ctx)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, info)
}

// legacyMessage adds the pre-1.52 "status", "id" and "from" fields that
// older clients still read.
type legacyMessage struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	events.Message
}

func (r *Router) getEvents(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	since, err := parseTimestamp(req.FormValue("since"))
	if err != nil {
		return err
	}
	until, err := parseTimestamp(req.FormValue("until"))
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("`since` time (%s) cannot be after `until` time (%s)", req.FormValue("since"), req.FormValue("until")))
	}
	f, err := filters.Parse(req.FormValue("filters"))
	if err != nil {
		return err
	}
	if err := f.Validate("container", "event", "image", "label", "type", "network", "volume", "daemon", "scope", "plugin", "node", "service", "secret", "config"); err != nil {
		return err
	}
	past, live, cancel := r.events.Subscribe(since)
	defer cancel()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	out := httputils.NewFlushWriter(w)
	enc := json.NewEncoder(out)
	legacy := httputils.VersionLessThan(ctx, "1.52")
	send := func(m events.Message) error {
		if !until.IsZero() && m.TimeNano > until.UnixNano() {
			return nil
		}
		if !Match(f, m) {
			return nil
		}
		if legacy {
			lm := legacyMessage{Message: m}
			if m.Type == events.ContainerEventType || m.Type == events.ImageEventType {
				lm.Status, lm.ID, lm.From = string(m.Action), m.Actor.ID, m.Actor.Attributes["image"]
			}
			return enc.Encode(lm)
		}
		return enc.Encode(m)
	}
	for _, m := range past {
		if err := send(m); err != nil {
			return nil
		}
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		d := time.Until(until)
		if d < 0 {
			return nil
		}
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline:
			return nil
		case m, ok := <-live:
			if !ok {
				return nil
			}
			if err := send(m); err != nil {
				return nil
			}
		}
	}
}

// Match applies /events filters to one message.
func Match(f filters.Args, m events.Message) bool {
	attrs := m.Actor.Attributes
	if !f.ExactMatch("type", string(m.Type)) || !f.ExactMatch("scope", m.Scope) {
		return false
	}
	if f.Has("event") {
		action := string(m.Action)
		if i := strings.Index(action, ":"); i >= 0 {
			action = action[:i] // "exec_start: sh" matches "exec_start"
		}
		if !f.ExactMatch("event", action) && !f.ExactMatch("event", string(m.Action)) {
			return false
		}
	}
	if f.Has("container") {
		if m.Type != events.ContainerEventType || !(f.FuzzyMatch("container", m.Actor.ID) || f.ExactMatch("container", attrs["name"])) {
			return false
		}
	}
	if f.Has("image") {
		img := attrs["image"]
		if m.Type == events.ImageEventType {
			img = m.Actor.ID
		}
		if !(f.ExactMatch("image", img) || f.ExactMatch("image", attrs["name"]) || f.ExactMatch("image", strings.TrimSuffix(img, ":latest"))) {
			return false
		}
	}
	for _, kind := range []struct {
		term string
		typ  events.Type
	}{{"network", events.NetworkEventType}, {"volume", events.VolumeEventType}, {"daemon", events.DaemonEventType}} {
		if f.Has(kind.term) && (m.Type != kind.typ || !(f.FuzzyMatch(kind.term, m.Actor.ID) || f.ExactMatch(kind.term, attrs["name"]))) {
			return false
		}
	}
	return f.MatchLabels("label", attrs)
}

// parseTimestamp reads Docker's since/until forms: unix seconds with an
// optional fraction ("1700000000.123456789") or RFC 3339. Clients turn
// durations ("10m") into timestamps before sending.
func parseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, frac, _ := strings.Cut(s, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var nsec int64
		if frac != "" {
			frac = (frac + "000000000")[:9]
			nsec, err = strconv.ParseInt(frac, 10, 64)
			if err != nil {
				return time.Time{}, fmt.Errorf("invalid timestamp %q: %w", s, errdefs.ErrInvalidArgument)
			}
		}
		return time.Unix(n, nsec), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q: %w", s, errdefs.ErrInvalidArgument)
}
