package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/server/httputils"
)

// Router serves the container and exec endpoints.
type Router struct {
	b     Backend
	execs ExecBackend
}

// New makes the router on the containers and their exec sessions.
func New(b Backend, execs ExecBackend) *Router { return &Router{b: b, execs: execs} }

// Routes implements httputils.Router.
func (r *Router) Routes() []httputils.Route {
	get, post := http.MethodGet, http.MethodPost
	return []httputils.Route{
		{Method: get, Path: "/containers/json", Handler: r.list},
		{Method: post, Path: "/containers/create", Handler: r.create},
		{Method: post, Path: "/containers/prune", Handler: r.prune, MinVersion: "1.25"},
		{Method: get, Path: "/containers/{name}/json", Handler: r.inspect},
		{Method: get, Path: "/containers/{name}/logs", Handler: r.logs},
		{Method: get, Path: "/containers/{name}/top", Handler: r.top},
		{Method: get, Path: "/containers/{name}/stats", Handler: r.stats},
		{Method: get, Path: "/containers/{name}/changes", Handler: r.changes},
		{Method: get, Path: "/containers/{name}/export", Handler: r.export},
		{Method: http.MethodHead, Path: "/containers/{name}/archive", Handler: r.statArchive},
		{Method: get, Path: "/containers/{name}/archive", Handler: r.getArchive},
		{Method: http.MethodPut, Path: "/containers/{name}/archive", Handler: r.putArchive},
		{Method: post, Path: "/commit", Handler: r.commit},
		{Method: get, Path: "/containers/{name}/attach/ws", Handler: r.notImplemented("websocket attach")},
		{Method: post, Path: "/containers/{name}/start", Handler: r.start},
		{Method: post, Path: "/containers/{name}/stop", Handler: r.stop},
		{Method: post, Path: "/containers/{name}/restart", Handler: r.restart},
		{Method: post, Path: "/containers/{name}/kill", Handler: r.kill},
		{Method: post, Path: "/containers/{name}/wait", Handler: r.wait},
		{Method: post, Path: "/containers/{name}/pause", Handler: r.pause},
		{Method: post, Path: "/containers/{name}/unpause", Handler: r.unpause},
		{Method: post, Path: "/containers/{name}/rename", Handler: r.rename},
		{Method: post, Path: "/containers/{name}/update", Handler: r.update},
		{Method: post, Path: "/containers/{name}/resize", Handler: r.resize},
		{Method: post, Path: "/containers/{name}/attach", Handler: r.attach},
		{Method: post, Path: "/containers/{name}/exec", Handler: r.execCreate},
		{Method: http.MethodDelete, Path: "/containers/{name}", Handler: r.remove},
		{Method: post, Path: "/exec/{id}/start", Handler: r.execStart},
		{Method: post, Path: "/exec/{id}/resize", Handler: r.execResize},
		{Method: get, Path: "/exec/{id}/json", Handler: r.execInspect},
	}
}

func (r *Router) notImplemented(what string) httputils.Handler {
	return func(context.Context, http.ResponseWriter, *http.Request, map[string]string) error {
		return fmt.Errorf("%s is not implemented yet: %w", what, errdefs.ErrNotImplemented)
	}
}

// readJSONBody decodes a body that must be present (create): an empty
// one is Docker's "got EOF" error.
func readJSONBody(req *http.Request, v any) error {
	if ct := req.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unsupported Content-Type header (%s): must be 'application/json'", ct))
	}
	if req.Body == nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid JSON: got EOF while reading request body")
	}
	if err := json.NewDecoder(req.Body).Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errdefs.ErrInvalidArgument.WithMessage("invalid JSON: got EOF while reading request body")
		}
		return errdefs.ErrInvalidArgument.WithMessage("invalid JSON: " + err.Error())
	}
	return nil
}

