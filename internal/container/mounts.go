package container

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// bind is a parsed -v host:container[:options].
type bind struct {
	source, destination string
	readOnly            bool
	propagation         string
	mode                string
}

// parseBind parses one HostConfig.Binds entry. Only host paths are
// supported: named volumes need the volume service.
func parseBind(spec string) (bind, error) {
	invalid := errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume specification: '%s'", spec))
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return bind{}, invalid
	}
	b := bind{source: parts[0], destination: parts[1], propagation: "rprivate"}
	if !path.IsAbs(b.destination) {
		return bind{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config: invalid mount path: '%s' mount path must be absolute", b.destination))
	}
	if !path.IsAbs(b.source) {
		return bind{}, fmt.Errorf("named volume %q: volumes are not supported yet: %w", b.source, errdefs.ErrNotImplemented)
	}
	if len(parts) == 3 {
		b.mode = parts[2]
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				b.readOnly = true
			case "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated":
			case "shared", "rshared", "slave", "rslave", "private", "rprivate":
				b.propagation = o
			default:
				return bind{}, invalid
			}
		}
	}
	return b, nil
}

// validateMounts checks binds, mounts and tmpfs at create.
func validateMounts(hc *containertypes.HostConfig) error {
	seen := map[string]bool{}
	dup := func(dst string) error {
		dst = path.Clean(dst)
		if seen[dst] {
			return errdefs.ErrInvalidArgument.WithMessage("Duplicate mount point: " + dst)
		}
		seen[dst] = true
		return nil
	}
	for _, spec := range hc.Binds {
		b, err := parseBind(spec)
		if err != nil {
			return err
		}
		if err := dup(b.destination); err != nil {
			return err
		}
	}
	for _, m := range hc.Mounts {
		if m.Target == "" || !path.IsAbs(m.Target) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type %q: invalid mount path: '%s' mount path must be absolute", m.Type, m.Target))
		}
		switch m.Type {
		case mount.TypeBind:
			if m.Source == "" {
				return errdefs.ErrInvalidArgument.WithMessage(`invalid mount config for type "bind": field Source must not be empty`)
			}
			if _, err := os.Stat(m.Source); err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(`invalid mount config for type "bind": bind source path does not exist: %s`, m.Source))
			}
		case mount.TypeTmpfs:
			if m.Source != "" {
				return errdefs.ErrInvalidArgument.WithMessage(`invalid mount config for type "tmpfs": field Source must not be specified`)
			}
		case mount.TypeVolume:
			return fmt.Errorf("mount type %q: volumes are not supported yet: %w", m.Type, errdefs.ErrNotImplemented)
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config: mount type unknown: %q", m.Type))
		}
		if err := dup(m.Target); err != nil {
			return err
		}
	}
	for dst := range hc.Tmpfs {
		if !path.IsAbs(dst) {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config: invalid mount path: '%s' mount path must be absolute", dst))
		}
		if err := dup(dst); err != nil {
			return err
		}
	}
	return nil
}

// userMounts resolves the container's binds and mounts into OCI mounts
// (HostConfig.Tmpfs is the spec builder's). Missing -v host directories are created, as Docker does.
func userMounts(hc *containertypes.HostConfig) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, spec := range hc.Binds {
		b, err := parseBind(spec)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(b.source); os.IsNotExist(err) {
			if err := os.MkdirAll(b.source, 0o755); err != nil {
				return nil, fmt.Errorf("create bind source %s: %w", b.source, err)
			}
		}
		out = append(out, bindMount(b.source, b.destination, b.readOnly, b.propagation))
	}
	for _, m := range hc.Mounts {
		switch m.Type {
		case mount.TypeBind:
			prop := "rprivate"
			if m.BindOptions != nil && m.BindOptions.Propagation != "" {
				prop = string(m.BindOptions.Propagation)
			}
			out = append(out, bindMount(m.Source, m.Target, m.ReadOnly, prop))
		case mount.TypeTmpfs:
			opts := []string{"nosuid", "nodev", "noexec"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			if t := m.TmpfsOptions; t != nil {
				if t.SizeBytes > 0 {
					opts = append(opts, "size="+strconv.FormatInt(t.SizeBytes, 10))
				}
				if t.Mode != 0 {
					opts = append(opts, "mode="+strconv.FormatUint(uint64(t.Mode.Perm()), 8))
				}
			}
			out = append(out, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: opts})
		}
	}
	return out, nil
}

func bindMount(src, dst string, ro bool, propagation string) specs.Mount {
	opts := []string{"rbind", propagation}
	if ro {
		opts = append(opts, "ro")
	}
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: opts}
}

// mountPoints is the Mounts list of inspect and ps.
func mountPoints(hc *containertypes.HostConfig) []containertypes.MountPoint {
	out := []containertypes.MountPoint{}
	for _, spec := range hc.Binds {
		b, err := parseBind(spec)
		if err != nil {
			continue
		}
		out = append(out, containertypes.MountPoint{Type: mount.TypeBind, Source: b.source, Destination: b.destination,
			Mode: b.mode, RW: !b.readOnly, Propagation: mount.Propagation(b.propagation)})
	}
	for _, m := range hc.Mounts {
		mp := containertypes.MountPoint{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly}
		if m.Type == mount.TypeBind {
			mp.Propagation = mount.PropagationRPrivate
			if m.BindOptions != nil && m.BindOptions.Propagation != "" {
				mp.Propagation = m.BindOptions.Propagation
			}
		}
		out = append(out, mp)
	}
	return out
}
