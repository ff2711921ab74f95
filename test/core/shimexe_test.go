package core

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestShimsFromMemfd: berth as `make build` builds it starts its shims
// from the small shim program appended to it, which the daemon loads into
// a memfd. They look like `berth shim` to ps, outlive the daemon's
// SIGKILL (and its memfd), and a restarted daemon reconnects to them,
// records the exit of one that ended while it was down, and starts new
// shims from its own memfd. berth-only: it kills its own private daemon.
func TestShimsFromMemfd(t *testing.T) {
	t.Parallel()
	e := e2e.StartBerth(t)
	if os.Getenv("E2E_BERTH") != "" && !carriesShim(t, e.Daemon.Bin) {
		t.Skip("E2E_BERTH has no shim program appended: build it with make build")
	}
	c := e.Docker()
	long, exiter, later := e.Name(t, "long"), e.Name(t, "exiter"), e.Name(t, "later")
	c.Run(t, "run", "-d", "--name", long, "busybox", "sleep", "1000").OK(t)
	c.Run(t, "run", "-d", "--name", exiter, "busybox", "sh", "-c", exitsOnTerm(42)).OK(t)
	e.WaitLog(t, exiter, "ready", 20*time.Second)
	longPid := e.WaitRunning(t, long).State.Pid
	exiterPid := e.WaitRunning(t, exiter).State.Pid
	shim, exiterShim := parentOf(t, longPid), parentOf(t, exiterPid)
	for _, p := range []int{shim, exiterShim} {
		assertMemfdShim(t, p, e.Daemon.Bin)
	}
	first := exeInode(t, shim)

	// Down: the daemon, its memfd with it.
	if err := e.Daemon.Kill(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int{shim, exiterShim, longPid, exiterPid} {
		if !alive(p) {
			t.Fatalf("pid %d died with the daemon", p)
		}
	}
	syscall.Kill(exiterPid, syscall.SIGTERM)
	for deadline := time.Now().Add(10 * time.Second); alive(exiterShim) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(exiterShim) {
		t.Fatal("the shim of a container that exited while the daemon was down did not exit")
	}

	// Up again.
	e.Restart(t)
	if got := e.Inspect(t, long); !got.State.Running || got.State.Pid != longPid {
		t.Fatalf("%s after restart: %+v, want pid %d running", long, got.State, longPid)
	}
	if got := e.Inspect(t, exiter); got.State.Running || got.State.ExitCode != 42 {
		t.Errorf("%s, which exited 42 while the daemon was down: %+v", exiter, got.State)
	}
	c.Run(t, "exec", long, "echo", "exec-ok").Assert(t, 0, "exec-ok")

	// A new shim comes from the new daemon's own memfd; the old one runs on
	// from the copy of the daemon that is gone.
	c.Run(t, "run", "-d", "--name", later, "busybox", "sleep", "1000").OK(t)
	laterShim := parentOf(t, e.WaitRunning(t, later).State.Pid)
	assertMemfdShim(t, laterShim, e.Daemon.Bin)
	if exeInode(t, laterShim) == first {
		t.Error("a shim of the restarted daemon runs from the memfd of the one that was killed")
	}

	c.Run(t, "stop", "-t", "1", long).OK(t)
	if got := e.Inspect(t, long); got.State.Running || got.State.ExitCode != 137 {
		t.Errorf("%s after stop: %+v", long, got.State)
	}
	c.Run(t, "rm", "-f", long, exiter, later).OK(t)
	for deadline := time.Now().Add(10 * time.Second); (alive(shim) || alive(laterShim)) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(shim) || alive(laterShim) {
		t.Error("shims still running after rm -f")
	}
}

// assertMemfdShim checks that pid is a shim run from the daemon's memfd,
// named as `berth shim` always was, and small.
func assertMemfdShim(t *testing.T, pid int, bin string) {
	t.Helper()
	proc := fmt.Sprintf("/proc/%d", pid)
	if exe, _ := os.Readlink(proc + "/exe"); !strings.HasPrefix(exe, "/memfd:berth-shim") {
		t.Errorf("shim %d runs %q, want the shim program from the daemon's memfd", pid, exe)
	}
	cmdline, _ := os.ReadFile(proc + "/cmdline")
	if want := bin + "\x00shim\x00"; string(cmdline) != want {
		t.Errorf("shim %d command line %q, want %q", pid, cmdline, want)
	}
	if comm, _ := os.ReadFile(proc + "/comm"); strings.TrimSpace(string(comm)) != filepath.Base(bin) {
		t.Errorf("shim %d is named %q in ps, want %q", pid, comm, filepath.Base(bin))
	}
	// Re-executing all of berth cost ~21 MiB per shim; the shim alone ~4.
	status, _ := os.ReadFile(proc + "/status")
	var rss int
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			fmt.Sscanf(strings.TrimPrefix(l, "VmRSS:"), "%d", &rss)
		}
	}
	if rss == 0 || rss > 10*1024 {
		t.Errorf("shim %d resident size %d KiB, want a small shim (< 10 MiB)", pid, rss)
	}
}

// parentOf is pid's parent: for a container's init, its shim (the
// subreaper it was reparented to when the runtime's create exited).
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	var ppid int
	if _, err := fmt.Sscanf(string(b[bytes.LastIndexByte(b, ')')+2:]), "%c %d", new(byte), &ppid); err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return ppid
}

func exeInode(t *testing.T, pid int) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/exe", pid), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// carriesShim tells a berth binary built by make build (the shim program
// and its trailer appended; see internal/runtime/shim/shimexe) from a
// plain go build.
func carriesShim(t *testing.T, bin string) bool {
	t.Helper()
	const magic = "\x00berth shim v1\x00\x00"
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, len(magic))
	f.ReadAt(b, fi.Size()-int64(len(magic)))
	return string(b) == magic
}
