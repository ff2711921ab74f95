package stats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of /proc/stat and cpuacct.stat: 100 on
// every Linux architecture Docker supports.
const clockTicks = 100

const nsPerTick = uint64(time.Second) / clockTicks

// Read samples the resource usage of the process pid (a container's
// init) and its cgroups. withNetwork adds the counters of its network
// namespace's interfaces (not for a container sharing the host's or
// another's namespace, as Docker reports them).
func Read(pid int, withNetwork bool) (containertypes.StatsResponse, error) {
	var s containertypes.StatsResponse
	cg, err := cgroupsOf(pid)
	if err != nil {
		return s, err
	}
	s.Read = time.Now()
	if s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs, err = hostCPU(); err != nil {
		return s, err
	}
	total := hostMemory()
	if cg.unified != "" {
		err = readV2(&s, cg.unified, total)
	} else {
		err = readV1(&s, cg, total)
	}
	if err != nil {
		return s, err
	}
	if withNetwork {
		if s.Networks, err = networks(pid); err != nil {
			return s, err
		}
	}
	return s, nil
}

// cgroups are the directories of a process's cgroups: one per v1
// controller, or the unified (v2) one.
type cgroups struct {
	unified string
	v1      map[string]string // controller → directory
}

// cgroupsOf finds pid's cgroup directories from /proc/<pid>/cgroup and
// the mount table.
func cgroupsOf(pid int) (cgroups, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return cgroups{}, err
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if path, ok := strings.CutPrefix(line, "0::"); ok {
				return cgroups{unified: filepath.Join("/sys/fs/cgroup", path)}, nil
			}
		}
		return cgroups{}, fmt.Errorf("process %d has no cgroup v2 entry", pid)
	}
	mounts, err := cgroupV1Mounts()
	if err != nil {
		return cgroups{}, err
	}
	cg := cgroups{v1: map[string]string{}}
	for _, line := range strings.Split(string(data), "\n") {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			if m, ok := mounts[ctl]; ok {
				rel := strings.TrimPrefix(parts[2], m.root)
				cg.v1[ctl] = filepath.Join(m.point, rel)
			}
		}
	}
	return cg, nil
}

type mount struct{ point, root string }

// cgroupV1Mounts maps each cgroup v1 controller to where its hierarchy
// is mounted: read once, as the hierarchies stay where they are while the
// daemon runs (a stats stream samples every container each second).
var cgroupV1Mounts = sync.OnceValues(v1Mounts)

func v1Mounts() (map[string]mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	out := map[string]mount{}
	for _, line := range strings.Split(string(data), "\n") {
		// id parent major:minor root mountpoint options optional... - fstype source superoptions
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 || p[0] != "cgroup" {
			continue
		}
		for _, opt := range strings.Split(p[2], ",") {
			if _, taken := out[opt]; !taken {
				out[opt] = mount{point: f[4], root: f[3]}
			}
		}
	}
	return out, nil
}

func readV1(s *containertypes.StatsResponse, cg cgroups, hostTotal uint64) error {
	if dir, ok := cg.v1["cpuacct"]; ok {
		s.CPUStats.CPUUsage.TotalUsage = readUint(dir, "cpuacct.usage")
		if f := readFields(dir, "cpuacct.usage_percpu"); len(f) > 0 {
			for _, v := range f {
				n, _ := strconv.ParseUint(v, 10, 64)
				s.CPUStats.CPUUsage.PercpuUsage = append(s.CPUStats.CPUUsage.PercpuUsage, n)
			}
		}
		kv := readKeyValues(dir, "cpuacct.stat")
		s.CPUStats.CPUUsage.UsageInUsermode = kv["user"] * nsPerTick
		s.CPUStats.CPUUsage.UsageInKernelmode = kv["system"] * nsPerTick
	}
	if dir, ok := cg.v1["cpu"]; ok {
		kv := readKeyValues(dir, "cpu.stat")
		s.CPUStats.ThrottlingData = containertypes.ThrottlingData{
			Periods: kv["nr_periods"], ThrottledPeriods: kv["nr_throttled"], ThrottledTime: kv["throttled_time"],
		}
	}
	if dir, ok := cg.v1["memory"]; ok {
		m := &s.MemoryStats
		m.Usage = readUint(dir, "memory.usage_in_bytes")
		m.MaxUsage = readUint(dir, "memory.max_usage_in_bytes")
		m.Failcnt = readUint(dir, "memory.failcnt")
		m.Limit = memoryLimit(dir, "memory.limit_in_bytes", hostTotal)
		m.Stats = readKeyValues(dir, "memory.stat")
	}
	if dir, ok := cg.v1["pids"]; ok {
		s.PidsStats = containertypes.PidsStats{Current: readUint(dir, "pids.current"), Limit: readUint(dir, "pids.max")}
	}
	if dir, ok := cg.v1["blkio"]; ok {
		b := &s.BlkioStats
		// CFQ's files are empty on kernels without it; the throttle
		// policy's count every device's I/O, as runc falls back to them.
		b.IoServiceBytesRecursive = blkioV1(dir, "blkio.io_service_bytes_recursive", "blkio.throttle.io_service_bytes_recursive")
		b.IoServicedRecursive = blkioV1(dir, "blkio.io_serviced_recursive", "blkio.throttle.io_serviced_recursive")
	}
	return nil
}

