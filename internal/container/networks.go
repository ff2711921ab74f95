package container

import (
	"context"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

// ConnectNetwork attaches a container to a network (POST
// /networks/{id}/connect): live when it runs, recorded for its next start
// otherwise.
func (s *Service) ConnectNetwork(ctx context.Context, containerRef, networkRef string, cfg *network.EndpointSettings) error {
	return errdefs.ErrNotImplemented.WithMessage("network connect is not implemented yet")
}

// DisconnectNetwork detaches a container from a network (POST
// /networks/{id}/disconnect).
func (s *Service) DisconnectNetwork(ctx context.Context, containerRef, networkRef string, force bool) error {
	return errdefs.ErrNotImplemented.WithMessage("network disconnect is not implemented yet")
}
