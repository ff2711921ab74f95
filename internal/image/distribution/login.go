package distribution

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/moby/moby/api/types/registry"
)

// Login checks credentials against a registry, as POST /auth does: the
// registry's /v2/ must answer 200 once authenticated (basic auth, or a
// bearer token fetched with the credentials). Endpoints are tried HTTPS
// first, then plain HTTP for insecure registries; wrong credentials end
// the attempt with Docker's "login attempt to … failed with status: 401
// Unauthorized" (errdefs.ErrUnauthenticated).
func (s *Service) Login(ctx context.Context, ac *registry.AuthConfig) (identityToken string, err error) {
	host := hubIndex
	if ac.ServerAddress != "" {
		addr := ac.ServerAddress
		if !strings.HasPrefix(addr, "https://") && !strings.HasPrefix(addr, "http://") {
			addr = "https://" + addr
		}
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to parse server address: %q", ac.ServerAddress))
		}
		host = u.Host
	}
	var endpoints []Endpoint
	switch host {
	case hubIndex, dockerHub, hubRegistry:
		endpoints = []Endpoint{{Host: hubRegistry, Scheme: "https"}}
	default:
		insecure := s.Insecure(ctx, host)
		endpoints = []Endpoint{{Host: host, Scheme: "https", Insecure: insecure}}
		if insecure {
			endpoints = append(endpoints, Endpoint{Host: host, Scheme: "http", Insecure: true})
		}
	}
	var lastErr error
	for _, ep := range endpoints {
		err := s.loginV2(ctx, ep, ac)
		if err == nil {
			return "", nil
		}
		if errdefs.IsUnauthorized(err) || ctx.Err() != nil {
			return "", err
		}
		lastErr = err
	}
	return "", lastErr
}

func (s *Service) loginV2(ctx context.Context, ep Endpoint, ac *registry.AuthConfig) error {
	endpoint := ep.Scheme + "://" + ep.Host + "/v2/"
	if _, err := s.ping(ctx, ep, ep.Scheme); err != nil {
		return err
	}
	var opts []name.Option
	if ep.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(ep.Host, opts...)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unable to parse server address: %s", err))
	}
	base := transport.NewUserAgent(s.transportFor(ep, ep.Scheme), s.userAgent)
	rt, err := transport.NewWithContext(ctx, reg, authenticator(ac), base, nil)
	if err != nil {
		err = authError(err, ep.Scheme, ep.Host)
		if refused(err) {
			return errdefs.ErrUnauthenticated.WithMessage(err.Error())
		}
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint, http.NoBody)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return WithClass(errdefs.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := fmt.Sprintf("login attempt to %s failed with status: %d %s", endpoint, resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return errdefs.ErrUnauthenticated.WithMessage(msg)
	}
	return errdefs.ErrUnknown.WithMessage(msg)
}