func readV2(s *containertypes.StatsResponse, dir string, hostTotal uint64) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	cpu := readKeyValues(dir, "cpu.stat")
	s.CPUStats.CPUUsage = containertypes.CPUUsage{
		TotalUsage:        cpu["usage_usec"] * 1000,
		UsageInUsermode:   cpu["user_usec"] * 1000,
		UsageInKernelmode: cpu["system_usec"] * 1000,
	}
	s.CPUStats.ThrottlingData = containertypes.ThrottlingData{
		Periods: cpu["nr_periods"], ThrottledPeriods: cpu["nr_throttled"], ThrottledTime: cpu["throttled_usec"] * 1000,
	}
	m := &s.MemoryStats
	m.Usage = readUint(dir, "memory.current")
	m.Limit = memoryLimit(dir, "memory.max", hostTotal)
	m.Stats = readKeyValues(dir, "memory.stat")
	s.PidsStats = containertypes.PidsStats{Current: readUint(dir, "pids.current"), Limit: readUint(dir, "pids.max")}
	// io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
	for _, line := range readLines(dir, "io.stat") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		major, minor, ok := device(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseUint(v, 10, 64)
			e := containertypes.BlkioStatEntry{Major: major, Minor: minor, Value: n}
			switch k {
			case "rbytes", "wbytes":
				e.Op = map[string]string{"rbytes": "read", "wbytes": "write"}[k]
				s.BlkioStats.IoServiceBytesRecursive = append(s.BlkioStats.IoServiceBytesRecursive, e)
			case "rios", "wios":
				e.Op = map[string]string{"rios": "read", "wios": "write"}[k]
				s.BlkioStats.IoServicedRecursive = append(s.BlkioStats.IoServicedRecursive, e)
			}
		}
	}
	return nil
}

// blkioV1 reads the first of files that has entries: "8:0 Read 4096"
// lines, and a "Total" line that Docker leaves out.
func blkioV1(dir string, files ...string) []containertypes.BlkioStatEntry {
	for _, name := range files {
		var out []containertypes.BlkioStatEntry
		for _, line := range readLines(dir, name) {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			major, minor, ok := device(f[0])
			n, err := strconv.ParseUint(f[2], 10, 64)
			if !ok || err != nil {
				continue
			}
			out = append(out, containertypes.BlkioStatEntry{Major: major, Minor: minor, Op: f[1], Value: n})
		}
		if len(out) > 0 {
			return out
		}
	}
	return []containertypes.BlkioStatEntry{}
}

func device(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	ma, err1 := strconv.ParseUint(a, 10, 64)
	mi, err2 := strconv.ParseUint(b, 10, 64)
	return ma, mi, found && err1 == nil && err2 == nil
}

// hostCPU is the host's CPU time (all CPUs, all states but steal and
// guest, in nanoseconds) and its online CPUs, from /proc/stat as
// Docker's collector reads them.
func hostCPU() (total uint64, online uint32, err error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) > 7 && f[0] == "cpu":
			for _, v := range f[1:8] {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return 0, 0, fmt.Errorf("/proc/stat: %w", err)
				}
				total += n
			}
		case len(f) > 0 && strings.HasPrefix(f[0], "cpu"):
			online++
		}
	}
	if total == 0 {
		return 0, 0, errors.New("/proc/stat: no cpu line")
	}
	return total * nsPerTick, online, nil
}

// hostMemory is the host's RAM: the limit Docker reports for a container
// without one (the cgroup's own figure is a huge sentinel).
func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return ^uint64(0)
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// networks reads /proc/<pid>/net/dev: the interfaces of the process's
// network namespace, loopback left out.
func networks(pid int) (map[string]containertypes.NetworkStats, error) {
	lines, err := fileLines(fmt.Sprintf("/proc/%d/net/dev", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]containertypes.NetworkStats{}
	for _, line := range lines {
		name, counters, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		f := strings.Fields(counters)
		if !ok || name == "lo" || len(f) < 12 {
			continue
		}
		n := make([]uint64, 12)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64)
		}
		// rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs drop ...
		out[name] = containertypes.NetworkStats{
			RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11],
		}
	}
	return out, nil
}

// memoryLimit is a cgroup's memory limit, the host's RAM when there is
// none ("max", v1's huge sentinel, or no file at the root cgroup).
func memoryLimit(dir, name string, hostTotal uint64) uint64 {
	f := readFields(dir, name)
	if len(f) == 0 {
		return hostTotal
	}
	n, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return hostTotal
	}
	return min(n, hostTotal)
}

// readUint reads a file holding one number; "max" (no limit) and a
// missing file read as 0.
func readUint(dir, name string) uint64 {
	f := readFields(dir, name)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseUint(f[0], 10, 64)
	return n
}

func readFields(dir, name string) []string {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil
	}
	return strings.Fields(string(data))
}

// readKeyValues reads "key value" lines (memory.stat, cpu.stat).
func readKeyValues(dir, name string) map[string]uint64 {
	out := map[string]uint64{}
	for _, line := range readLines(dir, name) {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

func readLines(dir, name string) []string {
	lines, _ := fileLines(filepath.Join(dir, name))
	return lines
}

func fileLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n"), nil
}
