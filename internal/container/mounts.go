package container

import (
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// MountPoint is one of a container's mounts as create resolved it:
// persisted with the container, shown by inspect and ps, mounted by
// every start. Volumes are named (anonymous ones got a generated name
// at create), so a restarted daemon counts the same references again.
type MountPoint struct {
	Type        mount.Type
	Name        string `json:",omitempty"` // volume name
	Source      string `json:",omitempty"` // host path: the bind's source, or the volume's data
	Destination string
	Driver      string `json:",omitempty"` // volume driver
	Mode        string `json:",omitempty"` // as the user wrote it (-v), as Docker reports it
	RW          bool
	Propagation mount.Propagation `json:",omitempty"`

	// Anonymous volumes go with the container on rm -v and --rm.
	Anonymous bool `json:",omitempty"`
	// CreateSource: a -v bind whose missing host directory each start
	// creates, as Docker does (--mount binds must exist).
	CreateSource bool `json:",omitempty"`
	// NonRecursive is --mount bind-nonrecursive.
	NonRecursive bool `json:",omitempty"`
	// Subpath is --mount volume-subpath: the part of the volume mounted.
	Subpath string `json:",omitempty"`
	// Tmpfs holds a tmpfs mount's options.
	Tmpfs *mount.TmpfsOptions `json:",omitempty"`
}

// api is the inspect and ps form.
func (m MountPoint) api() containertypes.MountPoint {
	return containertypes.MountPoint{
		Type: m.Type, Name: m.Name, Source: m.Source, Destination: m.Destination,
		Driver: m.Driver, Mode: m.Mode, RW: m.RW, Propagation: m.Propagation,
	}
}

// apiMountPoints is the Mounts list of inspect and ps.
func apiMountPoints(mps []MountPoint) []containertypes.MountPoint {
	out := make([]containertypes.MountPoint, 0, len(mps))
	for _, m := range mps {
		out = append(out, m.api())
	}
	return out
}

// mountSpec is one -v, --mount or --volumes-from entry, parsed.
type mountSpec struct {
	MountPoint
	copyData bool // pre-populate the volume from the image
	// Volumes only: what to create the volume with if it does not exist.
	labels, driverOpts map[string]string
}

func invalidSpec(raw string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume specification: '%s'", raw))
}

func invalidMode(mode string) error {
	return errdefs.ErrInvalidArgument.WithMessage("invalid mode: " + mode)
}

// mountConfigError is Docker's wording for a mount that fails validation.
func mountConfigError(typ mount.Type, msg string) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type %q: %s", typ, msg))
}

// parseBind parses a HostConfig.Binds entry, [source:]destination[:mode],
// as Docker's Linux parser does. A source that is not an absolute path
// names a volume; volumeDriver is HostConfig.VolumeDriver.
func parseBind(raw, volumeDriver string) (mountSpec, error) {
	parts := strings.Split(raw, ":")
	var src, dst, mode string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		if validMode(parts[1]) {
			// A destination and a mode: an anonymous volume takes no mode.
			return mountSpec{}, invalidSpec(raw)
		}
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, mode = parts[0], parts[1], parts[2]
		if !validMode(mode) {
			return mountSpec{}, invalidMode(mode)
		}
	default:
		return mountSpec{}, invalidSpec(raw)
	}
	if dst == "" {
		return mountSpec{}, invalidSpec(raw)
	}
	s := mountSpec{MountPoint: MountPoint{Destination: dst, Mode: mode, RW: true}, copyData: true}
	opts := strings.Split(mode, ",")
	propagation, nocopy := "", false
	for _, o := range opts {
		switch o {
		case "ro":
			s.RW = false
		case "nocopy":
			nocopy = true
		case "shared", "rshared", "slave", "rslave", "private", "rprivate":
			propagation = o
		}
	}
	if strings.HasPrefix(src, "/") {
		s.Type = mount.TypeBind
		s.Source = path.Clean(src)
		s.CreateSource = true
		s.Propagation = mount.PropagationRPrivate
		if propagation != "" {
			s.Propagation = mount.Propagation(propagation)
		}
		s.copyData = false
		if nocopy {
			return mountSpec{}, invalidBindWrap(raw, mountConfigError(s.Type, "field VolumeOptions must not be specified"))
		}
	} else {
		s.Type = mount.TypeVolume
		s.Name = src
		s.Anonymous = src == ""
		s.Driver = volumeDriver
		s.copyData = !nocopy
		if mode == "" {
			s.Mode = "z" // Docker's default label mode for volumes on Linux
		}
		if propagation != "" {
			return mountSpec{}, invalidBindWrap(raw, mountConfigError(s.Type, "field BindOptions must not be specified"))
		}
	}
	if err := validateDestination(s.Type, dst); err != nil {
		return mountSpec{}, invalidBindWrap(raw, err)
	}
	return s, nil
}

