package volumerouter

import (
	"context"
	"net/http"

	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/server/httputils"
)

// Backend is the volume store.
type Backend interface {
	Create(ctx context.Context, req volume.CreateRequest) (volume.Volume, error)
	Get(ctx context.Context, name string) (volume.Volume, error)
	List(ctx context.Context, f filters.Args) ([]volume.Volume, error)
	Remove(ctx context.Context, name string, force bool) error
	Prune(ctx context.Context, f filters.Args, anonymousOnly bool) (volume.PruneReport, error)
}

// Router serves /volumes.
type Router struct{ b Backend }

// New makes the router on the volume store.
func New(b Backend) *Router { return &Router{b: b} }

// Routes implements httputils.Router.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/volumes", Handler: r.list},
		{Method: http.MethodGet, Path: "/volumes/{name}", Handler: r.inspect},
		{Method: http.MethodPost, Path: "/volumes/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/volumes/prune", Handler: r.prune, MinVersion: "1.25"},
		{Method: http.MethodDelete, Path: "/volumes/{name}", Handler: r.remove},
	}
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	return httputils.WriteFiltered(ctx, w, req, func(ctx context.Context, f filters.Args) (volume.ListResponse, error) {
		vols, err := r.b.List(ctx, f)
		return volume.ListResponse{Volumes: vols, Warnings: []string{}}, err
	})
}

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	v, err := r.b.Get(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, v)
}

func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var body volume.CreateRequest
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	v, err := r.b.Create(ctx, body)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, v)
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	return httputils.NoContent(w, r.b.Remove(ctx, vars["name"], httputils.BoolValue(req, "force")))
}

// prune removes only anonymous volumes from API 1.42 on, unless the
// "all" filter says otherwise; older clients get every unused volume.
func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.Parse(req.FormValue("filters"))
	if err != nil {
		return err
	}
	anonymousOnly := !httputils.VersionLessThan(ctx, "1.42")
	for _, v := range f.Get("all") {
		switch v {
		case "1", "true", "True", "TRUE":
			anonymousOnly = false
		}
	}
	rep, err := r.b.Prune(ctx, f, anonymousOnly)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}