func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if p := req.Form.Get("platform"); p != "" {
		if err := checkPlatform(p); err != nil {
			return err
		}
	}
	var body containertypes.CreateRequest
	if err := readJSONBody(req, &body); err != nil {
		return err
	}
	if body.Config == nil {
		return errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	hc := body.HostConfig
	if hc == nil {
		hc = &containertypes.HostConfig{}
	}
	if httputils.VersionLessThan(ctx, "1.25") {
		hc.AutoRemove = false // older clients remove the container themselves
	}
	if httputils.VersionLessThan(ctx, "1.42") {
		hc.ConsoleSize = [2]uint{}
	}
	if hc.PidsLimit != nil && *hc.PidsLimit <= 0 {
		hc.PidsLimit = nil
	}
	resp, err := r.b.Create(ctx, container.CreateOptions{
		Name:             req.Form.Get("name"),
		Config:           body.Config,
		HostConfig:       hc,
		NetworkingConfig: body.NetworkingConfig,
	})
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, resp)
}

// checkPlatform accepts linux platforms ("linux", "linux/amd64", ...).
func checkPlatform(p string) error {
	parts := strings.Split(strings.ToLower(p), "/")
	if len(parts) > 3 || parts[0] == "" {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q: unknown operating system or architecture: invalid argument", p))
	}
	if parts[0] != "linux" {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q: operating system is not supported", p))
	}
	return nil
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.Parse(req.Form.Get("filters"))
	if err != nil {
		return err
	}
	// Pre-1.22 clients send before and since as parameters.
	for _, term := range []string{"before", "since"} {
		if v := req.Form.Get(term); v != "" {
			f.Add(term, v)
		}
	}
	limit, err := httputils.IntValue(req, "limit", 0)
	if err != nil {
		return err
	}
	list, err := r.b.List(ctx, container.ListOptions{
		All:     httputils.BoolValue(req, "all"),
		Limit:   limit,
		Size:    httputils.BoolValue(req, "size"),
		Filters: f,
	})
	if err != nil {
		return err
	}
	if httputils.VersionLessThan(ctx, "1.46") {
		for i := range list {
			list[i].HostConfig.Annotations = nil
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, list)
}

func (r *Router) start(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	// A body (a HostConfig) was removed in API 1.24; an empty JSON
	// object or null is tolerated, as Docker does.
	if req.ContentLength > 7 || req.ContentLength == -1 {
		return errdefs.ErrInvalidArgument.WithMessage("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24")
	}
	if req.Form.Get("checkpoint") != "" {
		return errdefs.ErrNotImplemented.WithMessage("checkpoint is only supported in experimental mode")
	}
	return httputils.NoContent(w, r.b.Start(ctx, vars["name"]))
}

func stopOptions(ctx context.Context, req *http.Request) (container.StopOptions, error) {
	var opts container.StopOptions
	if !httputils.VersionLessThan(ctx, "1.42") {
		opts.Signal = req.Form.Get("signal")
	}
	if t := req.Form.Get("t"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			return opts, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for t: %q", t))
		}
		opts.Timeout = &n
	}
	return opts, nil
}

func (r *Router) stop(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts, err := stopOptions(ctx, req)
	if err != nil {
		return err
	}
	return httputils.NoContent(w, r.b.Stop(ctx, vars["name"], opts))
}

func (r *Router) restart(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts, err := stopOptions(ctx, req)
	if err != nil {
		return err
	}
	return httputils.NoContent(w, r.b.Restart(ctx, vars["name"], opts))
}

