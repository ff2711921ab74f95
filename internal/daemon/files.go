package daemon

import (
	"context"

	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/containerfs"
	"github.com/berth-dev/berth/internal/image"
)

// filesystemViews gives the container service views of containers'
// filesystems (docker cp): a running one through its process, a stopped
// one from its rw layer's mounts.
type filesystemViews struct{ rw *image.RWLayers }

func (f filesystemViews) ViewRunning(pid int) (ctr.FilesystemView, error) {
	v, err := containerfs.OpenProcess(pid)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func (f filesystemViews) ViewStopped(containerID string, mounts []ctr.ViewMount) (ctr.FilesystemView, error) {
	target, rootfs, err := f.rw.RootfsMounts(context.Background(), containerID)
	if err != nil {
		return nil, err
	}
	binds := make([]containerfs.Bind, len(mounts))
	for i, m := range mounts {
		binds[i] = containerfs.Bind(m)
	}
	v, err := containerfs.OpenRootfs(target, rootfs, binds)
	if err != nil {
		return nil, err
	}
	return v, nil
}
