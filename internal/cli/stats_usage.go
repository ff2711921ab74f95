package cli

import (
	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/api/types/container"
)

// usageEntry turns one stats sample into the numbers "stats" shows, with
// docker's definitions of each.
func usageEntry(v container.StatsResponse) formatter.StatsEntry {
	mem := memUsageNoCache(v.MemoryStats)
	rx, tx := networkIO(v.Networks)
	read, write := blockIO(v.BlkioStats)
	return formatter.StatsEntry{
		Name:             v.Name,
		ID:               v.ID,
		CPUPercentage:    cpuPercent(v.PreCPUStats, v.CPUStats),
		Memory:           mem,
		MemoryLimit:      v.MemoryStats.Limit,
		MemoryPercentage: memPercent(mem, v.MemoryStats.Limit),
		NetworkRx:        rx,
		NetworkTx:        tx,
		BlockRead:        read,
		BlockWrite:       write,
		PidsCurrent:      v.PidsStats.Current,
	}
}

// cpuPercent is the container's share of the host's CPU time between the
// two samples, scaled by the online CPUs: a container busy on two cores
// shows 200%.
func cpuPercent(prev, cur container.CPUStats) float64 {
	cpuDelta := float64(cur.CPUUsage.TotalUsage) - float64(prev.CPUUsage.TotalUsage)
	systemDelta := float64(cur.SystemUsage) - float64(prev.SystemUsage)
	cpus := float64(cur.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(cur.CPUUsage.PercpuUsage))
	}
	if cpuDelta <= 0 || systemDelta <= 0 {
		return 0
	}
	return cpuDelta / systemDelta * cpus * 100
}

// memUsageNoCache leaves out the inactive page cache, which the kernel
// can reclaim at once: total_inactive_file on cgroup v1, inactive_file on
// v2 (the definition of docker, cadvisor and containerd's CRI).
func memUsageNoCache(mem container.MemoryStats) uint64 {
	if v, v1 := mem.Stats["total_inactive_file"]; v1 && v < mem.Usage {
		return mem.Usage - v
	}
	if v := mem.Stats["inactive_file"]; v < mem.Usage {
		return mem.Usage - v
	}
	return mem.Usage
}

// memPercent is usage over the limit; a stopped container has no limit.
func memPercent(usage, limit uint64) float64 {
	if limit == 0 {
		return 0
	}
	return float64(usage) / float64(limit) * 100
}

// blockIO sums the read and write bytes over all devices.
func blockIO(blkio container.BlkioStats) (read, write uint64) {
	for _, e := range blkio.IoServiceBytesRecursive {
		if e.Op == "" {
			continue
		}
		switch e.Op[0] {
		case 'r', 'R':
			read += e.Value
		case 'w', 'W':
			write += e.Value
		}
	}
	return read, write
}

// networkIO sums received and sent bytes over all interfaces.
func networkIO(networks map[string]container.NetworkStats) (rx, tx uint64) {
	for _, n := range networks {
		rx += n.RxBytes
		tx += n.TxBytes
	}
	return rx, tx
}