func (r *Router) kill(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	name := vars["name"]
	if err := r.b.Kill(ctx, name, req.Form.Get("signal")); err != nil {
		return fmt.Errorf("Cannot kill container: %s: %w", name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// waitBody is the wait response; Error is null when there is none, as
// Docker's CLI and SDK expect.
type waitBody struct {
	Error      *containertypes.WaitExitError `json:"Error"`
	StatusCode int64                         `json:"StatusCode"`
}

func (r *Router) wait(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	cond := containertypes.WaitCondition(req.Form.Get("condition"))
	switch cond {
	case "", containertypes.WaitConditionNotRunning, containertypes.WaitConditionNextExit, containertypes.WaitConditionRemoved:
	default:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid condition: %q", cond))
	}
	if httputils.VersionLessThan(ctx, "1.30") {
		cond = containertypes.WaitConditionNotRunning
	}
	ch, err := r.b.Wait(ctx, vars["name"], cond)
	if err != nil {
		return err
	}
	// The header goes out now: the client knows the wait is registered
	// before it starts the container (docker run relies on it).
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	select {
	case res := <-ch:
		body := waitBody{StatusCode: int64(res.StatusCode)}
		if res.Error != "" {
			body.Error = &containertypes.WaitExitError{Message: res.Error}
		}
		return json.NewEncoder(w).Encode(body)
	case <-ctx.Done():
		return nil
	}
}

func (r *Router) pause(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	return httputils.NoContent(w, r.b.Pause(ctx, vars["name"]))
}

func (r *Router) unpause(ctx context.Context, w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	return httputils.NoContent(w, r.b.Unpause(ctx, vars["name"]))
}

func (r *Router) rename(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	return httputils.NoContent(w, r.b.Rename(ctx, vars["name"], req.Form.Get("name")))
}

func (r *Router) update(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var upd containertypes.UpdateConfig
	if err := httputils.ReadJSON(req, &upd); err != nil {
		return err
	}
	if upd.PidsLimit != nil && *upd.PidsLimit <= 0 {
		var unlimited int64
		upd.PidsLimit = &unlimited
	}
	resp, err := r.b.Update(ctx, vars["name"], upd)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

// uint32Value reads a terminal dimension.
func uint32Value(req *http.Request, key, what string) (uint32, error) {
	v := req.Form.Get(key)
	if v == "" {
		// A resize to 0x0 would blank the terminal: both are required.
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid resize %s %q: required form value missing", what, v))
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid resize %s %q: %s", what, v, err))
	}
	return uint32(n), nil
}

func resizeArgs(req *http.Request) (h, w uint32, err error) {
	if h, err = uint32Value(req, "h", "height"); err != nil {
		return 0, 0, err
	}
	w, err = uint32Value(req, "w", "width")
	return h, w, err
}

func (r *Router) resize(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, wd, err := resizeArgs(req)
	if err != nil {
		return err
	}
	return r.b.Resize(ctx, vars["name"], h, wd)
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if httputils.BoolValue(req, "link") {
		return errdefs.ErrNotImplemented.WithMessage("container links are not supported")
	}
	return httputils.NoContent(w, r.b.Remove(ctx, vars["name"], container.RemoveOptions{
		Force:   httputils.BoolValue(req, "force"),
		Volumes: httputils.BoolValue(req, "v"),
	}))
}

func (r *Router) top(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	resp, err := r.b.Top(ctx, vars["name"], req.Form.Get("ps_args"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

// stats answers one sample, or with stream (the default) a sample each
// second, as JSON objects one after the other.
func (r *Router) stats(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts := container.StatsOptions{
		Stream:  httputils.BoolValueOrDefault(req, "stream", true),
		OneShot: httputils.BoolValue(req, "one-shot"),
	}
	if opts.Stream && opts.OneShot {
		return errdefs.ErrInvalidArgument.WithMessage("cannot have stream=true and one-shot=true")
	}
	var enc *json.Encoder
	err := r.b.Stats(ctx, vars["name"], opts, func(s *containertypes.StatsResponse) error {
		if enc == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			enc = json.NewEncoder(httputils.NewFlushWriter(w))
		}
		return enc.Encode(s)
	})
	if enc != nil {
		return nil // the status is sent: errors end the stream
	}
	return err
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	return httputils.WriteFiltered(ctx, w, req, r.b.Prune)
}
