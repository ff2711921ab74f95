package container

import (
	"context"

	containertypes "github.com/moby/moby/api/types/container"
)

// Changes lists what the container ref changed in its filesystem over its
// image (docker diff), running or not.
func (s *Service) Changes(ctx context.Context, ref string) ([]containertypes.FilesystemChange, error) {
	cm, err := s.committer()
	if err != nil {
		return nil, err
	}
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	id := c.ID
	c.mu.Unlock()
	return cm.Changes(ctx, id)
}
