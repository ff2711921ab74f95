package image

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/go-archive"
	containertypes "github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// emptyLayerDiffID is the diff ID of a tar with nothing in it (two zero
// blocks): a commit with no changes adds no layer, as Docker's does.
const emptyLayerDiffID = digest.Digest("sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")

// engineMountPoints are what the engine itself puts into a container's
// read-write layer: the targets of the mounts every container gets,
// which runc creates when the image lacks them. Docker keeps them in a
// hidden init layer, so neither diff nor commit shows them; berth leaves
// them out of both. They are only left out while they are what the
// engine made (new and empty), never when the image or the container
// put content there.
var engineMountPoints = []string{
	"/.dockerenv", "/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/sys",
}

// engineMountParents are directories that hold engine mount points: a
// change to them that only comes from a mount point is not the
// container's either.
var engineMountParents = map[string]bool{"/etc": true}

// CommitOptions describe the image POST /commit makes from a container.
type CommitOptions struct {
	ContainerID string
	// Config is the request's config (may be nil), Changes the
	// Dockerfile instructions applied to it; what either leaves unset
	// comes from ContainerConfig, the container's own config.
	Config          *containertypes.Config
	Changes         []string
	ContainerConfig *containertypes.Config
	Author, Comment string
	Repo, Tag       string // tag the image repo:tag; no tag when Repo is ""
}

// commitConfig is the config of a committed image, in the order of the
// fields of Docker's.
type commitConfig struct {
	Architecture  string                          `json:"architecture"`
	Author        string                          `json:"author,omitempty"`
	Comment       string                          `json:"comment,omitempty"`
	Config        dockerspec.DockerOCIImageConfig `json:"config"`
	Container     string                          `json:"container,omitempty"`
	Created       time.Time                       `json:"created"`
	DockerVersion string                          `json:"docker_version,omitempty"`
	History       []ocispec.History               `json:"history"`
	OS            string                          `json:"os"`
	RootFS        ocispec.RootFS                  `json:"rootfs"`
	Variant       string                          `json:"variant,omitempty"`
}

// ContainerChanges lists the changes of a container's read-write layer
// over its image, as `docker diff` shows them, without the engine's
// mount points.
func (r *RWLayers) ContainerChanges(ctx context.Context, containerID string) ([]archive.Change, error) {
	mounts, err := r.rwMounts(ctx, containerID)
	if err != nil {
		return nil, err
	}
	changes, err := layer.Changes(ctx, mounts)
	if err != nil {
		return nil, err
	}
	out, _ := withoutEngineMountPoints(mounts, changes)
	return out, nil
}

func (r *RWLayers) rwMounts(ctx context.Context, containerID string) ([]layer.Mount, error) {
	if err := validContainerID(containerID); err != nil {
		return nil, err
	}
	if !r.has(containerID) {
		return nil, noRWLayer(containerID)
	}
	return r.layers.sn.Mounts(ctx, rwKey(containerID))
}

// RootfsMounts returns the mounts that make the root filesystem of a
// container that is not running, and the directory they go on, for a
// private view of it (docker cp). A root filesystem still mounted there
// is bound rather than mounted twice over the same upper directory.
func (r *RWLayers) RootfsMounts(ctx context.Context, containerID string) (target string, mounts []layer.Mount, err error) {
	mounts, err = r.rwMounts(ctx, containerID)
	if err != nil {
		return "", nil, err
	}
	target = r.mountPath(containerID)
	if mounted, _ := layer.IsMountpoint(target); mounted {
		mounts = []layer.Mount{{Type: "bind", Source: target, Options: []string{"rbind"}}}
	}
	return target, mounts, nil
}

