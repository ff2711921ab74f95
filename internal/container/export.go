package container

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/events"
)

// Export streams a tar of the container ref's whole filesystem (docker
// export), running or not. The caller closes the stream.
func (s *Service) Export(ctx context.Context, ref string) (io.ReadCloser, error) {
	cm, c, id, err := s.committerFor(ref)
	if err != nil {
		return nil, err
	}
	rc, err := cm.Export(ctx, id)
	if err != nil {
		return nil, err
	}
	s.publish(c, events.ActionExport, nil)
	return rc, nil
}
