package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Resources are the cgroup limits of r on this host, as Spec sets them:
// what an update gives a running container.
func Resources(r *container.Resources) (*specs.LinuxResources, error) {
	host, err := CurrentHost()
	if err != nil {
		return nil, err
	}
	return cgroupResources(r, host)
}

// cgroupResources is Docker's WithResources: memory, CPU, block I/O and
// pids limits from HostConfig.Resources.
func cgroupResources(r *container.Resources, host *Host) (*specs.LinuxResources, error) {
	res := &specs.LinuxResources{}

	mem := specs.LinuxMemory{}
	if r.Memory > 0 {
		mem.Limit = ptr(r.Memory)
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = ptr(r.MemoryReservation)
	}
	if r.MemorySwap > 0 && host.SwapLimit {
		mem.Swap = ptr(r.MemorySwap)
	}
	// cgroup v2 has neither swappiness nor an OOM-killer switch: Docker
	// discards both there, and runc would refuse them.
	if r.MemorySwappiness != nil && *r.MemorySwappiness >= 0 && !host.CgroupV2 {
		mem.Swappiness = ptr(uint64(*r.MemorySwappiness))
	}
	if r.OomKillDisable != nil && !host.CgroupV2 {
		mem.DisableOOMKiller = ptr(*r.OomKillDisable)
	}
	if mem != (specs.LinuxMemory{}) {
		res.Memory = &mem
	}

	cpu := specs.LinuxCPU{}
	if r.CPUShares != 0 {
		if r.CPUShares < 0 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid CPU shares (%d): value must be a positive integer", r.CPUShares))
		}
		cpu.Shares = ptr(uint64(r.CPUShares))
	}
	cpu.Cpus = r.CpusetCpus
	cpu.Mems = r.CpusetMems
	if r.NanoCPUs > 0 {
		// 100ms period, the quota that many CPUs' worth of it
		// (Documentation/scheduler/sched-bwc.txt), as Docker.
		const period = 100000
		cpu.Period = ptr(uint64(period))
		cpu.Quota = ptr(r.NanoCPUs * period / 1e9)
	}
	if r.CPUPeriod != 0 {
		cpu.Period = ptr(uint64(r.CPUPeriod))
	}
	if r.CPUQuota != 0 {
		cpu.Quota = ptr(r.CPUQuota)
	}
	if r.CPURealtimePeriod != 0 {
		cpu.RealtimePeriod = ptr(uint64(r.CPURealtimePeriod))
	}
	if r.CPURealtimeRuntime != 0 {
		cpu.RealtimeRuntime = ptr(r.CPURealtimeRuntime)
	}
	if cpu != (specs.LinuxCPU{}) {
		res.CPU = &cpu
	}

	if r.PidsLimit != nil {
		// 0 and negative mean unlimited in the API; runc wants -1.
		limit := *r.PidsLimit
		if limit <= 0 {
			limit = -1
		}
		res.Pids = &specs.LinuxPids{Limit: ptr(limit)}
	}

	bio, err := blockIO(r, host)
	if err != nil {
		return nil, err
	}
	res.BlockIO = bio
	return res, nil
}

func ptr[T any](v T) *T { return &v }

func blockIO(r *container.Resources, host *Host) (*specs.LinuxBlockIO, error) {
	bio := &specs.LinuxBlockIO{}
	empty := true
	weights := r.BlkioWeightDevice
	if host.NoBlkioWeight {
		weights = nil
	} else if r.BlkioWeight != 0 {
		bio.Weight = ptr(r.BlkioWeight)
		empty = false
	}
	for _, wd := range weights {
		major, minor, err := deviceNumbers(wd.Path)
		if err != nil {
			return nil, err
		}
		d := specs.LinuxWeightDevice{Weight: ptr(wd.Weight)}
		d.Major, d.Minor = major, minor
		bio.WeightDevice = append(bio.WeightDevice, d)
		empty = false
	}
	for _, t := range []struct {
		in  []*blkiodev.ThrottleDevice
		out *[]specs.LinuxThrottleDevice
	}{
		{r.BlkioDeviceReadBps, &bio.ThrottleReadBpsDevice},
		{r.BlkioDeviceWriteBps, &bio.ThrottleWriteBpsDevice},
		{r.BlkioDeviceReadIOps, &bio.ThrottleReadIOPSDevice},
		{r.BlkioDeviceWriteIOps, &bio.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.in {
			major, minor, err := deviceNumbers(td.Path)
			if err != nil {
				return nil, err
			}
			d := specs.LinuxThrottleDevice{Rate: td.Rate}
			d.Major, d.Minor = major, minor
			*t.out = append(*t.out, d)
			empty = false
		}
	}
	if empty {
		return nil, nil
	}
	return bio, nil
}

func deviceNumbers(p string) (int64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return 0, 0, fmt.Errorf("%w", &os.PathError{Op: "stat", Path: p, Err: err})
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

// rlimits turns HostConfig.Ulimits into OCI rlimits. Docker sets none by
// default. A hard limit above the daemon's own cannot be granted without
// CAP_SYS_RESOURCE (runc's setrlimit would fail with EPERM and a message
// that names neither the limit nor the reason), so it is refused here.
func rlimits(ulimits []*container.Ulimit, host *Host) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	index := map[string]int{}
	for _, ul := range ulimits {
		if ul == nil {
			continue
		}
		typ := "RLIMIT_" + strings.ToUpper(ul.Name)
		if _, ok := rlimitResources[typ]; !ok {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid ulimit type: %s", ul.Name))
		}
		// -1 is "unlimited" in the API, RLIM_INFINITY for the kernel.
		soft, hard := uint64(ul.Soft), uint64(ul.Hard)
		if soft > hard {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ulimit soft limit must be less than or equal to hard limit: %d > %d", ul.Soft, ul.Hard))
		}
		if err := checkRlimit(ul.Name, typ, hard, host); err != nil {
			return nil, err
		}
		rl := specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard}
		if i, dup := index[typ]; dup {
			out[i] = rl // the last one wins, as the CLI's --ulimit does
			continue
		}
		index[typ] = len(out)
		out = append(out, rl)
	}
	return out, nil
}

