package image

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
)

// ListOptions are the parameters of GET /images/json.
type ListOptions struct {
	All        bool // include intermediate images (builder parents)
	Filters    filters.Args
	SharedSize bool // compute SharedSize (else -1)
	// ContainerCount counts the containers using each image (else -1, as
	// Docker's image list reports; only disk usage counts them).
	ContainerCount bool
}

// boolFilter reads a true/false filter term as Docker does.
func boolFilter(f filters.Args, term string, def bool) (bool, error) {
	if _, ok := f[term]; !ok {
		return def, nil
	}
	vals := f.Get(term)
	isTrue := f[term]["1"] || f[term]["true"]
	isFalse := f[term]["0"] || f[term]["false"]
	if isTrue == isFalse {
		return def, invalidf("invalid filter '%s=%s'", term, "["+strings.Join(vals, " ")+"]")
	}
	return isTrue, nil
}

// parseUntil reads an until filter: unix seconds (with fraction), an RFC
// 3339 date, or a duration before now ("10m").
func parseUntil(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	sec, frac, _ := strings.Cut(v, ".")
	if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
		var nsec int64
		if frac != "" {
			if nsec, err = strconv.ParseInt((frac + "000000000")[:9], 10, 64); err != nil {
				return time.Time{}, invalidf("invalid timestamp %q", v)
			}
		}
		return time.Unix(n, nsec), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalidf("failed to parse value %q as timestamp", v)
}

// hasChildren reports whether some image names id as its parent. Caller
// holds mu.
func (s *Service) hasChildren(id digest.Digest) bool {
	for _, im := range s.images {
		if im.rec.Parent == id {
			return true
		}
	}
	return false
}

// List answers GET /images/json: newest first, with Docker's filters
// (dangling, label, before, since, reference, until).
func (s *Service) List(ctx context.Context, opts ListOptions) ([]imagetypes.Summary, error) {
	f := opts.Filters
	if err := f.Validate("dangling", "label", "before", "since", "reference", "until"); err != nil {
		return nil, err
	}
	danglingOnly, err := boolFilter(f, "dangling", false)
	if err != nil {
		return nil, err
	}
	out, err := s.list(ctx, opts, danglingOnly)
	if err != nil {
		return nil, err
	}
	if !opts.ContainerCount {
		for i := range out {
			out[i].Containers = -1
		}
		return out, nil
	}
	ids := make([]digest.Digest, len(out))
	for i := range out {
		ids[i] = digest.Digest(out[i].ID)
	}
	use := s.usageOf(ids)
	for i := range out {
		out[i].Containers = int64(len(use[ids[i]]))
	}
	return out, nil
}

