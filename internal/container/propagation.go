package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Shared and slave bind propagation only works when the host mount that
// holds the bind's source propagates: Docker refuses the start
// otherwise, with these messages, and makes the container's root
// propagate too.

// checkPropagation refuses a bind whose propagation the host mount of
// its source cannot give.
func checkPropagation(src, propagation string) error {
	var needSlaveOK bool
	switch propagation {
	case "shared", "rshared":
	case "slave", "rslave":
		needSlaveOK = true
	default:
		return nil
	}
	mnt, optional, err := sourceMount(src)
	if err != nil {
		return err
	}
	shared := strings.Contains(optional, "shared:")
	slave := strings.Contains(optional, "master:")
	switch {
	case !needSlaveOK && !shared:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("path %s is mounted on %s but it is not a shared mount", src, mnt))
	case needSlaveOK && !shared && !slave:
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("path %s is mounted on %s but it is not a shared or slave mount", src, mnt))
	}
	return nil
}

// sourceMount finds the mount that holds path (by the mount ID the
// kernel reports for it) and the optional fields of its mountinfo line,
// where propagation shows ("shared:N", "master:N").
func sourceMount(path string) (mountpoint, optional string, err error) {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, 0, unix.STATX_MNT_ID, &st); err != nil {
		return "", "", &os.PathError{Op: "statx", Path: path, Err: err}
	}
	if st.Mask&unix.STATX_MNT_ID == 0 {
		return "", "", fmt.Errorf("the kernel does not report the mount of %s", path)
	}
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	id := strconv.FormatUint(st.Mnt_id, 10)
	for _, line := range strings.Split(string(data), "\n") {
		// id parent major:minor root mountpoint options optional... - fstype source superoptions
		fields := strings.Fields(line)
		if len(fields) < 7 || fields[0] != id {
			continue
		}
		var opt []string
		for _, f := range fields[6:] {
			if f == "-" {
				break
			}
			opt = append(opt, f)
		}
		return fields[4], strings.Join(opt, " "), nil
	}
	return "", "", fmt.Errorf("mount %s of %s is not in the mount table", id, path)
}

// rootfsPropagation is the propagation the container's root needs for
// its mounts' propagation to work, as Docker sets it: shared if a bind
// is shared, else rslave if one is a slave; "" leaves the runtime's.
func rootfsPropagation(mounts []specs.Mount) string {
	out := ""
	for _, m := range mounts {
		for _, o := range m.Options {
			switch o {
			case "shared", "rshared":
				return "shared"
			case "slave", "rslave":
				out = "rslave"
			}
		}
	}
	return out
}
