package container

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"golang.org/x/sys/unix"
)

// CreateOptions is a create request.
type CreateOptions struct {
	Name             string // optional, with or without the slash
	Config           *containertypes.Config
	HostConfig       *containertypes.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// Create validates the request, merges the image's config in, creates
// the read-write layer and persists the container. Nothing is left
// behind on failure.
func (s *Service) Create(ctx context.Context, opts CreateOptions) (containertypes.CreateResponse, error) {
	if opts.Config == nil {
		return containertypes.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	cfg := *opts.Config
	hc := &containertypes.HostConfig{}
	if opts.HostConfig != nil {
		copied := *opts.HostConfig
		hc = &copied
	}
	invalid := func(err error) (containertypes.CreateResponse, error) {
		return containertypes.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}

	var name string
	if opts.Name != "" {
		n, err := normalizeName(opts.Name)
		if err != nil {
			return containertypes.CreateResponse{}, err
		}
		name = n
	}
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = containertypes.RestartPolicyDisabled
	}
	warnings, err := validateHostConfig(hc)
	if err != nil {
		return invalid(err)
	}
	if err := validateConfig(&cfg); err != nil {
		return invalid(err)
	}
	if err := validateNetworkConfig(&cfg, hc); err != nil {
		return containertypes.CreateResponse{}, err
	}
	if err := s.mergeLogConfig(&hc.LogConfig); err != nil {
		return containertypes.CreateResponse{}, err
	}
	if hc.Runtime == "" {
		hc.Runtime = s.cfg.DefaultRuntime
	}
	if _, ok := s.cfg.Runtimes[hc.Runtime]; !ok {
		return invalid(fmt.Errorf("Unknown runtime specified %s", hc.Runtime))
	}
	mountSpecs, err := mountSpecs(hc, pathExists)
	if err != nil {
		return containertypes.CreateResponse{}, err
	}
	if cfg.Image == "" {
		return invalid(errors.New("no image specified"))
	}
	img, err := s.deps.Images.GetImage(ctx, cfg.Image)
	if err != nil {
		return containertypes.CreateResponse{}, err
	}
	// The request's maps and slices belong to the caller; merge into copies.
	cfg.Labels = maps.Clone(cfg.Labels)
	cfg.Volumes = maps.Clone(cfg.Volumes)
	cfg.ExposedPorts = maps.Clone(cfg.ExposedPorts)
	if err := mergeImageConfig(&cfg, &img.Config.Config); err != nil {
		return invalid(err)
	}
	// Namespaces shared with another container name it by ID from now
	// on, so that a rename of the other container does not break them.
	for _, mode := range []*string{(*string)(&hc.NetworkMode), (*string)(&hc.IpcMode), (*string)(&hc.PidMode)} {
		if ref, ok := strings.CutPrefix(*mode, "container:"); ok {
			other, err := s.idx.get(ref)
			if err != nil {
				return containertypes.CreateResponse{}, notFoundAsInvalid(err)
			}
			*mode = "container:" + other.ID
		}
	}
	nets, err := s.networkAttachments(hc, opts.NetworkingConfig)
	if err != nil {
		return containertypes.CreateResponse{}, notFoundAsInvalid(err)
	}
	applyHostConfigDefaults(hc, cgroup2())
	if s.deps.ValidateHostConfig != nil {
		hostWarnings, err := s.deps.ValidateHostConfig(hc)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotImplemented(err) {
				err = errdefs.ErrInvalidArgument.WithMessage(err.Error())
			}
			return containertypes.CreateResponse{}, err
		}
		warnings = append(warnings, hostWarnings...)
	}
	if s.deps.HostConfigDefaults != nil {
		s.deps.HostConfigDefaults(hc)
	}

	id := newID()
	if name == "" {
		name = s.idx.generateName(id)
	} else if err := s.idx.reserveName(name, id); err != nil {
		return containertypes.CreateResponse{}, err
	}
	created := false
	defer func() {
		if !created {
			s.idx.releaseName(name, id)
		}
	}()
	if err := s.resolveLinks(hc, name); err != nil {
		return containertypes.CreateResponse{}, err
	}

	if cfg.Hostname == "" {
		if hc.NetworkMode.IsHost() {
			cfg.Hostname, _ = os.Hostname()
		} else {
			cfg.Hostname = id[:12]
		}
	}
	// Volumes: referenced (created if missing) before anything else of
	// the container exists, given back if the create fails.
	refs := &volumeRefs{s: s, id: id}
	mounts, populate, err := s.resolveMounts(ctx, refs, &cfg, hc, mountSpecs)
	if err != nil {
		refs.undo(ctx)
		return containertypes.CreateResponse{}, err
	}
	defer func() {
		if !created {
			refs.undo(ctx)
		}
	}()

	path, args := entrypointAndArgs(cfg.Entrypoint, cfg.Cmd)
	dir := filepath.Join(s.cfg.Root, id)
	rec := record{
		ID:          id,
		Name:        name,
		Created:     now(),
		Path:        path,
		Args:        args,
		Config:      &cfg,
		HostConfig:  hc,
		ImageID:     img.ID,
		Driver:      "overlay2",
		Networks:    nets,
		LogPath:     logPath(dir, id, hc.LogConfig.Type),
		MountPoints: mounts,
	}
	rec.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	rec.HostnamePath = filepath.Join(dir, "hostname")
	rec.HostsPath = filepath.Join(dir, "hosts")
	rec.State.Status = containertypes.StateCreated

	if err := os.Mkdir(dir, 0o710); err != nil {
		return containertypes.CreateResponse{}, fmt.Errorf("create container directory: %w", err)
	}
	if err := s.deps.Layers.CreateRWLayer(id, img.ID); err != nil {
		os.RemoveAll(dir)
		return containertypes.CreateResponse{}, fmt.Errorf("create read-write layer: %w", err)
	}
	if err := s.populateVolumes(ctx, id, populate); err != nil {
		if rerr := s.deps.Layers.RemoveRWLayer(id); rerr != nil {
			slog.Warn("removing read-write layer after failed create", "container", id, "err", rerr)
		}
		os.RemoveAll(dir)
		return containertypes.CreateResponse{}, err
	}
	c := newContainer(rec, dir)
	if err := c.save(true); err != nil {
		if rerr := s.deps.Layers.RemoveRWLayer(id); rerr != nil {
			slog.Warn("removing read-write layer after failed create", "container", id, "err", rerr)
		}
		os.RemoveAll(dir)
		return containertypes.CreateResponse{}, fmt.Errorf("store container: %w", err)
	}
	s.idx.add(c)
	created = true
	s.publish(c, events.ActionCreate, nil)
	if warnings == nil {
		warnings = []string{}
	}
	return containertypes.CreateResponse{ID: id, Warnings: warnings}, nil
}

