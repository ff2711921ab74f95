package imagerouter

import (
	"context"
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/image/distribution"
	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/registry"
)

// pull is POST /images/create?fromImage=…&tag=…: like Docker it answers
// an error status while nothing was sent (unknown tag, registry down),
// and reports later failures inside the stream.
func (r *Router) pull(ctx context.Context, w http.ResponseWriter, req *http.Request) error {
	ref, err := image.ParsePullReference(req.Form.Get("fromImage"), req.Form.Get("tag"))
	if err != nil {
		return err
	}
	opts := image.PullOptions{}
	if !httputils.VersionLessThan(ctx, "1.32") {
		opts.Platform = req.Form.Get("platform")
		if opts.Platform != "" {
			if _, err := image.ParsePlatform(opts.Platform); err != nil {
				return err
			}
		}
	}
	// Docker ignores credentials it cannot read: a pull may be anonymous.
	opts.Auth, _ = distribution.DecodeAuthConfig(req.Header.Get(registry.AuthHeader))
	out := newJSONProgress(w)
	return out.end(r.registries.Pull(ctx, ref, opts, out))
}

// push is POST /images/{name}/push?tag=…; without a tag every tag of the
// repository is pushed.
func (r *Router) push(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	ref, err := reference.ParseNormalizedNamed(vars["name"])
	if err != nil {
		return invalid("%s", err.Error())
	}
	if tag := req.Form.Get("tag"); tag != "" {
		// Push by digest is not supported: only tags.
		if ref, err = reference.WithTag(reference.TrimNamed(ref), tag); err != nil {
			return invalid("%s", err.Error())
		}
	}
	var opts image.PushOptions
	if h := req.Header.Get(registry.AuthHeader); h != "" {
		opts.Auth, _ = distribution.DecodeAuthConfig(h)
	} else {
		// Old clients sent the credentials as the body.
		if opts.Auth, err = distribution.DecodeAuthConfigBody(req.Body); err != nil {
			return invalid("bad parameters and missing X-Registry-Auth: %s", err.Error())
		}
	}
	out := newJSONProgress(w)
	return out.end(r.registries.Push(ctx, ref, opts, out))
}

// authResponse is POST /auth's answer, both fields always present as
// Docker sends them.
type authResponse struct {
	IdentityToken string `json:"IdentityToken"`
	Status        string `json:"Status"`
}

// auth is POST /auth: check credentials against a registry.
func (r *Router) auth(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var cfg registry.AuthConfig
	if err := httputils.ReadJSON(req, &cfg); err != nil {
		return err
	}
	token, err := r.registries.Login(ctx, &cfg)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, authResponse{IdentityToken: token, Status: "Login Succeeded"})
}

// search is GET /images/search?term=…&limit=…&filters=….
func (r *Router) search(ctx context.Context, w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	limit := 0
	if v := req.Form.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalid("invalid limit specified: %q", v)
		}
		limit = n
	}
	f, err := filters.Parse(req.Form.Get("filters"))
	if err != nil {
		return err
	}
	auth, _ := distribution.DecodeAuthConfig(req.Header.Get(registry.AuthHeader))
	res, err := r.registries.Search(ctx, req.Form.Get("term"), limit, f, auth)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, res)
}

// distributionInspect is GET /distribution/{name}/json: what a reference
// names in its registry, without pulling it.
func (r *Router) distributionInspect(ctx context.Context, w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	name := vars["name"]
	ref, err := reference.ParseAnyReference(name)
	if err != nil {
		return invalid("%s", err.Error())
	}
	named, ok := ref.(reference.Named)
	if !ok {
		if _, ok := ref.(reference.Digested); ok {
			return errdefs.ErrUnknown.WithMessage("no manifest found for full image ID")
		}
		return invalid("unknown image reference format: %s", name)
	}
	auth, _ := distribution.DecodeAuthConfig(req.Header.Get(registry.AuthHeader))
	res, err := r.registries.DistributionInspect(ctx, named, auth)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, res)
}
