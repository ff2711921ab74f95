package oci

import (
	"fmt"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

// minMemory is Docker's smallest memory limit: not the kernel's, but what a
// container needs to start at all.
const minMemory = 6 << 20

// ApplyHostConfigDefaults writes into a new container's HostConfig what
// Docker's daemon writes at create (adaptContainerSettings and
// create_unix.go), so that inspect shows the same values: MemorySwap twice
// Memory, the default /dev/shm size, IPC mode "private", the cgroup
// namespace mode of the host's cgroup version, OomKillDisable false, and
// the default masked and read-only paths. Spec applies the same defaults
// to its own copy, so calling this is only about what inspect shows. A nil
// host means CurrentHost().
func ApplyHostConfigDefaults(hc *container.HostConfig, host *Host) {
	if host == nil {
		var err error
		if host, err = CurrentHost(); err != nil {
			host = &Host{}
		}
	}
	if hc.Memory > 0 && hc.MemorySwap == 0 {
		hc.MemorySwap = hc.Memory * 2
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = DefaultShmSize
	}
	if hc.IpcMode.IsEmpty() {
		hc.IpcMode = container.IPCModePrivate
	}
	if hc.CgroupnsMode.IsEmpty() {
		// Docker's daemon default: private on cgroup v2, host on v1, where
		// a private namespace would hide the host paths that v1 tools
		// expect in /proc/self/cgroup.
		hc.CgroupnsMode = container.CgroupnsModeHost
		if host.CgroupV2 {
			hc.CgroupnsMode = container.CgroupnsModePrivate
		}
	}
	if hc.OomKillDisable == nil && !host.CgroupV2 {
		hc.OomKillDisable = ptr(false)
	}
	if hc.MaskedPaths == nil && !hc.Privileged {
		hc.MaskedPaths = DefaultMaskedPaths()
	}
	if hc.ReadonlyPaths == nil && !hc.Privileged {
		hc.ReadonlyPaths = DefaultReadonlyPaths()
	}
}

// ValidateHostConfig makes Docker's create-time checks of a HostConfig
// (moby's validateHostConfig, verifyPlatformContainerSettings and
// verifyPlatformContainerResources), with Docker's messages, so that a bad
// configuration fails at "docker create" with 400 rather than at start.
// It also refuses what berth cannot run: --init, capabilities and rlimits
// beyond what the daemon holds.
//
// Limits the host cannot apply are discarded from hc, each with Docker's
// warning, as Docker's create does.
func ValidateHostConfig(hc *container.HostConfig) ([]string, error) {
	host, err := CurrentHost()
	if err != nil {
		return nil, err
	}
	if err := validateHostConfig(hc, host); err != nil {
		return nil, err
	}
	return discardUnsupported(hc, host), nil
}

// discardUnsupported clears the limits the host's cgroups cannot apply
// and says so with Docker's warnings.
func discardUnsupported(hc *container.HostConfig, host *Host) []string {
	if hc == nil {
		return nil
	}
	var warnings []string
	r := &hc.Resources
	if r.MemorySwap > 0 && !host.SwapLimit {
		warnings = append(warnings, "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.")
		r.MemorySwap = -1
	}
	if r.MemorySwappiness != nil && host.CgroupV2 {
		warnings = append(warnings, "Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.")
		r.MemorySwappiness = nil
	}
	if r.OomKillDisable != nil && *r.OomKillDisable && host.CgroupV2 {
		warnings = append(warnings, "Your kernel does not support OomKillDisable. OomKillDisable discarded.")
		r.OomKillDisable = nil
	}
	if r.BlkioWeight > 0 && host.NoBlkioWeight {
		warnings = append(warnings, "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.")
		r.BlkioWeight = 0
	}
	if len(r.BlkioWeightDevice) > 0 && host.NoBlkioWeight {
		warnings = append(warnings, "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.")
		r.BlkioWeightDevice = nil
	}
	return warnings
}

func invalid(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

func validateHostConfig(hc *container.HostConfig, host *Host) error {
	if hc == nil {
		return nil
	}
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return invalid("can't create 'AutoRemove' container with restart policy")
	}
	if err := container.ValidateRestartPolicy(hc.RestartPolicy); err != nil {
		return invalid("%s", err.Error())
	}
	if _, err := normalizeCaps(hc.CapAdd, host, true); err != nil {
		return invalid("invalid CapAdd: %s", err.Error())
	}
	if _, err := normalizeCaps(hc.CapDrop, host, false); err != nil {
		return invalid("invalid CapDrop: %s", err.Error())
	}
	if !hc.Isolation.IsValid() {
		return invalid("invalid isolation '%s' on linux", hc.Isolation)
	}
	for k := range hc.Annotations {
		if k == "" {
			return invalid("invalid Annotations: the empty string is not permitted as an annotation key")
		}
	}
	if err := validateResources(&hc.Resources, host); err != nil {
		return err
	}

	if !hc.IpcMode.Valid() {
		return invalid("invalid IPC mode: %v", hc.IpcMode)
	}
	if !hc.PidMode.Valid() {
		return invalid("invalid PID mode: %v", hc.PidMode)
	}
	if hc.ShmSize < 0 {
		return invalid("SHM size can not be less than 0")
	}
	if !hc.UTSMode.Valid() {
		return invalid("invalid UTS mode: %v", hc.UTSMode)
	}
	if !hc.CgroupnsMode.Valid() {
		return invalid("invalid cgroup namespace mode: %v", hc.CgroupnsMode)
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return invalid("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if _, err := tmpfsMounts(hc.Tmpfs); err != nil {
		return err
	}
	if _, err := parseSecurityOpts(hc.SecurityOpt); err != nil {
		return err
	}
	for _, rule := range hc.DeviceCgroupRules {
		if _, err := parseDeviceCgroupRule(rule); err != nil {
			return err
		}
	}
	if _, err := rlimits(hc.Ulimits, host); err != nil {
		return err
	}
	return nil
}

func validateResources(r *container.Resources, host *Host) error {
	if r.Memory != 0 && r.Memory < minMemory {
		return invalid("Minimum memory limit allowed is 6MB")
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	// -1 is the API's "unset", as in Docker's fixMemorySwappiness.
	if r.MemorySwappiness != nil && *r.MemorySwappiness != -1 {
		if s := *r.MemorySwappiness; s < 0 || s > 100 {
			return invalid("Invalid value: %v, valid memory swappiness range is 0-100", s)
		}
	}
	if r.MemoryReservation > 0 && r.MemoryReservation < minMemory {
		return invalid("Minimum memory reservation allowed is 6MB")
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if r.NanoCPUs != 0 {
		nc := max(host.NumCPU, 1)
		if r.NanoCPUs < 0 || r.NanoCPUs > int64(nc)*1e9 {
			return invalid("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", nc)
		}
	}
	if r.CPUShares < 0 {
		return invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if err := checkCPUSet(r.CpusetCpus, host.OnlineCPUs, "cpus", "CPUs"); err != nil {
		return err
	}
	if err := checkCPUSet(r.CpusetMems, host.OnlineMems, "mems", "memory nodes"); err != nil {
		return err
	}
	if r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return invalid("Range of blkio weight is from 10 to 1000")
	}
	if r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0 {
		return invalid("Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps")
	}
	return nil
}

// checkCPUSet is Docker's IsCpusetCpusAvailable/IsCpusetMemsAvailable.
func checkCPUSet(requested, online, what, plural string) error {
	if requested == "" {
		return nil
	}
	req, err := parseCPUList(requested)
	if err != nil {
		return invalid("Invalid value %s for cpuset %s: %s", requested, what, err.Error())
	}
	if online == "" {
		return nil
	}
	avail, err := parseCPUList(online)
	if err != nil {
		return nil
	}
	for _, c := range req {
		if !slices.Contains(avail, c) {
			return invalid("Requested %s are not available - requested %s, available: %s", plural, requested, online)
		}
	}
	return nil
}
