package stats

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadV1 reads cgroup v1 files as runc leaves them: CPU in ns and
// ticks, memory with its stat table and a limit capped at the host's,
// pids without a limit, and block I/O from the throttle policy when
// CFQ's files are empty.
func TestReadV1(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"cpuacct/cpuacct.usage":                           "3000000000\n",
		"cpuacct/cpuacct.usage_percpu":                    "2000000000 1000000000 \n",
		"cpuacct/cpuacct.stat":                            "user 250\nsystem 50\n",
		"cpu/cpu.stat":                                    "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
		"memory/memory.usage_in_bytes":                    "1048576\n",
		"memory/memory.max_usage_in_bytes":                "2097152\n",
		"memory/memory.failcnt":                           "0\n",
		"memory/memory.limit_in_bytes":                    "9223372036854771712\n",
		"memory/memory.stat":                              "cache 4096\ntotal_inactive_file 8192\n",
		"pids/pids.current":                               "3\n",
		"pids/pids.max":                                   "max\n",
		"blkio/blkio.io_service_bytes_recursive":          "Total 0\n",
		"blkio/blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\nTotal 12288\n",
	})
	cg := cgroups{v1: map[string]string{}}
	for _, c := range []string{"cpuacct", "cpu", "memory", "pids", "blkio"} {
		cg.v1[c] = filepath.Join(root, c)
	}
	var s containertypes.StatsResponse
	if err := readV1(&s, cg, 16<<30); err != nil {
		t.Fatal(err)
	}
	want := containertypes.CPUUsage{TotalUsage: 3e9, PercpuUsage: []uint64{2e9, 1e9}, UsageInUsermode: 2.5e9, UsageInKernelmode: 0.5e9}
	if got := s.CPUStats.CPUUsage; got.TotalUsage != want.TotalUsage || len(got.PercpuUsage) != 2 || got.PercpuUsage[1] != 1e9 ||
		got.UsageInUsermode != want.UsageInUsermode || got.UsageInKernelmode != want.UsageInKernelmode {
		t.Errorf("cpu %+v, want %+v", got, want)
	}
	if td := s.CPUStats.ThrottlingData; td.Periods != 10 || td.ThrottledPeriods != 2 || td.ThrottledTime != 5000 {
		t.Errorf("throttling %+v", td)
	}
	m := s.MemoryStats
	if m.Usage != 1<<20 || m.MaxUsage != 2<<20 || m.Limit != 16<<30 || m.Stats["total_inactive_file"] != 8192 {
		t.Errorf("memory %+v", m)
	}
	if s.PidsStats.Current != 3 || s.PidsStats.Limit != 0 {
		t.Errorf("pids %+v", s.PidsStats)
	}
	io := s.BlkioStats.IoServiceBytesRecursive
	if len(io) != 3 || io[0] != (containertypes.BlkioStatEntry{Major: 8, Minor: 0, Op: "Read", Value: 4096}) || io[1].Value != 8192 {
		t.Errorf("blkio %+v", io)
	}
}

// TestReadV2 reads the unified hierarchy's files: microseconds, a
// "max" limit, io.stat's key=value pairs.
func TestReadV2(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cpu.stat":       "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n",
		"memory.current": "65536\n",
		"memory.max":     "max\n",
		"memory.stat":    "anon 4096\ninactive_file 1024\n",
		"pids.current":   "2\n",
		"pids.max":       "100\n",
		"io.stat":        "8:16 rbytes=512 wbytes=1024 rios=1 wios=2 dbytes=0 dios=0\n",
	})
	var s containertypes.StatsResponse
	if err := readV2(&s, dir, 8<<30); err != nil {
		t.Fatal(err)
	}
	if u := s.CPUStats.CPUUsage; u.TotalUsage != 1.5e6 || u.UsageInUsermode != 1e6 || u.UsageInKernelmode != 0.5e6 {
		t.Errorf("cpu %+v", u)
	}
	if m := s.MemoryStats; m.Usage != 65536 || m.Limit != 8<<30 || m.Stats["inactive_file"] != 1024 {
		t.Errorf("memory %+v", m)
	}
	if s.PidsStats.Current != 2 || s.PidsStats.Limit != 100 {
		t.Errorf("pids %+v", s.PidsStats)
	}
	io := s.BlkioStats.IoServiceBytesRecursive
	if len(io) != 2 || io[0] != (containertypes.BlkioStatEntry{Major: 8, Minor: 16, Op: "read", Value: 512}) || io[1].Op != "write" || io[1].Value != 1024 {
		t.Errorf("io %+v", io)
	}
}

// TestReadSelf samples this test's own process: the host's CPU time and
// CPU count, its cgroups (whichever version the host runs), its network
// namespace's interfaces without lo.
func TestReadSelf(t *testing.T) {
	s, err := Read(os.Getpid(), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUStats.SystemUsage == 0 || int(s.CPUStats.OnlineCPUs) != runtime.NumCPU() || s.Read.IsZero() {
		t.Errorf("host cpu %d, online %d (want %d), read %v", s.CPUStats.SystemUsage, s.CPUStats.OnlineCPUs, runtime.NumCPU(), s.Read)
	}
	if s.MemoryStats.Limit == 0 || s.MemoryStats.Limit > hostMemory() {
		t.Errorf("memory limit %d, host %d", s.MemoryStats.Limit, hostMemory())
	}
	for name := range s.Networks {
		if name == "lo" || strings.TrimSpace(name) != name {
			t.Errorf("interface %q", name)
		}
	}
}
