package daemon

import (
	"context"
	"io"

	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/containerfs"
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

// Export tars a read-only view of the container's layers, mounted in a
// private mount namespace that goes with the view: nothing is mounted on
// the host, even if the daemon dies meanwhile.
func (c imageCommitter) Export(ctx context.Context, containerID string) (io.ReadCloser, error) {
	target, mounts, err := c.images.RWLayers().ExportMounts(ctx, containerID)
	if err != nil {
		return nil, err
	}
	v, err := containerfs.OpenRootfs(target, mounts, nil)
	if err != nil {
		return nil, err
	}
	rc, err := v.Export()
	if err != nil {
		v.Close()
		return nil, err
	}
	return &closeWith{ReadCloser: rc, after: v.Close}, nil
}

// closeWith closes its reader, then runs after.
type closeWith struct {
	io.ReadCloser
	after func() error
}

func (c *closeWith) Close() error {
	err := c.ReadCloser.Close()
	if e := c.after(); err == nil {
		err = e
	}
	return err
}

func (c imageCommitter) Commit(ctx context.Context, req ctr.CommitRequest) (string, error) {
	return c.images.Commit(ctx, image.CommitOptions(req))
}
