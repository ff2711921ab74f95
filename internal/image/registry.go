package image

import (
	"context"

	"github.com/berth-dev/berth/internal/filters"
	registrytypes "github.com/moby/moby/api/types/registry"
)

// Login checks credentials against a registry (POST /auth) and returns
// the identity token the registry issued, if any.
func (s *Service) Login(ctx context.Context, auth *registrytypes.AuthConfig) (string, error) {
	if auth == nil {
		auth = &registrytypes.AuthConfig{}
	}
	return s.registries.Login(ctx, auth)
}

// Search asks a registry's v1 search for term (GET /images/search), as
// Docker does; limit 0 is the default of 25.
func (s *Service) Search(ctx context.Context, term string, limit int, f filters.Args, auth *registrytypes.AuthConfig) ([]registrytypes.SearchResult, error) {
	return s.registries.Search(ctx, term, limit, f, auth)
}
