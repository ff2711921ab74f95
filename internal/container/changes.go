package container

import (
	"context"

	containertypes "github.com/moby/moby/api/types/container"
)

// Changes lists what the container ref changed in its filesystem over its
// image (docker diff), running or not.
func (s *Service) Changes(ctx context.Context, ref string) ([]containertypes.FilesystemChange, error) {
	cm, _, id, err := s.committerFor(ref)
	if err != nil {
		return nil, err
	}
	return cm.Changes(ctx, id)
}
