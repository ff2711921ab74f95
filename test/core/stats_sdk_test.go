package core

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestStatsAPI: GET /containers/{id}/stats through the Go SDK. With the
// previous sample asked for, one answer whose precpu comes from a sample
// before it, so a CPU percentage can be computed, showing a busy
// container's CPU time, its memory, its process and its interface;
// without, an answer with no precpu; the stream a sample each second,
// each carrying the one before; a container that does not run, zeros
// under its name.
func TestStatsAPI(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	cli := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	busy := e.Name(t, "busy")
	e.Docker().Run(t, "run", "-d", "--name", busy, "busybox", "sh", "-c", "while :; do :; done").OK(t)

	s := readStats(ctx, t, cli, busy, client.ContainerStatsOptions{IncludePreviousSample: true}, 1)[0]
	cpu, pre := s.CPUStats, s.PreCPUStats
	if s.Name != "/"+busy || s.PreRead.IsZero() || !s.Read.After(s.PreRead) {
		t.Errorf("name %q, read %v, preread %v", s.Name, s.Read, s.PreRead)
	}
	if pre.CPUUsage.TotalUsage == 0 || cpu.CPUUsage.TotalUsage <= pre.CPUUsage.TotalUsage ||
		cpu.SystemUsage <= pre.SystemUsage || cpu.OnlineCPUs == 0 {
		t.Errorf("a busy container's CPU: %+v, before %+v", cpu, pre)
	}
	if s.MemoryStats.Usage == 0 || s.MemoryStats.Limit == 0 || s.PidsStats.Current < 1 {
		t.Errorf("memory %+v, pids %+v", s.MemoryStats, s.PidsStats)
	}
	if _, ok := s.Networks["eth0"]; !ok {
		t.Errorf("networks %+v", s.Networks)
	}

	one := readStats(ctx, t, cli, busy, client.ContainerStatsOptions{}, 1)[0]
	if one.CPUStats.CPUUsage.TotalUsage == 0 || one.PreCPUStats.CPUUsage.TotalUsage != 0 || !one.PreRead.IsZero() {
		t.Errorf("one-shot: cpu %+v, precpu %+v, preread %v", one.CPUStats.CPUUsage, one.PreCPUStats.CPUUsage, one.PreRead)
	}

	stream := readStats(ctx, t, cli, busy, client.ContainerStatsOptions{Stream: true}, 2)
	if !stream[1].PreRead.Equal(stream[0].Read) || stream[1].PreCPUStats.CPUUsage.TotalUsage != stream[0].CPUStats.CPUUsage.TotalUsage {
		t.Errorf("stream: second sample's precpu is not the first: %v vs %v", stream[1].PreRead, stream[0].Read)
	}

	idle := e.Name(t, "created")
	e.Docker().Run(t, "create", "--name", idle, "busybox", "true").OK(t)
	z := readStats(ctx, t, cli, idle, client.ContainerStatsOptions{}, 1)[0]
	if z.Name != "/"+idle || z.CPUStats.CPUUsage.TotalUsage != 0 || z.MemoryStats.Usage != 0 || z.PidsStats.Current != 0 {
		t.Errorf("a created container: %+v", z)
	}
}

// readStats reads n samples of a container's stats.
func readStats(ctx context.Context, t *testing.T, cli *client.Client, name string, opts client.ContainerStatsOptions, n int) []containertypes.StatsResponse {
	t.Helper()
	res, err := cli.ContainerStats(ctx, name, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	out := make([]containertypes.StatsResponse, n)
	for i := range out {
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	return out
}

// TestUpdateResources: docker update changes a running container's
// limits at once, as its cgroups (read through the stats API) show; a
// memory limit below what the container uses is refused by the kernel,
// and the container keeps its old limit, in its cgroup and its config.
func TestUpdateResources(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	cli := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "--memory", "128m", "busybox", "sleep", "1000").OK(t)
		limits := func() (mem, pids uint64) {
			s := readStats(ctx, t, cli, name, client.ContainerStatsOptions{}, 1)[0]
			return s.MemoryStats.Limit, s.PidsStats.Limit
		}
		if mem, _ := limits(); mem != 128<<20 {
			t.Fatalf("memory limit at start %d", mem)
		}
		c.Run(t, "update", "--memory", "64m", "--memory-swap", "96m", "--pids-limit", "50", name).Assert(t, 0, name)
		if mem, pids := limits(); mem != 64<<20 || pids != 50 {
			t.Errorf("after update: memory limit %d, pids limit %d", mem, pids)
		}
		if hc := e.Inspect(t, name).HostConfig; hc.Memory != 64<<20 || hc.MemorySwap != 96<<20 || hc.PidsLimit == nil || *hc.PidsLimit != 50 {
			t.Errorf("inspect: memory %d, swap %d, pids %v", hc.Memory, hc.MemorySwap, hc.PidsLimit)
		}

		full := e.Name(t, "full")
		c.Run(t, "run", "-d", "--name", full, "--memory", "64m", "--memory-swap", "64m", "busybox", "sh", "-c",
			"dd if=/dev/zero of=/dev/shm/f bs=1M count=30 && echo filled && sleep 1000").OK(t)
		e.WaitLog(t, full, "filled", 30*time.Second)
		c.Run(t, "update", "--memory", "8m", "--memory-swap", "8m", full).Assert(t, 1, "Cannot update container")
		if mem := readStats(ctx, t, cli, full, client.ContainerStatsOptions{}, 1)[0].MemoryStats.Limit; mem != 64<<20 {
			t.Errorf("memory limit after a refused update: %d", mem)
		}
		if hc := e.Inspect(t, full).HostConfig; hc.Memory != 64<<20 {
			t.Errorf("config after a refused update: memory %d", hc.Memory)
		}
	})
}