// withoutEngineMountPoints drops the engine's mount points from changes
// and returns the paths it dropped (for the commit's tar).
func withoutEngineMountPoints(mounts []layer.Mount, changes []archive.Change) ([]archive.Change, []string) {
	upper, _, err := layer.Layers(mounts)
	if err != nil {
		return changes, nil
	}
	var dropped []string
	isDropped := func(p string) bool {
		for _, d := range dropped {
			if p == d || strings.HasPrefix(p, d+"/") {
				return true
			}
		}
		return false
	}
	for _, ch := range changes {
		if ch.Kind == archive.ChangeAdd && slices.Contains(engineMountPoints, ch.Path) && emptyEntry(upper+ch.Path) {
			dropped = append(dropped, ch.Path)
		}
	}
	out := make([]archive.Change, 0, len(changes))
	for i, ch := range changes {
		if isDropped(ch.Path) {
			continue
		}
		if engineMountParents[ch.Path] && ch.Kind != archive.ChangeDelete {
			// Kept only if something else under it changed.
			keep := false
			for _, next := range changes[i+1:] {
				if strings.HasPrefix(next.Path, ch.Path+"/") && !isDropped(next.Path) {
					keep = true
					break
				}
			}
			if !keep {
				continue
			}
		}
		out = append(out, ch)
	}
	return out, dropped
}

// emptyEntry reports whether p is an empty file or directory: what runc
// creates as a mount target.
func emptyEntry(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	switch {
	case fi.Mode().IsRegular():
		return fi.Size() == 0
	case fi.IsDir():
		entries, err := os.ReadDir(p)
		return err == nil && len(entries) == 0
	}
	return false
}

// Commit makes an image of a container: its image plus one layer with
// the changes of its read-write layer (none when nothing changed), and
// the config merged from opts as Docker merges it. The layer is stored
// as every other one, content-addressed and synced before the image is
// recorded; a failure leaves nothing behind. The caller pauses the
// container if it wants a consistent layer.
func (s *Service) Commit(ctx context.Context, opts CommitOptions) (string, error) {
	refs, err := tagsFor(opts.Repo, opts.Tag)
	if err != nil {
		return "", err
	}
	cfg := ociConfig(opts.Config)
	if err := applyChanges(&cfg, opts.Changes); err != nil {
		return "", err
	}
	cc := ociConfig(opts.ContainerConfig)
	mergeCommitConfig(&cfg, &cc)

	release := s.layers.hold()
	defer release()

	s.rw.mu.RLock()
	rec := s.rw.recs[opts.ContainerID]
	s.rw.mu.RUnlock()
	if rec == nil {
		return "", noRWLayer(opts.ContainerID)
	}
	parent, err := s.lookup(rec.ImageID.String())
	if err != nil {
		return "", fmt.Errorf("image of container %s: %w", opts.ContainerID, err)
	}
	mounts, err := s.rw.rwMounts(ctx, opts.ContainerID)
	if err != nil {
		return "", err
	}
	changes, err := layer.Changes(ctx, mounts)
	if err != nil {
		return "", fmt.Errorf("read changes of container %s: %w", opts.ContainerID, err)
	}
	changes, dropped := withoutEngineMountPoints(mounts, changes)

	layers := slices.Clone(parent.rec.Layers)
	diffIDs := slices.Clone(parent.config.RootFS.DiffIDs)
	if len(changes) > 0 {
		lr, err := s.commitLayer(ctx, mounts, dropped, parent)
		if err != nil {
			return "", err
		}
		if lr.DiffID != emptyLayerDiffID {
			layers = append(layers, lr)
			diffIDs = append(diffIDs, lr.DiffID)
		}
	}
	emptyLayer := len(layers) == len(parent.rec.Layers)

	created := nowUTC()
	history := slices.Clone(parent.config.History)
	history = append(history, ocispec.History{
		Created:    &created,
		Author:     opts.Author,
		CreatedBy:  strings.Join(opts.ContainerConfig.Cmd, " "),
		Comment:    opts.Comment,
		EmptyLayer: emptyLayer,
	})
	pc := parent.config
	raw, err := json.Marshal(commitConfig{
		Architecture:  pc.Architecture,
		Author:        opts.Author,
		Comment:       opts.Comment,
		Config:        cfg,
		Container:     opts.ContainerID,
		Created:       created,
		DockerVersion: pc.DockerVersion,
		History:       history,
		OS:            pc.OS,
		RootFS:        ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
		Variant:       pc.Variant,
	})
	if err != nil {
		return "", err
	}
	im, err := s.addImage(raw, layers, parent.rec.ID, refs, true)
	if err != nil {
		return "", err
	}
	id := im.rec.ID.String()
	for _, r := range refs {
		s.publish(eventtypes.ActionTag, id, reference.FamiliarString(r), cfg.Labels)
	}
	return id, nil
}

