package oci

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Host is what the daemon process holds and what the kernel offers. A spec
// may not ask the runtime for more than the daemon has: runc runs as the
// daemon's child and cannot gain a capability outside the daemon's bounding
// set, nor raise an rlimit above the daemon's hard limit without
// CAP_SYS_RESOURCE. ("docker run --privileged" fails on a host without
// CAP_SYS_RESOURCE for exactly that reason.)
//
// The daemon takes CurrentHost() once; tests build their own.
type Host struct {
	// Caps is the daemon's capability bounding set ("CAP_CHOWN", ...), in
	// capability number order. --privileged and --cap-add ALL mean these.
	Caps []string
	// HardLimits maps an rlimit type ("RLIMIT_NOFILE") to the daemon's hard
	// limit (unix.RLIM_INFINITY for unlimited).
	HardLimits map[string]uint64
	// NrOpen is /proc/sys/fs/nr_open: no process, however privileged, gets
	// an RLIMIT_NOFILE above it. 0 means unknown.
	NrOpen uint64
	// CgroupV2 is true on a unified (cgroup v2 only) hierarchy.
	CgroupV2 bool
	// SwapLimit is true when the memory cgroup can limit swap (v1 without
	// swapaccount=1 cannot: runc fails writing memory.memsw.*).
	SwapLimit bool
	// NoBlkioWeight is true when the block I/O cgroup cannot weigh
	// (v1 without the CFQ or BFQ scheduler's files): Docker then discards
	// --blkio-weight, where runc would fail the start.
	NoBlkioWeight bool
	// Seccomp is true when the kernel supports seccomp filters.
	Seccomp bool
	// AppArmor is true when AppArmor is enabled in the kernel.
	AppArmor bool
	// NumCPU is the number of CPUs available, for --cpus range checks.
	NumCPU int
	// OnlineCPUs and OnlineMems are the host's online CPUs and memory nodes
	// ("0-3"), for --cpuset-cpus/--cpuset-mems checks. Empty means unknown.
	OnlineCPUs, OnlineMems string
}

func (h *Host) hasCap(c string) bool {
	return slices.Contains(h.Caps, c)
}

var currentHost = sync.OnceValues(detectHost)

// CurrentHost describes the running daemon process and kernel. It is
// computed once; what it reads does not change while the daemon runs.
func CurrentHost() (*Host, error) {
	return currentHost()
}

func detectHost() (*Host, error) {
	h := &Host{HardLimits: map[string]uint64{}, NumCPU: numCPU()}

	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, fmt.Errorf("reading the daemon's capabilities: %w", err)
	}
	bnd, err := parseCapBnd(status)
	if err != nil {
		return nil, err
	}
	h.Caps = capsFromMask(bnd)

	for name, res := range rlimitResources {
		var rl unix.Rlimit
		if err := unix.Getrlimit(res, &rl); err == nil {
			h.HardLimits[name] = rl.Max
		}
	}
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		h.NrOpen, _ = strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	}

	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil {
		h.CgroupV2 = st.Type == unix.CGROUP2_SUPER_MAGIC
	}
	if h.CgroupV2 {
		h.SwapLimit = true
	} else if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		h.SwapLimit = true
	}
	if !h.CgroupV2 {
		h.NoBlkioWeight = !anyExists("/sys/fs/cgroup/blkio/blkio.weight", "/sys/fs/cgroup/blkio/blkio.bfq.weight")
	}
	// PR_GET_SECCOMP fails with EINVAL on a kernel built without seccomp.
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != unix.EINVAL {
		h.Seccomp = true
	}
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil {
		h.AppArmor = strings.HasPrefix(string(b), "Y")
	}
	h.OnlineCPUs = readTrimmed("/sys/devices/system/cpu/online")
	h.OnlineMems = readTrimmed("/sys/devices/system/node/online")
	return h, nil
}

func anyExists(paths ...string) bool {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func numCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil && set.Count() > 0 {
		return set.Count()
	}
	return 1
}

// parseCapBnd reads the CapBnd line of a /proc/<pid>/status file.
func parseCapBnd(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != "CapBnd" {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing CapBnd %q: %w", v, err)
		}
		return mask, nil
	}
	return 0, fmt.Errorf("no CapBnd line in /proc/self/status")
}

// rlimitResources maps the OCI rlimit names to the kernel's resource numbers.
var rlimitResources = map[string]int{
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
}
