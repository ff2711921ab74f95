// Package network serves the /networks endpoints of the Engine API: list,
// inspect, create, remove, prune, and connecting containers to networks
// and disconnecting them. Version quirks of the wire format live here,
// not in the network service.
package network

import (
	"context"
	"fmt"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/server/httputils"
)

// Backend manages networks; *network.Service is one.
type Backend interface {
	CreateNetwork(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	InspectNetwork(ctx context.Context, idOrName string) (network.Inspect, error)
	ListNetworks(ctx context.Context, f filters.Args) ([]network.Summary, error)
	RemoveNetwork(ctx context.Context, idOrName string) error
	PruneNetworks(ctx context.Context, f filters.Args) (network.PruneReport, error)
}

// Attacher connects containers to networks and disconnects them;
// *container.Service is one.
type Attacher interface {
	ConnectNetwork(ctx context.Context, containerRef, networkRef string, cfg *network.EndpointSettings) error
	DisconnectNetwork(ctx context.Context, containerRef, networkRef string, force bool) error
}

// Router serves the network endpoints.
type Router struct {
	b  Backend
	at Attacher
}

// New makes the router.
func New(b Backend, at Attacher) *Router { return &Router{b: b, at: at} }

// Routes implements httputils.Router.
func (r *Router) Routes() []httputils.Route {
	get, post := http.MethodGet, http.MethodPost
	return []httputils.Route{
		{Method: get, Path: "/networks", Handler: r.list},
		{Method: get, Path: "/networks/", Handler: r.list},
		{Method: post, Path: "/networks/create", Handler: r.create},
		{Method: post, Path: "/networks/prune", Handler: r.prune, MinVersion: "1.25"},
		{Method: get, Path: "/networks/{id}", Handler: r.inspect},
		{Method: http.MethodDelete, Path: "/networks/{id}", Handler: r.remove},
		{Method: post, Path: "/networks/{id}/connect", Handler: r.connect},
		{Method: post, Path: "/networks/{id}/disconnect", Handler: r.disconnect},
	}
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	return httputils.WriteFiltered(ctx, w, req, r.b.ListNetworks)
}

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	// scope filters by the network's scope: berth's are all local.
	if s := req.FormValue("scope"); s != "" && s != "local" {
		return errdefs.ErrNotFound.WithMessage("network " + vars["id"] + " not found")
	}
	n, err := r.b.InspectNetwork(ctx, vars["id"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, n)
}

func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cr network.CreateRequest
	if err := httputils.ReadJSON(req, &cr); err != nil {
		return err
	}
	if httputils.VersionLessThan(ctx, "1.48") {
		cr.EnableIPv4 = nil // unknown before 1.48
	}
	resp, err := r.b.CreateNetwork(ctx, cr)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	return httputils.NoContent(w, r.b.RemoveNetwork(ctx, vars["id"]))
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	return httputils.WriteFiltered(ctx, w, req, r.b.PruneNetworks)
}

func (r *Router) connect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var cr network.ConnectRequest
	if err := httputils.ReadJSON(req, &cr); err != nil {
		return err
	}
	if cr.Container == "" {
		return errdefs.ErrInvalidArgument.WithMessage("no container specified")
	}
	if httputils.VersionLessThan(ctx, "1.44") && cr.EndpointConfig != nil {
		// The endpoint's MacAddress is only honoured since 1.44.
		cr.EndpointConfig.MacAddress = nil
	}
	if err := r.at.ConnectNetwork(ctx, cr.Container, vars["id"], cr.EndpointConfig); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) disconnect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var dr network.DisconnectRequest
	if err := httputils.ReadJSON(req, &dr); err != nil {
		return err
	}
	if dr.Container == "" {
		return fmt.Errorf("no container specified: %w", errdefs.ErrInvalidArgument)
	}
	if err := r.at.DisconnectNetwork(ctx, dr.Container, vars["id"], dr.Force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
