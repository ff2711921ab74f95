package daemon

import (
	"context"
	"io"

	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/image"
	containertypes "github.com/moby/moby/api/types/container"
)

// imageCommitter gives the container service diff, export and commit on
// the image store's rw layers.
type imageCommitter struct{ images *image.Service }

func (c imageCommitter) Changes(ctx context.Context, containerID string) ([]containertypes.FilesystemChange, error) {
	changes, err := c.images.RWLayers().ContainerChanges(ctx, containerID)
	if err != nil {
		return nil, err
	}
	out := make([]containertypes.FilesystemChange, len(changes))
	for i, ch := range changes {
		out[i] = containertypes.FilesystemChange{Kind: containertypes.ChangeType(ch.Kind), Path: ch.Path}
	}
	return out, nil
}

func (c imageCommitter) Export(ctx context.Context, containerID string) (io.ReadCloser, error) {
	return c.images.RWLayers().ExportRWLayer(ctx, containerID)
}

func (c imageCommitter) Commit(ctx context.Context, req ctr.CommitRequest) (string, error) {
	return c.images.Commit(ctx, image.CommitOptions(req))
}
