package cli

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestCPUPercent(t *testing.T) {
	cpu := func(total, system uint64, online uint32, percpu int) container.CPUStats {
		return container.CPUStats{
			CPUUsage:    container.CPUUsage{TotalUsage: total, PercpuUsage: make([]uint64, percpu)},
			SystemUsage: system, OnlineCPUs: online,
		}
	}
	for _, tc := range []struct {
		name      string
		prev, cur container.CPUStats
		want      float64
	}{
		{"half of one of two cores", cpu(1e9, 100e9, 2, 0), cpu(1.5e9, 102e9, 2, 0), 50},
		{"two busy cores", cpu(0, 100e9, 2, 0), cpu(2e9, 102e9, 2, 0), 200},
		{"per-CPU list when online is unknown", cpu(0, 100e9, 0, 4), cpu(1e9, 104e9, 0, 4), 100},
		{"no previous sample", cpu(0, 0, 0, 0), cpu(5e6, 9e12, 2, 0), 0.0001111111111111111},
		{"no system time passed", cpu(1e9, 100e9, 2, 0), cpu(2e9, 100e9, 2, 0), 0},
		{"counter went back (a restart)", cpu(2e9, 100e9, 2, 0), cpu(1e9, 102e9, 2, 0), 0},
	} {
		if got := cpuPercent(tc.prev, tc.cur); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMemUsageNoCache(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mem   container.MemoryStats
		usage uint64
	}{
		{"cgroup v1 drops total_inactive_file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 300, "inactive_file": 100}}, 700},
		{"cgroup v2 drops inactive_file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 100}}, 900},
		{"v1 cache not below usage falls back to inactive_file", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"total_inactive_file": 1000, "inactive_file": 100}}, 900},
		{"cache not below usage", container.MemoryStats{Usage: 1000, Stats: map[string]uint64{"inactive_file": 2000}}, 1000},
		{"no details", container.MemoryStats{Usage: 1000}, 1000},
		{"stopped", container.MemoryStats{}, 0},
	} {
		if got := memUsageNoCache(tc.mem); got != tc.usage {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.usage)
		}
	}
	if got := memPercent(512, 2048); got != 25 {
		t.Errorf("memPercent: %v", got)
	}
	if got := memPercent(512, 0); got != 0 {
		t.Errorf("memPercent without limit: %v", got)
	}
}

func TestBlockAndNetworkIO(t *testing.T) {
	read, write := blockIO(container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
		{Major: 8, Op: "Read", Value: 10}, {Major: 8, Op: "Write", Value: 20},
		{Major: 8, Op: "Sync", Value: 30}, {Major: 8, Op: "Async", Value: 40}, {Major: 8, Op: "Total", Value: 30},
		{Major: 9, Op: "read", Value: 1}, {Major: 9, Op: "write", Value: 2}, {Major: 9, Op: "", Value: 99},
	}})
	if read != 11 || write != 22 {
		t.Errorf("block I/O %d / %d, want 11 / 22", read, write)
	}
	rx, tx := networkIO(map[string]container.NetworkStats{"eth0": {RxBytes: 100, TxBytes: 5}, "eth1": {RxBytes: 1, TxBytes: 50}})
	if rx != 101 || tx != 55 {
		t.Errorf("net I/O %d / %d, want 101 / 55", rx, tx)
	}
}
