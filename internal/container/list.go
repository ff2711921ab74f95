package container

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-dev/berth/internal/filters"
)

// ListOptions is a `docker ps` request.
type ListOptions struct {
	All     bool
	Limit   int
	Size    bool
	Filters filters.Args
}

// psFilters are the terms `docker ps --filter` accepts.
var psFilters = []string{"ancestor", "before", "exited", "id", "isolation", "label", "name", "status",
	"health", "since", "volume", "network", "is-task", "publish", "expose"}

// listFilter is a parsed set of ps filters.
type listFilter struct {
	f       filters.Args
	exited  []int
	before  string // container ID: skip everything newer, and it
	since   string // container ID: stop at it
	images  map[string]bool
	ancient bool // an ancestor filter is present
	isTask  *bool
	publish map[string]bool // "80/tcp"
	expose  map[string]bool
}

// List returns the containers `docker ps` shows, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]containertypes.Summary, error) {
	lf, all, err := s.parseListFilter(ctx, opts)
	if err != nil {
		return nil, err
	}
	images := map[string]string{} // Config.Image -> resolved image ID ("" unknown)
	out := []containertypes.Summary{}
	skipping := lf.before != ""
	for _, c := range s.idx.list() {
		r := c.snapshot()
		if skipping {
			if r.ID == lf.before {
				skipping = false
			}
			continue
		}
		if lf.since != "" && r.ID == lf.since {
			break
		}
		if !r.State.Running && !all && opts.Limit <= 0 {
			continue
		}
		sum := s.summary(ctx, r, images)
		if !lf.match(r, &sum) {
			continue
		}
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
		if opts.Size {
			if rw, rootfs, err := s.deps.Layers.RWLayerSize(r.ID); err == nil {
				sum.SizeRw, sum.SizeRootFs = rw, rootfs
			}
		}
		out = append(out, sum)
	}
	return out, nil
}

func (s *Service) parseListFilter(ctx context.Context, opts ListOptions) (*listFilter, bool, error) {
	f := opts.Filters
	if f == nil {
		f = filters.Args{}
	}
	if err := f.Validate(psFilters...); err != nil {
		return nil, false, err
	}
	lf := &listFilter{f: f}
	all := opts.All
	for _, v := range f.Get("exited") {
		code, err := strconv.Atoi(v)
		if err != nil {
			return nil, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'exited=%s'", v))
		}
		lf.exited = append(lf.exited, code)
	}
	for _, v := range f.Get("status") {
		if err := containertypes.ValidateContainerState(containertypes.ContainerState(v)); err != nil {
			return nil, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'status=%s': %s", v, err))
		}
		all = true
	}
	for _, v := range f.Get("health") {
		if err := containertypes.ValidateHealthStatus(containertypes.HealthStatus(v)); err != nil {
			return nil, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'health=%s': %s", v, err))
		}
	}
	if vs := f.Get("is-task"); len(vs) > 0 {
		b, err := strconv.ParseBool(vs[0])
		if err != nil || len(vs) > 1 {
			return nil, false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'is-task=%s'", strings.Join(vs, ",")))
		}
		lf.isTask = &b
	}
	for _, term := range []string{"before", "since"} {
		for _, v := range f.Get(term) {
			c, err := s.idx.get(v)
			if err != nil {
				return nil, false, err
			}
			if term == "before" {
				lf.before = c.ID
			} else {
				lf.since = c.ID
			}
		}
	}
	if f.Has("ancestor") {
		lf.ancient = true
		lf.images = map[string]bool{}
		for _, v := range f.Get("ancestor") {
			if img, err := s.deps.Images.GetImage(ctx, v); err == nil {
				lf.images[img.ID] = true
			}
		}
	}
	var err error
	if lf.publish, err = portFilter("publish", f.Get("publish")); err != nil {
		return nil, false, err
	}
	if lf.expose, err = portFilter("expose", f.Get("expose")); err != nil {
		return nil, false, err
	}
	return lf, all, nil
}

// portFilter expands port[/proto] and start-end[/proto] values.
func portFilter(term string, values []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, v := range values {
		if strings.Contains(v, ":") {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("filter for '%s' should not contain ':': %s", term, v))
		}
		pr, err := network.ParsePortRange(v)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error while looking up for %s %s: %s", term, v, err))
		}
		for p := int(pr.Start()); p <= int(pr.End()); p++ {
			out[fmt.Sprintf("%d/%s", p, pr.Proto())] = true
		}
	}
	return out, nil
}

