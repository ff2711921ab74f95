package oci

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultShmSize is the size of a container's /dev/shm when HostConfig
// does not say (64 MiB, as in Docker).
const DefaultShmSize int64 = 64 << 20

// defaultMounts are Docker's default mounts (moby oci.DefaultLinuxSpec),
// in Docker's order. The "cgroup" mount is resolved by the runtime: on
// cgroup v2 with a private cgroup namespace it is the namespace's own
// cgroup2 tree; on v1 runc and crun build a tmpfs with a bind of the
// container's own cgroup of every controller.
func defaultMounts(shmSize int64) []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize, 10)}},
	}
}

// DefaultMaskedPaths are the paths Docker hides from a container (moby
// oci.defaultLinuxMaskedPaths), including the per-CPU thermal_throttle
// directories this host has.
func DefaultMaskedPaths() []string {
	return slices.Clone(defaultMaskedPaths())
}

// defaultMaskedPaths is computed once: the host's CPUs do not change while
// the daemon runs.
var defaultMaskedPaths = sync.OnceValue(func() []string {
	paths := []string{
		"/proc/asound",
		"/proc/acpi",
		"/proc/interrupts",
		"/proc/kcore",
		"/proc/keys",
		"/proc/latency_stats",
		"/proc/timer_list",
		"/proc/timer_stats",
		"/proc/sched_debug",
		"/proc/scsi",
		"/sys/firmware",
		"/sys/devices/virtual/powercap",
	}
	for _, cpu := range possibleCPUs() {
		p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", cpu)
		if _, err := os.Stat(p); err == nil {
			paths = append(paths, p)
		}
	}
	return paths
})

// DefaultReadonlyPaths are the paths Docker makes read-only in a container.
func DefaultReadonlyPaths() []string {
	return []string{
		"/proc/bus",
		"/proc/fs",
		"/proc/irq",
		"/proc/sys",
		"/proc/sysrq-trigger",
	}
}

func possibleCPUs() []int {
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return nil
	}
	cpus, err := parseCPUList(strings.TrimSpace(string(b)))
	if err != nil {
		return nil
	}
	return cpus
}

// parseCPUList parses the kernel's list format ("0-3,5,7-8").
func parseCPUList(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("invalid format: %s", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("invalid format: %s", s)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("invalid format: %s", s)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

func devRule(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	return specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Major: &major, Minor: &minor, Access: access}
}

// defaultDeviceRules is Docker's device cgroup: deny everything, then
// allow the devices the runtime creates in every container (null, zero,
// full, random, urandom, tty, console), and deny fuse explicitly. Docker
// leaves "full" (1:7) and the ptys to runc's own defaults; berth states
// "full" so that no runtime's defaults are relied on for a device the
// spec's /dev has.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		devRule(true, "c", 1, 5, "rwm"),     // /dev/zero
		devRule(true, "c", 1, 3, "rwm"),     // /dev/null
		devRule(true, "c", 1, 9, "rwm"),     // /dev/urandom
		devRule(true, "c", 1, 8, "rwm"),     // /dev/random
		devRule(true, "c", 1, 7, "rwm"),     // /dev/full
		devRule(true, "c", 5, 0, "rwm"),     // /dev/tty
		devRule(true, "c", 5, 1, "rwm"),     // /dev/console
		devRule(false, "c", 10, 229, "rwm"), // /dev/fuse
	}
}
