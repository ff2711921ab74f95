package container

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// ImageCommitter reads and commits containers' read-write layers: what
// diff, export and commit need of the image store.
type ImageCommitter interface {
	// Changes lists the container's changes over its image, sorted by
	// path, without the mount points the engine itself adds.
	Changes(ctx context.Context, containerID string) ([]containertypes.FilesystemChange, error)
	// Export streams a tar of the container's whole filesystem, read
	// from a view of its layers: the container may run meanwhile. Close
	// releases the view.
	Export(ctx context.Context, containerID string) (io.ReadCloser, error)
	// Commit stores the container's changes as a new image on its image
	// and returns the image ID.
	Commit(ctx context.Context, req CommitRequest) (string, error)
}

// CommitRequest asks for an image made of a container.
type CommitRequest struct {
	ContainerID string
	// Config is the client's config (may be nil) and Changes the
	// Dockerfile instructions applied to it; the rest comes from
	// ContainerConfig.
	Config          *containertypes.Config
	Changes         []string
	ContainerConfig *containertypes.Config
	Author, Comment string
	Repo, Tag       string
}

// CommitOptions are the parameters of POST /commit.
type CommitOptions struct {
	Config          *containertypes.Config
	Changes         []string
	Author, Comment string
	Repo, Tag       string
	// Pause freezes a running container while its layer is read, so that
	// the image is a consistent snapshot (Docker's default).
	Pause bool
}

func (s *Service) committer() (ImageCommitter, error) {
	if s.deps.Commits == nil {
		return nil, fmt.Errorf("container filesystems cannot be read by this engine: %w", errdefs.ErrNotImplemented)
	}
	return s.deps.Commits, nil
}

// committerFor is where diff, export and commit begin: the committer,
// and the container ref names with its ID.
func (s *Service) committerFor(ref string) (ImageCommitter, *Container, string, error) {
	cm, err := s.committer()
	if err != nil {
		return nil, nil, "", err
	}
	c, err := s.idx.get(ref)
	if err != nil {
		return nil, nil, "", err
	}
	c.mu.Lock()
	id := c.ID
	c.mu.Unlock()
	return cm, c, id, nil
}

// Commit makes an image of the container ref: docker commit. A running
// container is paused meanwhile when opts.Pause asks for it (and it is
// not paused already), and resumed whatever happens.
func (s *Service) Commit(ctx context.Context, ref string, opts CommitOptions) (string, error) {
	cm, c, id, err := s.committerFor(ref)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	running, paused := c.State.Running, c.State.Paused
	removing, dead := c.State.RemovalInProgress, c.State.Dead
	cfg := cloneConfig(c.Config)
	c.mu.Unlock()
	switch {
	case dead:
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot commit container %s which is Dead", id))
	case removing:
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot commit container %s which is being removed", id))
	}
	if opts.Pause && running && !paused {
		if err := s.Pause(ctx, id); err != nil {
			return "", err
		}
		defer func() {
			// The client may be gone; the container must not stay frozen.
			if err := s.Unpause(context.WithoutCancel(ctx), id); err != nil {
				slog.Warn("unpause after commit", "container", id, "err", err)
			}
		}()
	}
	imageID, err := cm.Commit(ctx, CommitRequest{
		ContainerID:     id,
		Config:          opts.Config,
		Changes:         opts.Changes,
		ContainerConfig: cfg,
		Author:          opts.Author,
		Comment:         opts.Comment,
		Repo:            opts.Repo,
		Tag:             opts.Tag,
	})
	if err != nil {
		return "", err
	}
	attrs := map[string]string{"comment": opts.Comment, "imageID": imageID}
	if opts.Repo != "" {
		ref := opts.Repo
		if opts.Tag != "" {
			ref += ":" + opts.Tag
		}
		attrs["imageRef"] = ref
	}
	s.publish(c, events.ActionCommit, attrs)
	return imageID, nil
}

// cloneConfig is a copy of cfg deep enough that the commit can read it
// while the container changes its own.
func cloneConfig(cfg *containertypes.Config) *containertypes.Config {
	if cfg == nil {
		return &containertypes.Config{}
	}
	out := *cfg
	return &out
}
