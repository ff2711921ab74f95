package distribution

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
)

// DefaultSearchLimit is the number of results a search returns unless the
// client asks for another.
const DefaultSearchLimit = 25

// Search answers GET /images/search as Docker does: the term's registry
// ("localhost:5000/busybox" → localhost:5000; a term without one is Docker
// Hub) is asked GET /v1/search?q=<rest>&n=<limit>, after a /v1/_ping that
// picks HTTPS, or plain HTTP for an insecure registry. Results are then
// filtered by is-official and stars; is-automated=true matches nothing,
// the field being deprecated.
func (s *Service) Search(ctx context.Context, term string, limit int, f filters.Args, ac *registry.AuthConfig) ([]registry.SearchResult, error) {
	if err := f.Validate("is-automated", "is-official", "stars"); err != nil {
		return nil, err
	}
	automated, err := boolFilter(f, "is-automated")
	if err != nil {
		return nil, err
	}
	official, err := boolFilter(f, "is-official")
	if err != nil {
		return nil, err
	}
	minStars := 0
	for _, v := range f.Get("stars") {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'stars=%s': %v", v, err))
		}
		minStars = max(minStars, n)
	}
	if automated {
		return []registry.SearchResult{}, nil
	}
	res, err := s.searchUnfiltered(ctx, term, limit, ac)
	if err != nil {
		return nil, err
	}
	out := []registry.SearchResult{}
	for _, r := range res.Results {
		if f.Has("is-official") && r.IsOfficial != official {
			continue
		}
		if f.Has("stars") && r.StarCount < minStars {
			continue
		}
		r.IsAutomated = false //nolint:staticcheck // deprecated field, always false as in Docker
		out = append(out, r)
	}
	return out, nil
}

func boolFilter(f filters.Args, term string) (bool, error) {
	if !f.Has(term) {
		return false, nil
	}
	vals := f.Get(term)
	if len(vals) == 1 {
		switch strings.ToLower(vals[0]) {
		case "1", "true":
			return true, nil
		case "0", "false":
			return false, nil
		}
	}
	return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s=%s'", term, strings.Join(vals, " ")))
}

// splitSearchTerm splits off the registry part of a search term, as
// Docker's splitReposSearchTerm does.
func splitSearchTerm(term string) (index, remote string) {
	parts := strings.SplitN(term, "/", 2)
	if len(parts) == 1 || (!strings.Contains(parts[0], ".") && !strings.Contains(parts[0], ":") && parts[0] != "localhost") {
		return hubIndex, term
	}
	return parts[0], parts[1]
}

func (s *Service) searchUnfiltered(ctx context.Context, term string, limit int, ac *registry.AuthConfig) (*registry.SearchResults, error) {
	if strings.Contains(term, "://") {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid repository name: repository name (%s) should not have a scheme", term))
	}
	index, remote := splitSearchTerm(term)
	if index == hubIndex || index == dockerHub {
		index = hubIndex
		remote = strings.TrimPrefix(remote, "library/")
	}
	if limit == 0 {
		limit = DefaultSearchLimit
	}
	if limit < 1 || limit > 100 {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("limit %d is outside the range of [1, 100]", limit))
	}
	ep := Endpoint{Host: index, Insecure: index != hubIndex && s.Insecure(ctx, index)}
	base := "https://" + index + "/v1/"
	client := &http.Client{Transport: s.transportFor(ep, "https")}
	if index != hubIndex {
		// Docker pings /v1/_ping over HTTPS and, for an insecure
		// registry, falls back to HTTP.
		if err := s.pingV1(ctx, client, base); err != nil {
			if !ep.Insecure {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid registry endpoint %s: %v. If this private registry supports only HTTP or HTTPS with an unknown CA certificate, please add `--insecure-registry %s` to the daemon's arguments. In the case of HTTPS, if you have access to the registry's CA certificate, no need for the flag; simply place the CA certificate at /etc/docker/certs.d/%s/ca.crt", base, err, index, index))
			}
			httpBase := "http://" + index + "/v1/"
			httpClient := &http.Client{Transport: s.transportFor(ep, "http")}
			if err2 := s.pingV1(ctx, httpClient, httpBase); err2 != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid registry endpoint %q. HTTPS attempt: %v. HTTP attempt: %v", base, err, err2))
			}
			base, client = httpBase, httpClient
		}
	}
	u := base + "search?q=" + url.QueryEscape(remote) + "&n=" + url.QueryEscape(strconv.Itoa(limit))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, http.NoBody)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error building request: %v", err))
	}
	req.Header.Set("User-Agent", s.userAgent)
	req.Header.Set("X-Docker-Token", "true")
	if ac != nil {
		user, pass := ac.Username, ac.Password
		if user == "" && ac.Auth != "" {
			if a := authenticator(ac); a != nil {
				if cfg, err := a.Authorization(); err == nil {
					user, pass = cfg.Username, cfg.Password
				}
			}
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, WithClass(errdefs.ErrUnknown, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errdefs.ErrUnknown.WithMessage(fmt.Sprintf("Unexpected status code %d", resp.StatusCode))
	}
	res := &registry.SearchResults{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(res); err != nil {
		return nil, errdefs.ErrUnknown.WithMessage(fmt.Sprintf("error decoding registry search results: %v", err))
	}
	return res, nil
}

// pingV1 is Docker's v1 endpoint check: any HTTP answer will do.
func (s *Service) pingV1(ctx context.Context, client *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"_ping", http.NoBody)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", s.userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return err
}
