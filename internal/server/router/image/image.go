package imagerouter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/storage"
)

// Router serves the image endpoints.
type Router struct {
	images     ImageBackend
	archives   ArchiveBackend
	registries DistributionBackend
	// client fetches import sources given as URLs.
	client *http.Client
}

// New makes the image router on the image store, its archives and its
// registries.
func New(images ImageBackend, archives ArchiveBackend, registries DistributionBackend) *Router {
	return &Router{images: images, archives: archives, registries: registries, client: &http.Client{Timeout: 0}}
}

// Routes implements httputils.Router.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/images/json", Handler: r.list},
		{Method: http.MethodGet, Path: "/images/get", Handler: r.save},
		{Method: http.MethodGet, Path: "/images/{name:.*}/get", Handler: r.save},
		{Method: http.MethodGet, Path: "/images/{name:.*}/history", Handler: r.history},
		{Method: http.MethodGet, Path: "/images/{name:.*}/json", Handler: r.inspect},
		{Method: http.MethodGet, Path: "/images/search", Handler: r.search},
		{Method: http.MethodPost, Path: "/images/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/images/{name:.*}/push", Handler: r.push},
		{Method: http.MethodPost, Path: "/auth", Handler: r.auth},
		{Method: http.MethodGet, Path: "/distribution/{name:.*}/json", Handler: r.distributionInspect},
		{Method: http.MethodPost, Path: "/images/load", Handler: r.load},
		{Method: http.MethodPost, Path: "/images/prune", Handler: r.prune, MinVersion: "1.25"},
		{Method: http.MethodPost, Path: "/images/{name:.*}/tag", Handler: r.tag},
		{Method: http.MethodDelete, Path: "/images/{name:.*}", Handler: r.remove},
	}
}

func invalid(format string, a ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, a...))
}

// create is POST /images/create: pull with fromImage, import with fromSrc.
func (r *Router) create(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if req.Form.Get("fromImage") != "" {
		return r.pull(ctx, w, req)
	}
	src := req.Form.Get("fromSrc")
	if src == "" {
		return invalid("fromImage or fromSrc is required")
	}
	opts := image.ImportOptions{
		Repo:    req.Form.Get("repo"),
		Tag:     req.Form.Get("tag"),
		Message: req.Form.Get("message"),
		Changes: req.Form["changes"],
	}
	if !httputils.VersionLessThan(ctx, "1.32") {
		opts.Platform = req.Form.Get("platform")
	}
	if opts.Message == "" {
		opts.Message = "Imported from " + src
	}
	// Validate what needs no body first, so a bad request gets a status.
	if opts.Repo != "" {
		if _, err := image.ParseTag(opts.Repo, opts.Tag); err != nil {
			return err
		}
	}
	if _, err := image.ParsePlatform(opts.Platform); err != nil {
		return err
	}

	out := newJSONProgress(w)
	var body io.Reader = req.Body
	if src != "-" {
		if !strings.Contains(src, "://") {
			src = "http://" + src
		}
		u, err := url.Parse(src)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return invalid("invalid import source %q: only -, http and https are supported", src)
		}
		hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return invalid("%s", err.Error())
		}
		resp, err := r.client.Do(hreq)
		if err != nil {
			return errdefs.ErrUnavailable.WithMessage(err.Error())
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 400 {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to GET %s with status %s: %s", u, resp.Status, strings.TrimSpace(string(msg))))
		}
		out.Status("", "Downloading from "+u.String())
		body = image.NewProgressReader(resp.Body, out, resp.ContentLength, "", "Importing")
	}
	id, err := r.archives.Import(ctx, body, opts)
	if err != nil {
		return out.end(err)
	}
	out.Status("", id)
	return nil
}