// commitLayer stores the changes of the rw layer (mounts) as a layer on
// the parent image: the tar of the upper directory, whiteouts as ".wh."
// entries, goes into the blob store and is unpacked into a new snapshot,
// both verified against the digest measured on the way. It returns the
// record of the stored layer; an empty tar stores nothing.
func (s *Service) commitLayer(ctx context.Context, mounts []layer.Mount, exclude []string, parent *img) (layerRecord, error) {
	tarStream, err := layer.DiffExcluding(ctx, mounts, exclude)
	if err != nil {
		return layerRecord{}, err
	}
	defer tarStream.Close()

	w, err := s.layers.blobs.Writer()
	if err != nil {
		return layerRecord{}, err
	}
	defer w.Close()
	key, diffID, mediaType, err := s.layers.unpack(ctx, parent.top(), tarStream, w)
	if err != nil {
		return layerRecord{}, fmt.Errorf("commit layer: %w", err)
	}
	if diffID == emptyLayerDiffID {
		_ = s.layers.sn.Remove(context.WithoutCancel(ctx), key)
		return layerRecord{DiffID: diffID}, nil
	}
	chain := identity.ChainID(append(slices.Clone(parent.config.RootFS.DiffIDs), diffID))
	if err := s.layers.commit(ctx, chain, key); err != nil {
		_ = s.layers.sn.Remove(context.WithoutCancel(ctx), key)
		return layerRecord{}, err
	}
	blob := ocispec.Descriptor{MediaType: mediaType, Digest: w.Digest(), Size: w.Size()}
	// The stored blob is the uncompressed tar, so it must hash to the
	// diff ID the unpacking measured.
	if err := w.Commit(diffID); err != nil {
		return layerRecord{}, err
	}
	if err := s.layers.sync(); err != nil {
		return layerRecord{}, err
	}
	return layerRecord{DiffID: diffID, Blob: blob}, nil
}

// ociConfig converts a container config into the config of an image.
func ociConfig(c *containertypes.Config) dockerspec.DockerOCIImageConfig {
	var out dockerspec.DockerOCIImageConfig
	if c == nil {
		return out
	}
	out.User = c.User
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			out.ExposedPorts[p.String()] = struct{}{}
		}
	}
	out.Env = slices.Clone(c.Env)
	out.Entrypoint = slices.Clone(c.Entrypoint)
	out.Cmd = slices.Clone(c.Cmd)
	if len(c.Volumes) > 0 {
		out.Volumes = maps.Clone(c.Volumes)
	}
	out.WorkingDir = c.WorkingDir
	if len(c.Labels) > 0 {
		out.Labels = maps.Clone(c.Labels)
	}
	out.StopSignal = c.StopSignal
	out.ArgsEscaped = c.ArgsEscaped //nolint:staticcheck // carried as Docker carries it
	if hc := c.Healthcheck; hc != nil {
		out.Healthcheck = &dockerspec.HealthcheckConfig{
			Test: slices.Clone(hc.Test), Interval: hc.Interval, Timeout: hc.Timeout,
			StartPeriod: hc.StartPeriod, StartInterval: hc.StartInterval, Retries: hc.Retries,
		}
	}
	out.OnBuild = slices.Clone(c.OnBuild)
	out.Shell = slices.Clone(c.Shell)
	return out
}

