package runtime_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/runtime"
	"github.com/berth-dev/berth/internal/runtime/runtimetest"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func newRuntime(t *testing.T, bin string) *runtime.Runtime {
	dir := t.TempDir()
	return &runtime.Runtime{Binary: bin, Root: filepath.Join(dir, "root"), LogPath: filepath.Join(dir, "runtime.log")}
}

func forEachRuntime(t *testing.T, f func(t *testing.T, bin string)) {
	runtimetest.RequireRoot(t)
	for _, bin := range runtimetest.Runtimes() {
		t.Run(bin, func(t *testing.T) {
			if err := runtimetest.Usable(bin); err != nil {
				t.Skip(err)
			}
			f(t, bin)
		})
	}
}

func TestLifecycle(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, bin string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		r := newRuntime(t, bin)
		dir := t.TempDir()
		bundle := runtimetest.Bundle(t, filepath.Join(dir, "bundle"), []string{"sleep", "60"}, false, nil)
		id := runtimetest.ID(t, bin)
		pidFile := filepath.Join(dir, "init.pid")
		if err := r.Create(ctx, id, bundle, runtime.CreateOpts{PidFile: pidFile}); err != nil {
			t.Fatalf("create: %v", err)
		}
		t.Cleanup(func() { r.Delete(context.Background(), id, true) })
		st, err := r.State(ctx, id)
		if err != nil || st.Status != "created" {
			t.Fatalf("state after create: %+v, %v", st, err)
		}
		pid, err := runtime.ReadPidFile(pidFile)
		if err != nil || pid != st.Pid {
			t.Fatalf("pid file %d, state pid %d, %v", pid, st.Pid, err)
		}
		if err := r.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		if st, _ := r.State(ctx, id); st.Status != "running" {
			t.Fatalf("state after start: %+v", st)
		}
		pids, err := r.Ps(ctx, id)
		if err != nil || !slices.Contains(pids, pid) {
			t.Fatalf("ps: %v %v (init %d)", pids, err, pid)
		}
		if err := r.Pause(ctx, id); err != nil {
			t.Fatalf("pause: %v", err)
		}
		// crun returns while a cgroup v1 freezer may still be FREEZING and
		// reports "running" until it is FROZEN.
		waitStatus(t, r, id, "paused")
		if err := r.Resume(ctx, id); err != nil {
			t.Fatalf("resume: %v", err)
		}
		// exec a process that writes to a file we can read from the host.
		out := filepath.Join(bundle, "rootfs", "tmp", "out")
		p := specs.Process{Args: []string{"sh", "-c", "echo hi > /tmp/out"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		if err := r.Exec(ctx, id, p, runtime.ExecOpts{}); err != nil {
			t.Fatalf("exec: %v", err)
		}
		if b, _ := os.ReadFile(out); string(b) != "hi\n" {
			t.Fatalf("exec output %q", b)
		}
		if err := r.Kill(ctx, id, syscall.SIGKILL, false); err != nil {
			t.Fatalf("kill: %v", err)
		}
		// Nothing here reaps the container's init (it was re-parented to
		// pid 1, or a subreaper): all there is to wait on is the runtime's view.
		waitStatus(t, r, id, "stopped")
		if err := r.Delete(ctx, id, false); err != nil {
			t.Fatalf("delete: %v", err)
		}
		_, err = r.State(ctx, id)
		if !runtime.IsNotFound(err) {
			t.Fatalf("state after delete: %v, want not found", err)
		}
	})
}

func TestCreateErrorMessage(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, bin string) {
		ctx := context.Background()
		r := newRuntime(t, bin)
		dir := t.TempDir()
		bundle := runtimetest.Bundle(t, filepath.Join(dir, "bundle"), []string{"nonexistent-program"}, false, nil)
		id := runtimetest.ID(t, bin)
		err := r.Create(ctx, id, bundle, runtime.CreateOpts{})
		t.Cleanup(func() { r.Delete(context.Background(), id, true) })
		if err == nil {
			// crun reports exec failures at start.
			err = r.Start(ctx, id)
		}
		if err == nil || !strings.Contains(err.Error(), "nonexistent-program") {
			t.Fatalf("error %v, want the runtime's message naming the program", err)
		}
		t.Logf("%s: %v", bin, err)
	})
}

func TestRun(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, bin string) {
		r := newRuntime(t, bin)
		dir := t.TempDir()
		bundle := runtimetest.Bundle(t, filepath.Join(dir, "bundle"), []string{"sh", "-c", "exit 3"}, false, nil)
		id := runtimetest.ID(t, bin)
		t.Cleanup(func() { r.Delete(context.Background(), id, true) })
		status, err := r.Run(context.Background(), id, bundle, runtime.CreateOpts{})
		if err != nil || status != 3 {
			t.Fatalf("run: %d %v, want 3", status, err)
		}
	})
}

func waitStatus(t *testing.T, r *runtime.Runtime, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := r.State(context.Background(), id)
		if err == nil && st.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state %+v %v, want %s", st, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