func checkRlimit(name, typ string, hard uint64, host *Host) error {
	if typ == "RLIMIT_NOFILE" && host.NrOpen > 0 && hard > host.NrOpen {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
			"ulimit %s: hard limit %s exceeds the kernel's maximum of %d open files (fs.nr_open)",
			name, limitString(hard), host.NrOpen))
	}
	if host.hasCap("CAP_SYS_RESOURCE") {
		return nil
	}
	max, known := host.HardLimits[typ]
	if !known || max == unix.RLIM_INFINITY || hard <= max {
		return nil
	}
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(
		"ulimit %s: hard limit %s exceeds the daemon's own hard limit %d; raising it needs CAP_SYS_RESOURCE, which the daemon does not have",
		name, limitString(hard), max))
}

func limitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// deviceCgroupRuleRE is Docker's format for --device-cgroup-rule.
var deviceCgroupRuleRE = regexp.MustCompile(`^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$`)

func parseDeviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	m := deviceCgroupRuleRE.FindStringSubmatch(rule)
	if m == nil {
		return specs.LinuxDeviceCgroup{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid device cgroup rule format: '%s'", rule))
	}
	num := func(s string) (*int64, error) {
		if s == "*" {
			return ptr(int64(-1)), nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid device cgroup rule format: '%s'", rule))
		}
		return &n, nil
	}
	major, err := num(m[2])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(m[3])
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: m[1], Major: major, Minor: minor, Access: m[4]}, nil
}

// devices is Docker's WithDevices: the device nodes to create and the
// device cgroup rules. Privileged containers get every host device and
// an allow-all rule; others the defaults plus --device and
// --device-cgroup-rule.
func devices(hc *container.HostConfig) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var devs []specs.LinuxDevice
	if hc.Privileged {
		hostDevs, err := hostDevices("/dev")
		if err != nil {
			return nil, nil, err
		}
		devs = append(devs, hostDevs...)
		for _, dm := range hc.Devices {
			if dm.PathOnHost == dm.PathInContainer {
				continue // already there with all the others
			}
			d, _, err := devicesFromPath(dm.PathOnHost, dm.PathInContainer, "rwm")
			if err != nil {
				return nil, nil, err
			}
			devs = append(devs, d...)
		}
		return devs, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}, nil
	}

	rules := defaultDeviceRules()
	for _, dm := range hc.Devices {
		d, r, err := devicesFromPath(dm.PathOnHost, dm.PathInContainer, dm.CgroupPermissions)
		if err != nil {
			return nil, nil, err
		}
		devs = append(devs, d...)
		rules = append(rules, r...)
	}
	for _, rule := range hc.DeviceCgroupRules {
		r, err := parseDeviceCgroupRule(rule)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, r)
	}
	return devs, rules, nil
}

var errNotADevice = errors.New("not a device node")

func deviceFromPath(p string) (*specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, err
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		typ = "b"
	case unix.S_IFCHR:
		typ = "c"
	default:
		return nil, errNotADevice
	}
	mode := os.FileMode(st.Mode &^ unix.S_IFMT)
	return &specs.LinuxDevice{
		Type:     typ,
		Path:     p,
		Major:    int64(unix.Major(st.Rdev)),
		Minor:    int64(unix.Minor(st.Rdev)),
		FileMode: &mode,
		UID:      ptr(st.Uid),
		GID:      ptr(st.Gid),
	}, nil
}

// hostDevices lists the device nodes under dir as containerd's
// HostDevices does (skipping pts, shm, fd, mqueue and the console, which
// the runtime provides itself).
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []specs.LinuxDevice
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				continue
			}
			sub, err := hostDevices(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		if e.Name() == "console" {
			continue
		}
		d, err := deviceFromPath(p)
		if errors.Is(err, errNotADevice) || errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, nil
}

// devicesFromPath is Docker's DevicesFromPath for --device: a device
// node (symlinks on the host followed), or every device under a
// directory.
func devicesFromPath(onHost, inContainer, perms string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	if inContainer == "" {
		inContainer = onHost
	}
	if perms == "" {
		perms = "rwm"
	}
	resolved := onHost
	if fi, err := os.Lstat(onHost); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if r, err := filepath.EvalSymlinks(onHost); err == nil {
			resolved = r
		}
	}
	rule := func(d *specs.LinuxDevice) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: ptr(d.Major), Minor: ptr(d.Minor), Access: perms}
	}
	d, err := deviceFromPath(resolved)
	if err == nil {
		d.Path = inContainer
		return []specs.LinuxDevice{*d}, []specs.LinuxDeviceCgroup{rule(d)}, nil
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	if errors.Is(err, errNotADevice) {
		if fi, e := os.Stat(resolved); e == nil && fi.IsDir() {
			_ = filepath.WalkDir(resolved, func(p string, _ os.DirEntry, _ error) error {
				cd, e := deviceFromPath(p)
				if e != nil {
					return nil
				}
				cd.Path = strings.Replace(p, resolved, inContainer, 1)
				devs = append(devs, *cd)
				rules = append(rules, rule(cd))
				return nil
			})
		}
	}
	if len(devs) > 0 {
		return devs, rules, nil
	}
	return nil, nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error gathering device information while adding custom device %q: %s", onHost, err))
}