// notFoundAsInvalid makes a missing network or joined container a bad
// request (400) at create: a 404 there would make the docker CLI take it
// for a missing image and try to pull one.
func notFoundAsInvalid(err error) error {
	if errdefs.IsNotFound(err) {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return err
}

// mergeLogConfig applies the daemon's default log configuration and
// validates the result: the validator knows the drivers and their
// options.
func (s *Service) mergeLogConfig(lc *containertypes.LogConfig) error {
	if lc.Type == "" {
		lc.Type = s.cfg.LogDriver
	}
	opts := make(map[string]string, len(lc.Config))
	maps.Copy(opts, lc.Config)
	if lc.Type == s.cfg.LogDriver {
		for k, v := range s.cfg.LogOpts {
			if _, ok := opts[k]; !ok {
				opts[k] = v
			}
		}
	}
	lc.Config = opts
	if err := s.deps.ValidateLogOpts(lc.Type, opts); err != nil {
		if errdefs.IsInvalidArgument(err) {
			return err
		}
		return fmt.Errorf("%s: %w", err.Error(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// logPath is where the shim writes the container's log.
func logPath(dir, id, driver string) string {
	switch driver {
	case "json-file":
		return filepath.Join(dir, id+"-json.log")
	case "local":
		return filepath.Join(dir, "local-logs", "container.log")
	}
	return ""
}

// newID is a random 64-hex container or exec ID that is not all digits
// (a numeric ID would read as a number prefix in some clients).
func newID() string {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		id := hex.EncodeToString(b)
		if strings.Trim(id[:12], "0123456789") != "" {
			return id
		}
	}
}

func pathExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// cgroup2 reports whether the host has a unified cgroup hierarchy.
func cgroup2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
