package image

import (
	"context"
	"encoding/json"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/image/distribution"
	"github.com/distribution/reference"
	registrytypes "github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Login checks credentials against a registry (POST /auth) and returns
// the identity token the registry issued, if any.
func (d *Distributor) Login(ctx context.Context, auth *registrytypes.AuthConfig) (string, error) {
	if auth == nil {
		auth = &registrytypes.AuthConfig{}
	}
	return d.registries.Login(ctx, auth)
}

// Search asks a registry's v1 search for term (GET /images/search), as
// Docker does; limit 0 is the default of 25.
func (d *Distributor) Search(ctx context.Context, term string, limit int, f filters.Args, auth *registrytypes.AuthConfig) ([]registrytypes.SearchResult, error) {
	return d.registries.Search(ctx, term, limit, f, auth)
}

// RegistryConfig is the registry configuration for GET /info.
func (d *Distributor) RegistryConfig() *registrytypes.ServiceConfig {
	return d.registries.ServiceConfig()
}

// DistributionInspect answers GET /distribution/{name}/json: the
// descriptor of what ref names in its registry (a tag defaults to latest)
// and the platforms it offers, without pulling it.
func (d *Distributor) DistributionInspect(ctx context.Context, ref reference.Named, auth *registrytypes.AuthConfig) (*registrytypes.DistributionInspect, error) {
	ref = reference.TagNameOnly(ref)
	var lastErr error
	for _, ep := range d.registries.Endpoints(ctx, ref, false) {
		res, err := d.distributionInspect(ctx, ep, ref, auth)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if !ep.Mirror || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func (d *Distributor) distributionInspect(ctx context.Context, ep distribution.Endpoint, ref reference.Named, auth *registrytypes.AuthConfig) (*registrytypes.DistributionInspect, error) {
	repo, err := d.registries.Open(ctx, ep, reference.Path(ref), auth, false)
	if err != nil {
		return nil, err
	}
	m, err := repo.Manifest(ctx, tagOrDigest(ref))
	if err != nil {
		return nil, distribution.PullError(err, ref)
	}
	if err := m.Verify(tagOrDigest(ref)); err != nil {
		return nil, err
	}
	res := &registrytypes.DistributionInspect{
		Descriptor: ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Raw))},
		Platforms:  []ocispec.Platform{},
	}
	if isIndex(m.MediaType) {
		var idx ocispec.Index
		if err := json.Unmarshal(m.Raw, &idx); err != nil {
			return nil, invalidf("invalid manifest list: %v", err)
		}
		for _, desc := range idx.Manifests {
			if desc.Platform != nil {
				res.Platforms = append(res.Platforms, *desc.Platform)
			}
		}
		return res, nil
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(m.Raw, &man); err == nil && man.Config.Digest != "" {
		if raw, err := repo.SmallBlob(ctx, man.Config); err == nil {
			var p ocispec.Platform
			if json.Unmarshal(raw, &p) == nil && (p.OS != "" || p.Architecture != "") {
				res.Platforms = append(res.Platforms, p)
			}
		}
	}
	return res, nil
}
