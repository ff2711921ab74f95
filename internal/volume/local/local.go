package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/mountopt"
)

// Name is the driver's name in the API.
const Name = "local"

// Driver keeps each volume in <root>/<name>/_data.
type Driver struct {
	root string
}

// New returns the driver for volumes under root (created if missing).
func New(root string) (*Driver, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, fmt.Errorf("local volume driver: %w", err)
	}
	return &Driver{root: root}, nil
}

// Name is "local".
func (d *Driver) Name() string { return Name }

// Path is where the volume's data is seen by containers.
func (d *Driver) Path(name string) string { return filepath.Join(d.root, name, "_data") }

// validOpts are the options Docker's local driver accepts; required
// lists, for an option, the others that must come with it.
var (
	validOpts = map[string]bool{"type": true, "device": true, "o": true}
	required  = []struct {
		opt  string
		with []string
	}{
		{"type", []string{"device"}},
		{"device", []string{"type"}},
		{"o", []string{"device", "type"}},
	}
)

// ValidateOpts checks driver options with Docker's messages.
func (d *Driver) ValidateOpts(opts map[string]string) error {
	for k := range opts {
		if !validOpts[k] {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option: %q", k))
		}
	}
	for _, r := range required {
		if _, ok := opts[r.opt]; !ok {
			continue
		}
		for _, w := range r.with {
			if _, ok := opts[w]; !ok {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("missing required option: %q", w))
			}
		}
	}
	if o := opts["o"]; o != "" {
		if _, _, err := mountFlags(o); err != nil {
			return err
		}
	}
	return nil
}

// Create makes the volume's directory.
func (d *Driver) Create(name string, opts map[string]string) error {
	if err := d.ValidateOpts(opts); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(d.root, name), 0o701); err != nil {
		return err
	}
	if err := os.Mkdir(d.Path(name), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// NeedsMount reports whether the options ask for a filesystem mounted
// over the volume's directory.
func NeedsMount(opts map[string]string) bool { return opts["type"] != "" || opts["device"] != "" }

// Mount mounts the volume's filesystem on its directory when its options
// name one; without options it does nothing.
func (d *Driver) Mount(name string, opts map[string]string) error {
	if !NeedsMount(opts) || isMountPoint(d.Path(name)) {
		// Mounted already: a daemon restarted while containers kept
		// running with the volume.
		return nil
	}
	flags, data, err := mountFlags(opts["o"])
	if err != nil {
		return err
	}
	typ, dev := opts["type"], opts["device"]
	if flags&unix.MS_BIND != 0 {
		typ = ""
	}
	if err := unix.Mount(dev, d.Path(name), typ, flags, data); err != nil {
		detail := fmt.Sprintf("mount %s:%s, flags: %#x", dev, d.Path(name), flags)
		if data != "" {
			detail += ", data: " + data
		}
		return fmt.Errorf("error while mounting volume '%s': failed to mount local volume: %s: %w", d.Path(name), detail, err)
	}
	if flags&unix.MS_RDONLY != 0 && flags&unix.MS_BIND != 0 {
		// A bind ignores MS_RDONLY until remounted.
		if err := unix.Mount("", d.Path(name), "", flags|unix.MS_REMOUNT, ""); err != nil {
			unix.Unmount(d.Path(name), unix.MNT_DETACH)
			return err
		}
	}
	return nil
}

// isMountPoint reports whether something is mounted on p.
func isMountPoint(p string) bool {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, 0, &st); err != nil {
		return false
	}
	return st.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && st.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}

// Unmount undoes Mount; it is idempotent.
func (d *Driver) Unmount(name string, opts map[string]string) error {
	if !NeedsMount(opts) {
		return nil
	}
	err := unix.Unmount(d.Path(name), unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount volume %s: %w", name, err)
	}
	return nil
}

// Remove deletes the volume's directory and data.
func (d *Driver) Remove(name string, opts map[string]string) error {
	if err := d.Unmount(name, opts); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(d.root, name)); err != nil {
		return fmt.Errorf("remove volume %s: %w", name, err)
	}
	return nil
}

// mountFlags splits an "o" option into flags and filesystem data.
func mountFlags(o string) (uintptr, string, error) {
	flags, data := mountopt.Parse(strings.Split(o, ","))
	return flags, data, nil
}