// mergeCommitConfig fills what the user's config (with its changes)
// leaves unset from the container's, by Docker's rules for commit: user
// values win; ExposedPorts, Env, Labels and Volumes are unions; Cmd and
// Entrypoint come from the container only when the user set no
// entrypoint.
func mergeCommitConfig(user, ctr *dockerspec.DockerOCIImageConfig) {
	if user.User == "" {
		user.User = ctr.User
	}
	if len(user.ExposedPorts) == 0 {
		user.ExposedPorts = ctr.ExposedPorts
	} else {
		for p := range ctr.ExposedPorts {
			user.ExposedPorts[p] = struct{}{}
		}
	}
	if len(user.Env) == 0 {
		user.Env = ctr.Env
	} else {
		for _, ce := range ctr.Env {
			key, _, _ := strings.Cut(ce, "=")
			found := slices.ContainsFunc(user.Env, func(ue string) bool {
				k, _, _ := strings.Cut(ue, "=")
				return k == key
			})
			if !found {
				user.Env = append(user.Env, ce)
			}
		}
	}
	if len(ctr.Labels) > 0 {
		if user.Labels == nil {
			user.Labels = map[string]string{}
		}
		for k, v := range ctr.Labels {
			if _, ok := user.Labels[k]; !ok {
				user.Labels[k] = v
			}
		}
	}
	if len(user.Entrypoint) == 0 {
		if len(user.Cmd) == 0 {
			user.Cmd = ctr.Cmd
		}
		if user.Entrypoint == nil {
			user.Entrypoint = ctr.Entrypoint
		}
	}
	if ch := ctr.Healthcheck; ch != nil {
		if user.Healthcheck == nil {
			user.Healthcheck = ch
		} else {
			uh := user.Healthcheck
			if len(uh.Test) == 0 {
				uh.Test = ch.Test
			}
			if uh.Interval == 0 {
				uh.Interval = ch.Interval
			}
			if uh.Timeout == 0 {
				uh.Timeout = ch.Timeout
			}
			if uh.StartPeriod == 0 {
				uh.StartPeriod = ch.StartPeriod
			}
			if uh.StartInterval == 0 {
				uh.StartInterval = ch.StartInterval
			}
			if uh.Retries == 0 {
				uh.Retries = ch.Retries
			}
		}
	}
	if user.WorkingDir == "" {
		user.WorkingDir = ctr.WorkingDir
	}
	if len(user.Volumes) == 0 {
		user.Volumes = ctr.Volumes
	} else {
		for k, v := range ctr.Volumes {
			user.Volumes[k] = v
		}
	}
	if user.StopSignal == "" {
		user.StopSignal = ctr.StopSignal
	}
}

// ExportMounts returns the mounts of a read-only view of a container's
// whole filesystem (its image with its changes: the layers of its rw
// layer, upper first, whiteouts and all, never its own mounts), and a
// directory to mount them on in a private mount namespace (docker
// export). The container may run meanwhile.
func (r *RWLayers) ExportMounts(ctx context.Context, containerID string) (target string, mounts []layer.Mount, err error) {
	rw, err := r.rwMounts(ctx, containerID)
	if err != nil {
		return "", nil, err
	}
	upper, lowers, err := layer.Layers(rw)
	if err != nil {
		return "", nil, err
	}
	dirs := append([]string{upper}, lowers...)
	m := layer.Mount{Type: "bind", Source: upper, Options: []string{"ro"}}
	if len(dirs) > 1 {
		// Without an upperdir an overlay is read-only; the rw layer's own
		// directory is its top lower layer.
		opts := []string{"ro"}
		if _, err := os.Stat("/sys/module/overlay/parameters/index"); err == nil {
			opts = append(opts, "index=off")
		}
		m = layer.Mount{Type: "overlay", Source: "overlay", Options: append(opts, "lowerdir="+strings.Join(dirs, ":"))}
	}
	// The container's own directory: mounted over only in the view's
	// namespace, it stays as it is for everyone else.
	return filepath.Join(r.dir, containerID), []layer.Mount{m}, nil
}
