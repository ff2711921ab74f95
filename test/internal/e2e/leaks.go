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

	"github.com/google/nftables"
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
	// NAT counts what berth's nftables table for the engine's bridge
	// holds: map elements (published ports) and rules. (The reference
	// dockerd runs with --iptables=false: its port proxies are Procs.)
	NAT map[string]int

	dir  string // the engine's private dir, which Paths are under
	kind Kind
}

// TakeSnapshot records what the engine holds now. Take the "before"
// snapshot after the engine has run a container, so that processes it
// starts once and keeps (berth's spare shim) are in both. Parts the harness cannot
// know (roots and bridge of an engine it did not start) stay empty.
func (e *Engine) TakeSnapshot(t testing.TB) Snapshot {
	t.Helper()
	s := Snapshot{Veths: map[string]bool{}, Mounts: map[string]bool{}, Paths: map[string]bool{}, Procs: map[int]string{}, NAT: map[string]int{}}
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
		s.dir, s.kind = e.Daemon.Dir, e.Kind
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
			// Named by the engine's dir, or the daemon's child (dockerd's
			// docker-proxy for a published port).
			mine := bytes.Contains(b, []byte(e.Daemon.Dir)) || parentPid(pid) == daemon
			if e.Kind == KindBerth && runs(pid, e.Daemon.Bin) && !isCLI(b) {
				mine = true
			}
			if mine {
				s.Procs[pid] = strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
			}
		})
	}
	if e.Kind == KindBerth && e.Bridge != "" {
		s.NAT = natState("berth-" + e.Bridge)
	}
	return s
}

// natState lists the elements of every map of an nftables table and its
// rules (by chain and content), counted.
func natState(table string) map[string]int {
	out := map[string]int{}
	conn, err := nftables.New()
	if err != nil {
		return out
	}
	tbl, err := conn.ListTableOfFamily(table, nftables.TableFamilyIPv4)
	if err != nil {
		return out
	}
	sets, _ := conn.GetSets(tbl)
	for _, set := range sets {
		els, _ := conn.GetSetElements(set)
		for _, el := range els {
			out[fmt.Sprintf("nft %s map %s element %x", table, set.Name, el.Key)]++
		}
	}
	chains, _ := conn.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != table {
			continue
		}
		rules, _ := conn.GetRules(tbl, ch)
		for _, r := range rules {
			var b strings.Builder
			for _, x := range r.Exprs {
				fmt.Fprintf(&b, "%+v;", x)
			}
			out[fmt.Sprintf("nft %s chain %s rule %s", table, ch.Name, b.String())]++
		}
	}
	return out
}

// parentPid is a process's parent (0 if it is gone).
func parentPid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	var state string
	var ppid int
	fmt.Sscan(string(b[i+1:]), &state, &ppid)
	return ppid
}

// isCLI tells a berth CLI process (of a concurrently running test) from a
// shim, which runs as "berth shim ...".
func isCLI(cmdline []byte) bool {
	args := bytes.Split(cmdline, []byte{0})
	return len(args) < 2 || (string(args[1]) != "shim" && string(args[1]) != "daemon")
}

// transientPath is state an engine may create lazily for reasons that
// have nothing to do with one container (image caches, logs of the daemon);
// p is relative to the engine's dir.
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
		rel := strings.TrimPrefix(p, after.dir)
		// Docker 20.10 leaves the (unmounted, empty) namespace files of
		// failed starts in exec/netns until it restarts: not berth's bar.
		if after.kind == KindDocker && strings.HasPrefix(rel, "/exec/netns/") {
			continue
		}
		if !s.Paths[p] && !transientPath(rel) {
			out = append(out, "path "+p)
		}
	}
	for k, n := range after.NAT {
		if n > s.NAT[k] {
			out = append(out, k)
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
