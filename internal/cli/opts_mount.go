package cli

// --mount and -v/--volume parsing, after the docker CLI's opts.MountOpt and
// internal/volumespec (Apache-2.0), so that the same specs become the same
// HostConfig.Mounts and Binds.

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// mountOpt is --mount type=bind|volume|tmpfs|image,... with docker 28's
// parser: keys are case-insensitive, values are taken as given.
type mountOpt struct {
	values []mount.Mount
}

//nolint:gocyclo // one case per key, as in docker's parser
func (m *mountOpt) Set(value string) error {
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return err
	}

	mnt := mount.Mount{Type: mount.TypeVolume}
	// docker always gives volume options a label map and a driver.
	volumeOptions := func() *mount.VolumeOptions {
		if mnt.VolumeOptions == nil {
			mnt.VolumeOptions = &mount.VolumeOptions{Labels: map[string]string{}}
		}
		if mnt.VolumeOptions.DriverConfig == nil {
			mnt.VolumeOptions.DriverConfig = &mount.Driver{}
		}
		return mnt.VolumeOptions
	}
	bindOptions := func() *mount.BindOptions {
		if mnt.BindOptions == nil {
			mnt.BindOptions = &mount.BindOptions{}
		}
		return mnt.BindOptions
	}
	tmpfsOptions := func() *mount.TmpfsOptions {
		if mnt.TmpfsOptions == nil {
			mnt.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return mnt.TmpfsOptions
	}

	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				mnt.ReadOnly = true
				continue
			case "volume-nocopy":
				volumeOptions().NoCopy = true
				continue
			case "bind-nonrecursive":
				bindOptions().NonRecursive = true
				continue
			default:
				return fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
		}

		switch key {
		case "type":
			mnt.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			mnt.Source = val
			if strings.HasPrefix(val, "."+string(filepath.Separator)) || val == "." {
				if abs, err := filepath.Abs(val); err == nil {
					mnt.Source = abs
				}
			}
		case "target", "dst", "destination":
			mnt.Target = val
		case "readonly", "ro":
			if mnt.ReadOnly, err = strconv.ParseBool(val); err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "consistency":
			mnt.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOptions().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			if bindOptions().NonRecursive, err = strconv.ParseBool(val); err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bindOptions().NonRecursive = true
			case "writable":
				bindOptions().ReadOnlyNonRecursive = true
			case "readonly":
				bindOptions().ReadOnlyForceRecursive = true
			default:
				return fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "volume-subpath":
			volumeOptions().Subpath = val
		case "volume-nocopy":
			if volumeOptions().NoCopy, err = strconv.ParseBool(val); err != nil {
				return fmt.Errorf("invalid value for volume-nocopy: %s", val)
			}
		case "volume-label":
			setValueOnMap(volumeOptions().Labels, val)
		case "volume-driver":
			volumeOptions().DriverConfig.Name = val
		case "volume-opt":
			d := volumeOptions().DriverConfig
			if d.Options == nil {
				d.Options = map[string]string{}
			}
			setValueOnMap(d.Options, val)
		case "image-subpath":
			if mnt.ImageOptions == nil {
				mnt.ImageOptions = &mount.ImageOptions{}
			}
			mnt.ImageOptions.Subpath = val
		case "tmpfs-size":
			sizeBytes, err := units.RAMInBytes(val)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOptions().SizeBytes = sizeBytes
		case "tmpfs-mode":
			ui64, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOptions().Mode = os.FileMode(ui64)
		default:
			return fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if err := validateMount(&mnt); err != nil {
		return err
	}
	m.values = append(m.values, mnt)
	return nil
}

func (*mountOpt) Type() string { return "mount" }

func (m *mountOpt) String() string {
	mounts := make([]string, 0, len(m.values))
	for _, mnt := range m.values {
		mounts = append(mounts, fmt.Sprintf("%s %s %s", mnt.Type, mnt.Source, mnt.Target))
	}
	return strings.Join(mounts, ", ")
}