// match applies the filters that look at one container.
func (lf *listFilter) match(r record, sum *containertypes.Summary) bool {
	f := lf.f
	name := strings.TrimPrefix(r.Name, "/")
	if !f.Match("name", r.Name) && !f.Match("name", name) {
		return false
	}
	if !f.Match("id", r.ID) {
		return false
	}
	if lf.isTask != nil && *lf.isTask {
		return false // berth runs no swarm tasks here
	}
	if !f.MatchLabels("label", r.Config.Labels) {
		return false
	}
	if len(lf.exited) > 0 {
		ok := false
		for _, code := range lf.exited {
			if !r.State.Running && !r.State.StartedAt.IsZero() && r.State.ExitCode == code {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if !f.Match("status", string(r.State.StateString())) {
		return false
	}
	if !f.ExactMatch("health", string(r.State.healthStatus())) {
		return false
	}
	if f.Has("volume") {
		ok := false
		for _, m := range sum.Mounts {
			if f.ExactMatch("volume", m.Destination) || f.ExactMatch("volume", m.Source) || (m.Name != "" && f.ExactMatch("volume", m.Name)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if lf.ancient && !lf.images[r.ImageID] {
		return false
	}
	if f.Has("network") {
		ok := false
		for _, v := range f.Get("network") {
			for nwName, ep := range sum.NetworkSettings.Networks {
				if nwName == v || (ep != nil && ep.NetworkID != "" && strings.HasPrefix(ep.NetworkID, v)) {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	if len(lf.publish) > 0 || len(lf.expose) > 0 {
		ok := false
		for _, p := range sum.Ports {
			if lf.publish[fmt.Sprintf("%d/%s", p.PublicPort, p.Type)] || lf.expose[fmt.Sprintf("%d/%s", p.PrivatePort, p.Type)] {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// summary builds the `docker ps` entry of a container.
func (s *Service) summary(ctx context.Context, r record, images map[string]string) containertypes.Summary {
	sum := containertypes.Summary{
		ID:      r.ID,
		Names:   []string{r.Name},
		Image:   s.imageName(ctx, r, images),
		ImageID: r.ImageID,
		Command: commandString(r.Path, r.Args),
		Created: r.Created.Unix(),
		Labels:  r.Config.Labels,
		State:   r.State.StateString(),
		Status:  r.State.HumanString(now()),
		Mounts:  apiMountPoints(r.MountPoints),
	}
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	sum.HostConfig.NetworkMode = string(r.HostConfig.NetworkMode)
	sum.HostConfig.Annotations = r.HostConfig.Annotations
	sum.NetworkSettings = &containertypes.NetworkSettingsSummary{Networks: endpointSettings(r)}
	sum.Ports = portSummaries(portMap(r))
	if h := r.State.Health; h != nil {
		sum.Health = &containertypes.HealthSummary{Status: h.Status, FailingStreak: h.FailingStreak}
	}
	return sum
}

// imageName is the IMAGE column: the name the user gave while it still
// names the container's image, its ID otherwise (Docker's rule).
func (s *Service) imageName(ctx context.Context, r record, cache map[string]string) string {
	name := r.Config.Image
	if name == r.ImageID {
		return name
	}
	id, ok := cache[name]
	if !ok {
		if img, err := s.deps.Images.GetImage(ctx, name); err == nil {
			id = img.ID
		}
		cache[name] = id
	}
	if id != r.ImageID {
		return r.ImageID
	}
	return name
}

// portMap is NetworkSettings.Ports: while the container runs on a
// bridge, the exposed ports (unbound ones with no bindings) and the
// actual bindings.
func portMap(r record) network.PortMap {
	pm := network.PortMap{}
	ep := primaryEndpoint(r)
	if !r.State.Running || ep == nil || !ep.IPAddress.IsValid() {
		return pm
	}
	for p, b := range ep.Ports {
		pm[p] = append([]network.PortBinding(nil), b...)
	}
	for p := range r.Config.ExposedPorts {
		if _, ok := pm[p]; !ok {
			pm[p] = nil
		}
	}
	return pm
}

func portSummaries(pm network.PortMap) []containertypes.PortSummary {
	out := []containertypes.PortSummary{}
	for p, bindings := range pm {
		if len(bindings) == 0 {
			out = append(out, containertypes.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
			continue
		}
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, containertypes.PortSummary{IP: b.HostIP, PrivatePort: p.Num(), PublicPort: uint16(hp), Type: string(p.Proto())})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.PrivatePort != b.PrivatePort {
			return a.PrivatePort < b.PrivatePort
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		if a.IP != b.IP {
			return a.IP.Less(b.IP)
		}
		return a.PublicPort < b.PublicPort
	})
	return out
}

func parseMAC(s string) (network.HardwareAddr, error) {
	var hw network.HardwareAddr
	err := hw.UnmarshalText([]byte(s))
	return hw, err
}
