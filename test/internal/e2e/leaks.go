package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// Snapshot records the host resources an engine holds, to prove that a
// failed operation left nothing behind: veths on the engine's bridge,
// mounts and files under its roots, and processes belonging to it. Take
// one before and one after, in a test that does not run in parallel.
type Snapshot struct {
	Veths  map[string]bool
	Mounts map[string]bool
	Paths  map[string]bool
	Procs  map[int]string
}

// TakeSnapshot records what the engine holds now. Take the "before"
// snapshot after the engine has run a container, so that processes it
// starts once and keeps (berth's spare shim) are in both. Parts the harness cannot
// know (roots and bridge of an engine it did not start) stay empty.
func (e *Engine) TakeSnapshot(t testing.TB) Snapshot {
	t.Helper()
	s := Snapshot{Veths: map[string]bool{}, Mounts: map[string]bool{}, Paths: map[string]bool{}, Procs: map[int]string{}}
	if e.Bridge != "" {
		if br, err := netlink.LinkByName(e.Bridge); err == nil {
			links, _ := netlink.LinkList()
			for _, l := range links {
				if l.Attrs().MasterIndex == br.Attrs().Index {
					s.Veths[l.Attrs().Name] = true
				}
			}
		}
	}
	if e.Private() {
		for _, m := range mountsUnder(e.Daemon.Dir) {
			s.Mounts[m] = true
		}
		for _, root := range []string{e.DataRoot, e.ExecRoot} {
			walkDepth(root, 5, func(p string) { s.Paths[p] = true })
		}
		daemon := e.Daemon.Pid()
		forEachProc(func(pid int) {
			if pid == daemon || pid == os.Getpid() {
				return
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil {
				return
			}
			mine := bytes.Contains(b, []byte(e.Daemon.Dir))
			if e.Kind == KindBerth && runs(pid, e.Daemon.Bin) && !isCLI(b) {
				mine = true
			}
			if mine {
				s.Procs[pid] = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
			}
		})
	}
	return s
}

// isCLI tells a berth CLI process (of a concurrently running test) from a
// shim, which runs as "berth shim ...".
func isCLI(cmdline []byte) bool {
	args := bytes.Split(cmdline, []byte{0})
	return len(args) < 2 || (string(args[1]) != "shim" && string(args[1]) != "daemon")
}

// transientPath is state an engine may create lazily for reasons that
// have nothing to do with one container (image caches, logs of the daemon).
func transientPath(p string) bool {
	for _, s := range []string{"/tmp/", "/network/files/local-kv.db", "/buildkit/", "/daemon.log"} {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

func walkDepth(root string, depth int, f func(string)) {
	base := strings.Count(root, "/")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		f(p)
		if d.IsDir() && strings.Count(p, "/")-base >= depth {
			return filepath.SkipDir
		}
		return nil
	})
}

// New lists what after holds that s did not: the leaks.
func (s Snapshot) New(after Snapshot) []string {
	var out []string
	for v := range after.Veths {
		if !s.Veths[v] {
			out = append(out, "veth "+v)
		}
	}
	for m := range after.Mounts {
		if !s.Mounts[m] {
			out = append(out, "mount "+m)
		}
	}
	for p := range after.Paths {
		if !s.Paths[p] && !transientPath(p) {
			out = append(out, "path "+p)
		}
	}
	// Processes are compared by command line, as a multiset: an engine
	// may keep a spare process ready (berth keeps one idle shim) and
	// replace it with a new one, which is no leak; one more process with
	// the same command line than before is.
	n := map[string]int{}
	for _, cmd := range s.Procs {
		n[cmd]++
	}
	pids := make([]int, 0, len(after.Procs))
	for pid := range after.Procs {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		cmd := after.Procs[pid]
		if n[cmd] > 0 {
			n[cmd]--
			continue
		}
		out = append(out, fmt.Sprintf("process %d %s", pid, cmd))
	}
	sort.Strings(out)
	return out
}

// AssertNoLeaks waits (up to timeout: engines release some resources
// asynchronously) until the engine holds nothing beyond before, and fails
// the test with the leftovers otherwise. ids are containers that must have
// vanished from every path, mount and process.
func (e *Engine) AssertNoLeaks(t testing.TB, before Snapshot, timeout time.Duration, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leaks := before.New(e.TakeSnapshot(t))
		leaks = append(leaks, referencesTo(e, ids)...)
		if len(leaks) == 0 {
			return
		}
		if time.Now().After(deadline) {
			if len(leaks) > 30 {
				leaks = append(leaks[:30], fmt.Sprintf("... and %d more", len(leaks)-30))
			}
			t.Fatalf("left behind:\n  %s", strings.Join(leaks, "\n  "))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// referencesTo finds anything on the host still naming the containers:
// processes (shims carry the ID), mounts, and files under the roots.
func referencesTo(e *Engine, ids []string) []string {
	var out []string
	for _, id := range ids {
		if len(id) < 12 {
			continue
		}
		for _, pid := range procsReferring(id) {
			out = append(out, fmt.Sprintf("process %d naming %s: %s", pid, id[:12], describePids([]int{pid})))
		}
		for _, m := range readMountinfo() {
			if strings.Contains(m, id) {
				out = append(out, "mount "+m)
			}
		}
		if e.Private() {
			for _, root := range []string{e.DataRoot, e.ExecRoot} {
				walkDepth(root, 6, func(p string) {
					if strings.Contains(filepath.Base(p), id) {
						out = append(out, "path "+p)
					}
				})
			}
		}
	}
	return out
}