func invalidBindWrap(raw string, err error) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume specification: '%s': %s", raw, err.Error()))
}

// validMode is Docker's check of a -v mode: comma separated options, at
// most one of each kind (read-write, propagation, SELinux label, copy,
// consistency).
func validMode(mode string) bool {
	if mode == "" {
		return false
	}
	kinds := map[string]string{
		"rw": "rw", "ro": "rw",
		"shared": "prop", "rshared": "prop", "slave": "prop", "rslave": "prop", "private": "prop", "rprivate": "prop",
		"z": "label", "Z": "label",
		"nocopy":     "copy",
		"consistent": "consistency", "cached": "consistency", "delegated": "consistency",
	}
	seen := map[string]bool{}
	for _, o := range strings.Split(mode, ",") {
		k, ok := kinds[o]
		if !ok || seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// validateDestination checks a mount's target.
func validateDestination(typ mount.Type, dst string) error {
	if !path.IsAbs(dst) {
		return mountConfigError(typ, fmt.Sprintf("invalid mount path: '%s' mount path must be absolute", dst))
	}
	if path.Clean(dst) == "/" {
		return mountConfigError(typ, "invalid specification: destination can't be '/'")
	}
	return nil
}

// parseMount checks one HostConfig.Mounts entry as Docker does. A bind
// source must exist (sourceExists tells).
func parseMount(m mount.Mount, sourceExists func(string) bool) (mountSpec, error) {
	if m.Target == "" {
		return mountSpec{}, mountConfigError(m.Type, "field Target must not be empty")
	}
	s := mountSpec{MountPoint: MountPoint{Type: m.Type, Destination: m.Target, RW: !m.ReadOnly}}
	extra := func(field string) error { return mountConfigError(m.Type, "field "+field+" must not be specified") }
	switch m.Type {
	case mount.TypeBind:
		if m.VolumeOptions != nil {
			return mountSpec{}, extra("VolumeOptions")
		}
		if m.TmpfsOptions != nil {
			return mountSpec{}, extra("TmpfsOptions")
		}
		if err := validateDestination(m.Type, m.Target); err != nil {
			return mountSpec{}, err
		}
		if m.Source == "" {
			return mountSpec{}, mountConfigError(m.Type, "field Source must not be empty")
		}
		if !path.IsAbs(m.Source) {
			return mountSpec{}, mountConfigError(m.Type, fmt.Sprintf("invalid mount path: '%s' mount path must be absolute", m.Source))
		}
		if !sourceExists(m.Source) {
			return mountSpec{}, mountConfigError(m.Type, "bind source path does not exist: "+m.Source)
		}
		s.Source = path.Clean(m.Source)
		s.Propagation = mount.PropagationRPrivate
		if o := m.BindOptions; o != nil {
			if o.Propagation != "" {
				if !validPropagation(o.Propagation) {
					return mountSpec{}, mountConfigError(m.Type, fmt.Sprintf("invalid propagation mode: %s", o.Propagation))
				}
				s.Propagation = o.Propagation
			}
			s.NonRecursive = o.NonRecursive
		}
	case mount.TypeVolume:
		if m.BindOptions != nil {
			return mountSpec{}, extra("BindOptions")
		}
		if m.TmpfsOptions != nil {
			return mountSpec{}, extra("TmpfsOptions")
		}
		if err := validateDestination(m.Type, m.Target); err != nil {
			return mountSpec{}, err
		}
		s.Name = m.Source
		s.Anonymous = m.Source == ""
		s.Mode = "z"
		s.copyData = true
		if o := m.VolumeOptions; o != nil {
			if o.Subpath != "" {
				if m.Source == "" {
					return mountSpec{}, mountConfigError(m.Type, "must not set Subpath when using anonymous volumes")
				}
				if !filepath.IsLocal(o.Subpath) {
					return mountSpec{}, mountConfigError(m.Type, "subpath must be a relative path within the volume")
				}
				s.Subpath = o.Subpath
			}
			s.copyData = !o.NoCopy
			s.labels = o.Labels
			if o.DriverConfig != nil {
				s.Driver = o.DriverConfig.Name
				s.driverOpts = o.DriverConfig.Options
			}
		}
	case mount.TypeTmpfs:
		if m.Source != "" {
			return mountSpec{}, extra("Source")
		}
		if m.BindOptions != nil {
			return mountSpec{}, extra("BindOptions")
		}
		if m.VolumeOptions != nil {
			return mountSpec{}, extra("VolumeOptions")
		}
		if err := validateDestination(m.Type, m.Target); err != nil {
			return mountSpec{}, err
		}
		if o := m.TmpfsOptions; o != nil {
			if o.SizeBytes < 0 {
				return mountSpec{}, mountConfigError(m.Type, fmt.Sprintf("invalid tmpfs size %d", o.SizeBytes))
			}
			t := *o
			s.Tmpfs = &t
		}
	default:
		return mountSpec{}, mountConfigError(m.Type, "mount type unknown")
	}
	return s, nil
}

func validPropagation(p mount.Propagation) bool {
	switch p {
	case mount.PropagationShared, mount.PropagationRShared, mount.PropagationSlave,
		mount.PropagationRSlave, mount.PropagationPrivate, mount.PropagationRPrivate:
		return true
	}
	return false
}

// parseVolumesFrom splits "container[:ro|:rw]".
func parseVolumesFrom(spec string) (ref string, rw bool, err error) {
	ref, mode, hasMode := strings.Cut(spec, ":")
	switch {
	case !hasMode, mode == "rw":
		return ref, true, nil
	case mode == "ro":
		return ref, false, nil
	}
	return "", false, invalidMode(mode)
}

// mountSpecs parses and checks the container's binds, mounts and
// tmpfs: every syntax error and duplicate destination, before anything
// is created. Volumes from other containers are the caller's.
func mountSpecs(hc *containertypes.HostConfig, sourceExists func(string) bool) ([]mountSpec, error) {
	var out []mountSpec
	seen := map[string]bool{}
	dup := func(dst string) error {
		if seen[path.Clean(dst)] {
			return errdefs.ErrInvalidArgument.WithMessage("Duplicate mount point: " + dst)
		}
		seen[path.Clean(dst)] = true
		return nil
	}
	for _, raw := range hc.Binds {
		s, err := parseBind(raw, hc.VolumeDriver)
		if err != nil {
			return nil, err
		}
		if err := dup(s.Destination); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	for _, m := range hc.Mounts {
		s, err := parseMount(m, sourceExists)
		if err != nil {
			return nil, err
		}
		if err := dup(s.Destination); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	dsts := make([]string, 0, len(hc.Tmpfs))
	for dst := range hc.Tmpfs {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		if err := dup(dst); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// upgradeMounts gives records written before mount points were recorded
// (berth had binds and tmpfs mounts only then) their mount points, so
// that an upgrade keeps every bind. A spec that no longer parses is
// dropped with a warning rather than losing the container.
func upgradeMounts(r *record) {
	if r.MountPoints != nil || r.HostConfig == nil || len(r.HostConfig.Binds)+len(r.HostConfig.Mounts) == 0 {
		return
	}
	specs, err := mountSpecs(r.HostConfig, func(string) bool { return true })
	if err != nil {
		slog.Warn("container mounts cannot be read again", "container", r.ID, "err", err)
		return
	}
	for _, sp := range specs {
		if sp.Type == mount.TypeBind || sp.Type == mount.TypeTmpfs {
			r.MountPoints = append(r.MountPoints, sp.MountPoint)
		}
	}
	sort.Slice(r.MountPoints, func(i, j int) bool { return r.MountPoints[i].Destination < r.MountPoints[j].Destination })
}
