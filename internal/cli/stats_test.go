package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// statsEngine is a daemon with containers and their stats samples: it
// lists them, answers their stats (once, or a sample every 100ms when
// streaming), and sends the events the test hands it.
type statsEngine struct {
	host string

	mu         sync.Mutex
	containers []container.Summary
	samples    map[string]container.StatsResponse // by name and by full ID
	events     chan events.Message
}

func newStatsEngine(t *testing.T) *statsEngine {
	e := &statsEngine{samples: map[string]container.StatsResponse{}, events: make(chan events.Message, 10)}
	e.host = startFakeEngine(t, "1.50", http.HandlerFunc(e.serve))
	return e
}

// run adds a container with its sample; running or not.
func (e *statsEngine) run(id, name string, running bool, v container.StatsResponse) {
	e.mu.Lock()
	defer e.mu.Unlock()
	state := container.StateExited
	if running {
		state = container.StateRunning
	}
	e.containers = append([]container.Summary{{ID: id, Names: []string{"/" + name}, State: state}}, e.containers...)
	v.ID, v.Name = id, "/"+name
	e.samples[id], e.samples[name] = v, v
}

func (e *statsEngine) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path[strings.Index(r.URL.Path[1:], "/")+1:] // without /v1.xx
	switch {
	case path == "/containers/json":
		e.mu.Lock()
		var list []container.Summary
		for _, c := range e.containers {
			if c.State == container.StateRunning || r.URL.Query().Get("all") == "1" {
				list = append(list, c)
			}
		}
		e.mu.Unlock()
		_ = json.NewEncoder(w).Encode(list)
	case path == "/events":
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for {
			select {
			case ev := <-e.events:
				_ = json.NewEncoder(w).Encode(ev)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case strings.HasPrefix(path, "/containers/") && strings.HasSuffix(path, "/stats"):
		key := strings.TrimSuffix(strings.TrimPrefix(path, "/containers/"), "/stats")
		e.mu.Lock()
		v, ok := e.samples[key]
		if !ok {
			for id, s := range e.samples {
				if strings.HasPrefix(id, key) {
					v, ok = s, true
				}
			}
		}
		e.mu.Unlock()
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"No such container: ` + key + `"}`))
			return
		}
		for {
			_ = json.NewEncoder(w).Encode(v)
			w.(http.Flusher).Flush()
			if r.URL.Query().Get("stream") != "true" {
				return
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// busySample is a container on cgroup v1 with two networks and two disks:
// 50% CPU of two cores, 8MiB used (10MiB less 2MiB inactive page cache) of
// 2GiB, 2.2kB in and 500B out, 8.19kB read and 1.05MB written, 3 PIDs.
func busySample() container.StatsResponse {
	return container.StatsResponse{
		PreCPUStats: container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 1e9}, SystemUsage: 100e9, OnlineCPUs: 2},
		CPUStats:    container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 1.5e9}, SystemUsage: 102e9, OnlineCPUs: 2},
		MemoryStats: container.MemoryStats{Usage: 10 << 20, Limit: 2 << 30, Stats: map[string]uint64{"total_inactive_file": 2 << 20, "inactive_file": 1 << 20}},
		Networks: map[string]container.NetworkStats{
			"eth0": {RxBytes: 1500, TxBytes: 500},
			"eth1": {RxBytes: 700},
		},
		BlkioStats: container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{
			{Major: 8, Op: "Read", Value: 4096}, {Major: 8, Op: "Write", Value: 1 << 20},
			{Major: 8, Op: "Sync", Value: 7}, {Major: 8, Op: "Total", Value: 1<<20 + 4096},
			{Major: 9, Op: "read", Value: 4096}, {Major: 9, Op: "", Value: 99},
		}},
		PidsStats: container.PidsStats{Current: 3},
	}
}

// idleSample is a container on cgroup v2 whose first sample has no
// previous one: 0% CPU, 1.5MiB of 15.5GiB.
func idleSample() container.StatsResponse {
	return container.StatsResponse{
		CPUStats:    container.CPUStats{CPUUsage: container.CPUUsage{TotalUsage: 5e6, PercpuUsage: []uint64{1, 2, 3, 4}}, SystemUsage: 9e12},
		MemoryStats: container.MemoryStats{Usage: 1<<20 + 1<<19 + 4096, Limit: 31 << 29, Stats: map[string]uint64{"inactive_file": 4096}},
		PidsStats:   container.PidsStats{Current: 1},
	}
}

const (
	busyID    = "4dc62748da35cc23adf7224066db939a1996d17272c8e64f3da69ce125ea3b23"
	idleID    = "dc56d01df122c7751b43d5e5869a8ed0425abedf9c6cee922583f7d7ffafa305"
	stoppedID = "283128f196d249d15ba190bcb1921ba516abe5aac6e4255e86f25e3ba1cf522f"
)

func newBusyStatsEngine(t *testing.T) *statsEngine {
	e := newStatsEngine(t)
	e.run(stoppedID, "stopped", false, container.StatsResponse{})
	e.run(idleID, "web", true, idleSample())
	e.run(busyID, "busy", true, busySample())
	return e
}

// The expected output is docker 28.2.2's against the same engine.
func TestStatsNoStream(t *testing.T) {
	e := newBusyStatsEngine(t)
	for _, tc := range []struct {
		args           []string
		stdout, stderr string
		code           int
	}{
		{[]string{"stats", "--no-stream"}, `CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O         PIDS
4dc62748da35   busy      50.00%    8MiB / 2GiB         0.39%     2.2kB / 500B   8.19kB / 1.05MB   3
dc56d01df122   web       0.00%     1.5MiB / 15.5GiB    0.01%     0B / 0B        0B / 0B           1
`, "", 0},
		{[]string{"container", "stats", "--no-stream", "-a"}, `CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        BLOCK I/O         PIDS
4dc62748da35   busy      50.00%    8MiB / 2GiB         0.39%     2.2kB / 500B   8.19kB / 1.05MB   3
dc56d01df122   web       0.00%     1.5MiB / 15.5GiB    0.01%     0B / 0B        0B / 0B           1
283128f196d2   stopped   0.00%     0B / 0B             0.00%     0B / 0B        0B / 0B           0
`, "", 0},
		{[]string{"stats", "--no-stream", "--no-trunc", "--format", "table {{.ID}}\t{{.Container}}"}, `CONTAINER ID                                                       CONTAINER
` + busyID + `   4dc62748da35
` + idleID + `   dc56d01df122
`, "", 0},
		{[]string{"stats", "--no-stream", "--format", "json", "busy"}, `{"BlockIO":"8.19kB / 1.05MB","CPUPerc":"50.00%","Container":"busy","ID":"4dc62748da35","MemPerc":"0.39%","MemUsage":"8MiB / 2GiB","Name":"busy","NetIO":"2.2kB / 500B","PIDs":"3"}
`, "", 0},
		// Each name is a row of its own, even for the same container; a
		// name given twice is one row.
		{[]string{"stats", "--no-stream", "--format", "{{.Container}}|{{.Name}}|{{.ID}}|{{.PIDs}}", "web", "stopped", "dc56", "web"}, "web|web|dc56d01df122|1\nstopped|stopped|283128f196d2|0\ndc56|web|dc56d01df122|1\n", "", 0},
		{[]string{"stats", "--no-stream", "web", "nosuch", "other"}, "",
			"Error response from daemon: No such container: nosuch\nError response from daemon: No such container: other\n", 1},
		{[]string{"stats", "--no-stream", "--format", "{{.Nope}}", "web"}, "",
			"template parsing error: template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.statsContext\n", 1},
		{[]string{"stats", "--no-stream", "--format", "{{", "web"}, "", "template parsing error: template: :1: unclosed action\n", 1},
	} {
		stdout, stderr, code := runCLI(t, nil, append([]string{"-H", e.host}, tc.args...)...)
		if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
			t.Errorf("%s: exit %d\n--- stdout\n%s--- want\n%s--- stderr\n%s--- want\n%s", strings.Join(tc.args, " "), code, stdout, tc.stdout, stderr, tc.stderr)
		}
	}
}

// With nothing running, the table is its header alone; other formats
// print nothing.
func TestStatsNoContainers(t *testing.T) {
	e := newStatsEngine(t)
	stdout, stderr, code := runCLI(t, nil, "-H", e.host, "stats", "--no-stream")
	want := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS\n"
	if stdout != want || stderr != "" || code != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if stdout, _, _ := runCLI(t, nil, "-H", e.host, "stats", "--no-stream", "--format", "json"); stdout != "" {
		t.Errorf("json: %q", stdout)
	}
}

// config.json's statsFormat is the default format.
func TestStatsFormatFromConfig(t *testing.T) {
	e := newBusyStatsEngine(t)
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/config.json", []byte(`{"statsFormat":"{{.Name}} {{.CPUPerc}}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	if stdout, stderr, _ := runCLI(t, nil, "-H", e.host, "stats", "--no-stream", "busy"); stdout != "busy 50.00%\n" {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
}

// The streaming table is redrawn in place, and follows containers: one
// that starts gets a row, one that dies loses it.
func TestStatsStream(t *testing.T) {
	e := newBusyStatsEngine(t)
	var out syncBuffer
	c := &CLI{In: io.NopCloser(strings.NewReader("")), Out: &out, Err: &out}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- c.execute(ctx, []string{"-H", e.host, "stats", "--format", "{{.Name}} {{.PIDs}}"}) }()

	waitFor := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.HasSuffix(out.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in:\n%q", what, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// docker 28's frame: the rows, then again each followed by an erase
	// to the end of the line, then an erase below.
	waitFor("\033[Hbusy 3\nweb 1\n\033[Hbusy 3 \033[K\nweb 1 \033[K\n \033[K\n\033[J")

	const newID = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef"
	e.run(newID, "late", true, container.StatsResponse{PidsStats: container.PidsStats{Current: 7}})
	e.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: newID}}
	waitFor("\033[Hbusy 3\nweb 1\nlate 7\n\033[Hbusy 3 \033[K\nweb 1 \033[K\nlate 7 \033[K\n \033[K\n\033[J")

	e.events <- events.Message{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: busyID}}
	waitFor("\033[Hweb 1\nlate 7\n\033[Hweb 1 \033[K\nlate 7 \033[K\n \033[K\n\033[J")

	// Interrupted, it ends quietly.
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
}

// syncBuffer is a bytes.Buffer the command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