// load is POST /images/load. Like Docker it always answers 200 and reports
// a failure inside the stream.
func (r *Router) load(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if !httputils.VersionLessThan(ctx, "1.48") && len(req.Form["platform"]) > 1 {
		return invalid("multiple platform parameters not supported")
	}
	quiet := httputils.BoolValueOrDefault(req, "quiet", true)
	// Progress may start before the whole upload is read; without full
	// duplex Go's HTTP/1.1 server cuts the body off at the first flush.
	_ = http.NewResponseController(w).EnableFullDuplex()
	out := newJSONProgress(w)
	if err := r.archives.Load(ctx, req.Body, quiet, out); err != nil {
		out.Error(err)
	}
	if !out.started() {
		// Nothing to say (a quiet load of no images): still a JSON answer.
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// save is GET /images/get?names=… and GET /images/{name}/get.
func (r *Router) save(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var names []string
	if name, ok := vars["name"]; ok {
		names = []string{name}
	} else {
		names = req.Form["names"]
	}
	if len(names) == 0 {
		return invalid("no images specified")
	}
	cw := &commitWriter{w: w}
	err := r.archives.Save(ctx, names, cw)
	if err != nil && !cw.started {
		return err
	}
	// Once the archive has started the status is sent; a broken archive
	// (the client sees a truncated tar) is all that can be reported.
	return nil
}

// commitWriter sets the archive content type on the first byte, so that
// an error before it still goes out as a JSON error.
type commitWriter struct {
	w       http.ResponseWriter
	started bool
}

func (c *commitWriter) Write(p []byte) (int, error) {
	if !c.started {
		c.started = true
		c.w.Header().Set("Content-Type", "application/x-tar")
		c.w.WriteHeader(http.StatusOK)
	}
	return c.w.Write(p)
}

// summary is an image list entry with the fields older API versions have.
type summary struct {
	imagetypes.Summary
	VirtualSize *int64 `json:"VirtualSize,omitempty"`
}

func (r *Router) list(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	f, err := filters.Parse(req.FormValue("filters"))
	if err != nil {
		return err
	}
	if httputils.VersionLessThan(ctx, "1.41") {
		if v := req.FormValue("filter"); v != "" {
			f.Add("reference", v)
		}
	}
	opts := image.ListOptions{All: httputils.BoolValue(req, "all"), Filters: f}
	if !httputils.VersionLessThan(ctx, "1.42") {
		opts.SharedSize = httputils.BoolValue(req, "shared-size")
	}
	images, err := r.images.List(ctx, opts)
	if err != nil {
		return err
	}
	out := make([]summary, 0, len(images))
	for _, im := range images {
		s := summary{Summary: im}
		if httputils.VersionLessThan(ctx, "1.43") && len(s.RepoTags) == 0 && len(s.RepoDigests) == 0 {
			s.RepoTags = []string{"<none>:<none>"}
			s.RepoDigests = []string{"<none>@<none>"}
		}
		if httputils.VersionLessThan(ctx, "1.44") {
			size := s.Size
			s.VirtualSize = &size
		}
		if httputils.VersionLessThan(ctx, "1.51") {
			s.Containers = -1
		}
		out = append(out, s)
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

// inspectResponse is image inspect as Docker 28 sends it, fields in its
// order, with the deprecated ones older versions expect.
type inspectResponse struct {
	ID              string              `json:"Id"`
	RepoTags        []string            `json:"RepoTags"`
	RepoDigests     []string            `json:"RepoDigests"`
	Parent          string              `json:"Parent"`
	Comment         string              `json:"Comment"`
	Created         string              `json:"Created,omitempty"`
	Container       *string             `json:"Container,omitempty"`
	ContainerConfig map[string]any      `json:"ContainerConfig,omitempty"`
	DockerVersion   string              `json:"DockerVersion"`
	Author          string              `json:"Author"`
	Config          map[string]any      `json:"Config"`
	Architecture    string              `json:"Architecture"`
	Variant         string              `json:"Variant,omitempty"`
	Os              string              `json:"Os"`
	OsVersion       string              `json:"OsVersion,omitempty"`
	Size            int64               `json:"Size"`
	VirtualSize     *int64              `json:"VirtualSize,omitempty"`
	GraphDriver     *storage.DriverData `json:"GraphDriver"`
	RootFS          imagetypes.RootFS   `json:"RootFS"`
	Metadata        imagetypes.Metadata `json:"Metadata"`
}

// currentConfigFields are the Config fields Docker always includes (they
// have no omitempty); v149ConfigFields the container-config fields it
// also included before API 1.50.
var (
	currentConfigFields = map[string]any{
		"Cmd": nil, "Entrypoint": nil, "Env": nil, "Labels": nil, "OnBuild": nil,
		"User": "", "Volumes": nil, "WorkingDir": "",
	}
	v149ConfigFields = map[string]any{
		"AttachStderr": false, "AttachStdin": false, "AttachStdout": false, "Domainname": "",
		"Hostname": "", "Image": "", "OpenStdin": false, "StdinOnce": false, "Tty": false,
	}
)

func (r *Router) inspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	res, err := r.images.Inspect(ctx, vars["name"])
	if err != nil {
		return err
	}
	cfg := maps.Clone(currentConfigFields)
	if httputils.VersionLessThan(ctx, "1.50") {
		maps.Copy(cfg, v149ConfigFields)
	}
	if res.Config != nil {
		raw, err := json.Marshal(res.Config)
		if err != nil {
			return err
		}
		var set map[string]any
		if err := json.Unmarshal(raw, &set); err != nil {
			return err
		}
		maps.Copy(cfg, set)
	}
	out := inspectResponse{
		ID:            res.ID,
		RepoTags:      nonNil(res.RepoTags),
		RepoDigests:   nonNil(res.RepoDigests),
		Parent:        res.Parent,
		Comment:       res.Comment,
		Created:       res.Created,
		DockerVersion: res.DockerVersion,
		Author:        res.Author,
		Config:        cfg,
		Architecture:  res.Architecture,
		Variant:       res.Variant,
		Os:            res.Os,
		OsVersion:     res.OsVersion,
		Size:          res.Size,
		GraphDriver:   res.GraphDriver,
		RootFS:        res.RootFS,
		Metadata:      res.Metadata,
	}
	if httputils.VersionLessThan(ctx, "1.44") {
		size := res.Size
		out.VirtualSize = &size
		if out.Created == "" {
			out.Created = time.Time{}.Format(time.RFC3339Nano)
		}
	}
	if httputils.VersionLessThan(ctx, "1.45") {
		empty := ""
		out.Container = &empty
		out.ContainerConfig = maps.Clone(currentConfigFields)
		maps.Copy(out.ContainerConfig, v149ConfigFields)
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

func (r *Router) history(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	h, err := r.images.History(ctx, vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, h)
}

func (r *Router) tag(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.images.Tag(ctx, vars["name"], req.Form.Get("repo"), req.Form.Get("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Router) remove(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	name := vars["name"]
	if strings.TrimSpace(name) == "" {
		return invalid("image name cannot be blank")
	}
	if len(req.Form["platforms"]) > 1 {
		return invalid("multiple platforms are not supported")
	}
	res, err := r.images.Remove(ctx, name, httputils.BoolValue(req, "force"), !httputils.BoolValue(req, "noprune"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, res)
}

func (r *Router) prune(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	return httputils.WriteFiltered(ctx, w, req, r.images.Prune)
}