func (m *mountOpt) Value() []mount.Mount { return m.values }

func validateMount(m *mount.Mount) error {
	if m.Type == "" {
		return errors.New("type is required")
	}
	if m.Target == "" {
		return errors.New("target is required")
	}
	if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
		return fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.ImageOptions != nil && m.Type != mount.TypeImage {
		return fmt.Errorf("cannot mix 'image-*' options with mount type '%s'", m.Type)
	}
	if m.BindOptions != nil && m.Type != mount.TypeBind {
		return fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
		return fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if m.BindOptions != nil {
		if m.BindOptions.ReadOnlyNonRecursive && !m.ReadOnly {
			return errors.New("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction")
		}
		if m.BindOptions.ReadOnlyForceRecursive {
			if !m.ReadOnly {
				return errors.New("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction")
			}
			if m.BindOptions.Propagation != mount.PropagationRPrivate {
				return errors.New("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction")
			}
		}
	}
	return nil
}

func setValueOnMap(target map[string]string, keyValue string) {
	if k, v, _ := strings.Cut(keyValue, "="); k != "" {
		target[k] = v
	}
}

// volumeSpec is what -v's short syntax says: only Source and Type decide
// whether the spec is a bind (sent in Binds) or a volume.
type volumeSpec struct {
	Type, Source, Target string
	ReadOnly             bool
}

// parseVolumeSpec splits [source:]target[:options] the way docker's
// volumespec does, including Windows drive letters.
func parseVolumeSpec(spec string) (volumeSpec, error) {
	var v volumeSpec
	switch len(spec) {
	case 0:
		return v, errors.New("invalid empty volume spec")
	case 1, 2:
		v.Target = spec
		v.Type = string(mount.TypeVolume)
		return v, nil
	}

	const endOfSpec = rune(0)
	buffer := make([]rune, 0, len(spec))
	for _, char := range spec + string(endOfSpec) {
		switch {
		case isWindowsDrive(buffer, char):
			buffer = append(buffer, char)
		case char == ':' || char == endOfSpec:
			if err := populateVolumeField(char == endOfSpec, buffer, &v); err != nil {
				populateVolumeType(&v)
				return v, fmt.Errorf("invalid spec: %s: %w", spec, err)
			}
			buffer = buffer[:0]
		default:
			buffer = append(buffer, char)
		}
	}
	populateVolumeType(&v)
	return v, nil
}

func isWindowsDrive(buffer []rune, char rune) bool {
	return char == ':' && len(buffer) == 1 && unicode.IsLetter(buffer[0])
}

func populateVolumeField(last bool, buffer []rune, v *volumeSpec) error {
	s := string(buffer)
	switch {
	case len(buffer) == 0:
		return errors.New("empty section between colons")
	case v.Source == "" && last:
		v.Target = s
		return nil
	case v.Source == "":
		v.Source = s
		return nil
	case v.Target == "":
		v.Target = s
		return nil
	case !last:
		return errors.New("too many colons")
	}
	for option := range strings.SplitSeq(s, ",") {
		switch option {
		case "ro":
			v.ReadOnly = true
		case "rw":
			v.ReadOnly = false
		}
	}
	return nil
}

func populateVolumeType(v *volumeSpec) {
	switch {
	case v.Source == "":
		v.Type = string(mount.TypeVolume)
	case isFilePath(v.Source):
		v.Type = string(mount.TypeBind)
	default:
		v.Type = string(mount.TypeVolume)
	}
}

func isFilePath(source string) bool {
	switch source[0] {
	case '.', '/', '~':
		return true
	}
	if len([]rune(source)) == 1 {
		return false
	}
	if strings.HasPrefix(source, `\\`) {
		return true
	}
	first, next := utf8.DecodeRuneInString(source)
	return isWindowsDrive([]rune{first}, rune(source[next]))
}
