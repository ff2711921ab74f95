package shimexe_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/runtime/runtimetest"
	"github.com/berth-dev/berth/internal/runtime/shim"
	"github.com/berth-dev/berth/internal/runtime/shim/shimexe"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"golang.org/x/sys/unix"
)

// Should a shim ever start from this test binary (nothing loaded), it
// must act as one rather than run the tests again.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// berthWithShim builds cmd/berth-shim and appends it to a copy of a host
// executable, as scripts/build.sh appends it to berth.
func berthWithShim(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command to build cmd/berth-shim")
	}
	dir := t.TempDir()
	cmd := exec.Command(gobin, "build", "-trimpath", "-o", filepath.Join(dir, "berth-shim"), "github.com/berth-dev/berth/cmd/berth-shim")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/berth-shim: %v\n%s", err, out)
	}
	prog, err := os.ReadFile(filepath.Join(dir, "berth-shim"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(host)
	if err := shimexe.Append(&b, prog); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "berth")
	if err := os.WriteFile(p, b.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func config(t *testing.T, rt string, args []string) shim.Config {
	t.Helper()
	dir, err := os.MkdirTemp("", "bx") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return shim.Config{
		ID:          runtimetest.ID(t, rt),
		Bundle:      runtimetest.Bundle(t, filepath.Join(dir, "bundle"), args, false, nil),
		StateDir:    filepath.Join(dir, "s"),
		Runtime:     rt,
		RuntimeRoot: filepath.Join(dir, "root"),
		Log:         shim.LogConfig{Driver: "json-file", Path: filepath.Join(dir, "ctr.log")},
	}
}

// assertFromMemfd checks that the shim runs the program from the memfd
// and looks like `berth shim` all the same.
func assertFromMemfd(t *testing.T, pid int) {
	t.Helper()
	proc := "/proc/" + strconv.Itoa(pid)
	if exe, _ := os.Readlink(proc + "/exe"); !strings.HasPrefix(exe, "/memfd:berth-shim") {
		t.Errorf("shim %d runs %q, want the memfd /memfd:berth-shim", pid, exe)
	}
	self, _ := os.Executable()
	if b, _ := os.ReadFile(proc + "/cmdline"); string(b) != self+"\x00shim\x00" {
		t.Errorf("shim %d command line %q, want %q", pid, b, self+" shim")
	}
	want := filepath.Base(self)
	if len(want) > 15 {
		want = want[:15]
	}
	if b, _ := os.ReadFile(proc + "/comm"); strings.TrimSpace(string(b)) != want {
		t.Errorf("shim %d is named %q, want %q", pid, b, want)
	}
}

// TestSpawnFromMemfd runs real containers through shim.Spawn with the
// shim program loaded as the daemon loads it, and takes them through
// what a daemon's death asks of a shim: the memfd closed with the
// daemon, the lifeline gone, Connect from a new client, an exit recorded
// while nobody listens.
func TestSpawnFromMemfd(t *testing.T) {
	runtimetest.RequireRoot(t)
	rt := runtimetest.Runtimes()[0]
	if err := shimexe.PrepareFrom(berthWithShim(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shimexe.Unload)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Two containers: the second Spawn takes the spare the first left.
	cfg := config(t, rt, []string{"sh", "-c", "echo hello; exec sleep 100"})
	c, err := shim.Spawn(ctx, cfg)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	cfg2 := config(t, rt, []string{"sleep", "100"})
	c2, err := shim.Spawn(ctx, cfg2)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	for _, cl := range []*shim.Client{c, c2} {
		assertFromMemfd(t, cl.Pid())
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cl.Kill(ctx, syscall.SIGKILL, true)
			cl.Shutdown(ctx)
		})
	}
	conn, err := c.Attach(ctx, shim.AttachOptions{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid2, err := c2.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The daemon dies: its memfd and its connections go away.
	shimPid, shim2Pid := c.Pid(), c2.Pid()
	shimexe.Unload()
	c.Close()
	c2.Close()
	for _, p := range []int{shimPid, shim2Pid} {
		if syscall.Kill(p, 0) != nil {
			t.Fatalf("shim %d died with its memfd and lifeline", p)
		}
	}

	// A new daemon finds the first one running...
	c, err = shim.Connect(ctx, cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if pids, err := c.Pids(ctx); err != nil || len(pids) == 0 {
		t.Fatalf("pids after reconnect: %v %v", pids, err)
	}
	if err := c.Kill(ctx, syscall.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Wait(ctx); err != nil || e.Code != 137 {
		t.Fatalf("wait after reconnect: %+v %v", e, err)
	}
	if stdout, _ := demux(t, conn); stdout != "hello\n" {
		t.Errorf("attach stream: %q, want hello", stdout)
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if e, err := shim.ReadExit(cfg.StateDir); err != nil || e.Code != 137 {
		t.Errorf("ReadExit: %+v %v", e, err)
	}

	// ...and the exit of the second, which ended while it was down.
	if err := unix.Kill(pid2, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, shim2Pid)
	if _, err := shim.Connect(ctx, cfg2.StateDir); !errdefs.IsNotFound(err) {
		t.Errorf("connect to a finished shim: %v, want not found", err)
	}
	if e, err := shim.ReadExit(cfg2.StateDir); err != nil || e.Code != 137 {
		t.Errorf("ReadExit of a container that exited with no daemon: %+v %v", e, err)
	}
}

func demux(t *testing.T, conn interface{ Read([]byte) (int, error) }) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, conn); err != nil {
		t.Fatalf("stdcopy: %v", err)
	}
	return out.String(), errb.String()
}

// waitGone waits until pid exited (a shim records the exit, then goes).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10_000); n != 1 {
		t.Fatalf("shim %d still there after 10s (%v)", pid, err)
	}
}