func (s *Service) list(ctx context.Context, opts ListOptions, danglingOnly bool) ([]imagetypes.Summary, error) {
	f := opts.Filters
	s.mu.RLock()
	defer s.mu.RUnlock()

	var before, since time.Time
	for _, v := range f.Get("before") {
		im, err := s.resolve(v)
		if err != nil {
			return nil, err
		}
		if c := im.created(); before.IsZero() || c.Before(before) {
			before = c
		}
	}
	for _, v := range f.Get("until") {
		t, err := parseUntil(v, time.Now())
		if err != nil {
			return nil, err
		}
		if before.IsZero() || t.Before(before) {
			before = t
		}
	}
	for _, v := range f.Get("since") {
		im, err := s.resolve(v)
		if err != nil {
			return nil, err
		}
		if c := im.created(); c.After(since) {
			since = c
		}
	}

	parents := map[digest.Digest]bool{}
	for _, im := range s.images {
		if im.rec.Parent != "" {
			parents[im.rec.Parent] = true
		}
	}
	var out []imagetypes.Summary
	var selected []*img
	for id, im := range s.images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		children := parents[id]
		if danglingOnly && children {
			continue
		}
		created := im.created()
		if !before.IsZero() && !created.Before(before) {
			continue
		}
		if !since.IsZero() && !created.After(since) {
			continue
		}
		if f.Has("label") && !f.MatchLabels("label", im.config.Config.Labels) {
			continue
		}
		sum := imagetypes.Summary{
			ID:          id.String(),
			ParentID:    im.rec.Parent.String(),
			Created:     created.Unix(),
			Size:        s.layers.size(ctx, im.chain),
			SharedSize:  -1,
			Labels:      im.config.Config.Labels,
			RepoTags:    []string{},
			RepoDigests: []string{},
		}
		if created.IsZero() {
			sum.Created = 0
		}
		for _, ref := range s.referencesTo(id) {
			if f.Has("reference") {
				found := false
				for _, pattern := range f.Get("reference") {
					ok, err := reference.FamiliarMatch(pattern, ref)
					if err != nil {
						return nil, invalidf("%s", err.Error())
					}
					if ok {
						found = true
						break
					}
				}
				if !found {
					continue
				}
			}
			if _, ok := ref.(reference.Canonical); ok {
				sum.RepoDigests = append(sum.RepoDigests, reference.FamiliarString(ref))
			} else {
				sum.RepoTags = append(sum.RepoTags, reference.FamiliarString(ref))
			}
		}
		if len(sum.RepoTags) == 0 && len(sum.RepoDigests) == 0 {
			if !opts.All && children {
				continue // an intermediate image
			}
			if f.Has("dangling") && !danglingOnly {
				continue
			}
			if f.Has("reference") {
				continue
			}
		} else if danglingOnly && len(sum.RepoTags) > 0 {
			continue
		}
		out = append(out, sum)
		selected = append(selected, im)
	}

	if opts.SharedSize {
		refs := map[digest.Digest]int{}
		for _, im := range s.images {
			for _, c := range im.chain {
				refs[c]++
			}
		}
		for i, im := range selected {
			out[i].SharedSize = 0
			for _, c := range im.chain {
				if refs[c] > 1 {
					if u, err := s.layers.sn.Usage(ctx, c.String()); err == nil {
						out[i].SharedSize += u.Size
					}
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b imagetypes.Summary) int {
		switch {
		case a.Created > b.Created:
			return -1
		case a.Created < b.Created:
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	if out == nil {
		out = []imagetypes.Summary{}
	}
	return out, nil
}

// InspectResult is image inspect as the service knows it; the router
// shapes it for the client's API version.
type InspectResult struct {
	imagetypes.InspectResponse
	Parent        string
	DockerVersion string
}

// Inspect answers GET /images/{name}/json.
func (s *Service) Inspect(ctx context.Context, refOrID string) (*InspectResult, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	im, err := s.resolve(refOrID)
	if err != nil {
		return nil, err
	}
	view := s.toImage(ctx, im)
	cfg := im.config
	config := cfg.Config
	res := &InspectResult{
		InspectResponse: imagetypes.InspectResponse{
			ID:           view.ID,
			RepoTags:     view.RepoTags,
			RepoDigests:  view.RepoDigests,
			Comment:      cfg.Comment,
			Author:       cfg.Author,
			Config:       &config,
			Architecture: cfg.Architecture,
			Variant:      cfg.Variant,
			Os:           cfg.OS,
			OsVersion:    cfg.OSVersion,
			Size:         view.Size,
			RootFS:       imagetypes.RootFS{Type: "layers"},
			Metadata:     imagetypes.Metadata{LastTagTime: im.rec.LastTagTime},
			GraphDriver:  s.layers.graphDriver(im.chain),
		},
		Parent:        im.rec.Parent.String(),
		DockerVersion: cfg.DockerVersion,
	}
	if cfg.Created != nil {
		res.Created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	for _, d := range cfg.RootFS.DiffIDs {
		res.RootFS.Layers = append(res.RootFS.Layers, d.String())
	}
	return res, nil
}

// History answers GET /images/{name}/history: newest first, one entry per
// history item; the top one carries the image ID and tags, the rest
// "<missing>" as in Docker for images not built locally.
func (s *Service) History(ctx context.Context, refOrID string) ([]imagetypes.HistoryResponseItem, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	im, err := s.resolve(refOrID)
	if err != nil {
		return nil, err
	}
	out := []imagetypes.HistoryResponseItem{}
	layerIdx := 0
	for _, h := range im.config.History {
		var size int64
		if !h.EmptyLayer {
			if layerIdx >= len(im.chain) {
				return nil, fmt.Errorf("too many non-empty layers in History section: %w", errdefs.ErrDataLoss)
			}
			if u, err := s.layers.sn.Usage(ctx, im.chain[layerIdx].String()); err == nil {
				size = u.Size
			}
			layerIdx++
		}
		var created int64
		if h.Created != nil {
			created = h.Created.Unix()
		}
		out = append([]imagetypes.HistoryResponseItem{{
			ID: "<missing>", Created: created, CreatedBy: h.CreatedBy, Comment: h.Comment, Size: size,
		}}, out...)
	}
	cur := im
	for i := range out {
		out[i].ID = cur.rec.ID.String()
		var tags []string
		for _, r := range s.referencesTo(cur.rec.ID) {
			if _, ok := r.(reference.NamedTagged); ok {
				tags = append(tags, reference.FamiliarString(r))
			}
		}
		out[i].Tags = tags
		parent, ok := s.images[cur.rec.Parent]
		if cur.rec.Parent == "" || !ok {
			break
		}
		cur = parent
	}
	return out, nil
}
