package oci

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// mountSpec assembles the mount list as Docker's withMounts does: the
// default mounts a user mount does not replace, then the user mounts
// (tmpfs, the host's /dev/shm for --ipc host, ExtraMounts) sorted so that
// a parent is mounted before what is mounted inside it.
func mountSpec(hc *hostConfig, extra []specs.Mount) ([]specs.Mount, error) {
	var user []specs.Mount
	tmpfs, err := tmpfsMounts(hc.Tmpfs)
	if err != nil {
		return nil, err
	}
	user = append(user, tmpfs...)
	if hc.IpcMode.IsHost() {
		user = append(user, specs.Mount{
			Destination: "/dev/shm", Type: "bind", Source: "/dev/shm",
			Options: []string{"rbind", "rprivate"},
		})
	}
	user = append(user, extra...)
	// A later user mount at the same destination replaces an earlier one:
	// ExtraMounts (binds, /etc/hosts, ...) beat --tmpfs and --ipc host.
	user = dedupeByDestination(user)
	sort.SliceStable(user, func(i, j int) bool {
		return depth(user[i].Destination) < depth(user[j].Destination)
	})

	userDest := map[string]bool{}
	for _, m := range user {
		userDest[path.Clean(m.Destination)] = true
	}
	mountDev := userDest["/dev"]

	var out []specs.Mount
	for _, m := range defaultMounts(hc.ShmSize) {
		switch {
		case userDest[m.Destination]:
			continue
		case mountDev && strings.HasPrefix(m.Destination, "/dev/"):
			continue
		case m.Destination == "/dev/shm" && (hc.IpcMode.IsNone() || hc.IpcMode.IsHost()):
			continue
		}
		if hc.ReadonlyRootfs {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
			default:
				if !slices.Contains(m.Options, "ro") {
					m.Options = append(m.Options, "ro")
				}
			}
		}
		if m.Destination == "/sys" && hc.Privileged {
			m.Options = without(m.Options, "ro")
		}
		if m.Type == "cgroup" && hc.writableCgroups {
			m.Options = without(m.Options, "ro")
		}
		out = append(out, m)
	}
	return append(out, user...), nil
}

func dedupeByDestination(mounts []specs.Mount) []specs.Mount {
	last := map[string]int{}
	for i, m := range mounts {
		last[path.Clean(m.Destination)] = i
	}
	var out []specs.Mount
	for i, m := range mounts {
		if last[path.Clean(m.Destination)] == i {
			out = append(out, m)
		}
	}
	return out
}

// depth is Docker's sortMounts key: the number of path elements.
func depth(p string) int {
	return len(splitPath(path.Clean(p)))
}

func without(list []string, s string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == s })
}

// tmpfsMounts turns HostConfig.Tmpfs into mounts as Docker does: noexec,
// nosuid, nodev and rprivate unless the options say otherwise.
func tmpfsMounts(tmpfs map[string]string) ([]specs.Mount, error) {
	dests := make([]string, 0, len(tmpfs))
	for d := range tmpfs {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	var out []specs.Mount
	for _, dest := range dests {
		if err := validateTmpfsDestination(dest); err != nil {
			return nil, err
		}
		opts := []string{"noexec", "nosuid", "nodev", "rprivate"}
		if data := tmpfs[dest]; data != "" {
			opts = append(opts, strings.Split(data, ",")...)
		}
		merged, err := mergeTmpfsOptions(opts)
		if err != nil {
			return nil, err
		}
		out = append(out, specs.Mount{Destination: dest, Type: "tmpfs", Source: "tmpfs", Options: merged})
	}
	return out, nil
}

func validateTmpfsDestination(dest string) error {
	if path.Clean(dest) == "/" {
		return errdefs.ErrInvalidArgument.WithMessage("invalid specification: destination can't be '/'")
	}
	if !path.IsAbs(dest) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount path: '%s' mount path must be absolute", dest))
	}
	return nil
}

// mountFlagGroups maps each mount flag option to the flag it sets or
// clears, so "exec" after "noexec" wins; propagation options share a key.
var mountFlagGroups = map[string]string{
	"ro": "ro", "rw": "ro",
	"suid": "suid", "nosuid": "suid",
	"dev": "dev", "nodev": "dev",
	"exec": "exec", "noexec": "exec",
	"sync": "sync", "async": "sync",
	"dirsync": "dirsync", "remount": "remount",
	"mand": "mand", "nomand": "mand",
	"atime": "atime", "noatime": "atime",
	"diratime": "diratime", "nodiratime": "diratime",
	"relatime": "relatime", "norelatime": "relatime",
	"strictatime": "strictatime", "nostrictatime": "strictatime",
	"bind": "propagation", "rbind": "propagation",
	"unbindable": "propagation", "runbindable": "propagation",
	"private": "propagation", "rprivate": "propagation",
	"shared": "propagation", "rshared": "propagation",
	"slave": "propagation", "rslave": "propagation",
}

var tmpfsDataOptions = map[string]bool{
	"size": true, "mode": true, "uid": true, "gid": true,
	"nr_inodes": true, "nr_blocks": true, "mpol": true,
}

// mergeTmpfsOptions is moby/sys/mount.MergeTmpfsOptions: the last of
// conflicting options wins, order otherwise kept, unknown data options
// refused.
func mergeTmpfsOptions(options []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(options) - 1; i >= 0; i-- {
		o := options[i]
		if o == "defaults" || o == "" {
			continue
		}
		key, isFlag := mountFlagGroups[o]
		if !isFlag {
			k, _, ok := strings.Cut(o, "=")
			if !ok || !tmpfsDataOptions[k] {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid tmpfs option %q", k))
			}
			key = "data:" + k
		}
		if !seen[key] {
			seen[key] = true
			out = append([]string{o}, out...)
		}
	}
	return out, nil
}
