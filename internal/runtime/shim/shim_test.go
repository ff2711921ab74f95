package shim_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/runtime/runtimetest"
	"github.com/berth-dev/berth/internal/runtime/shim"
	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The test binary doubles as the berth binary: Spawn re-executes it as
// `<test binary> shim STATE-DIR`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

func forEachRuntime(t *testing.T, f func(t *testing.T, rt string)) {
	runtimetest.RequireRoot(t)
	for _, rt := range runtimetest.Runtimes() {
		t.Run(rt, func(t *testing.T) {
			if err := runtimetest.Usable(rt); err != nil {
				t.Skip(err)
			}
			f(t, rt)
		})
	}
}

type container struct {
	cfg    shim.Config
	client *shim.Client
}

// shortDir is a temp dir with a short path: unix socket paths are limited
// to 108 bytes.
func shortDir(t *testing.T) string {
	d, err := os.MkdirTemp("", "bs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func newConfig(t *testing.T, rt string, args []string, tty bool, edit func(*specs.Spec)) shim.Config {
	dir := shortDir(t)
	bundle := runtimetest.Bundle(t, filepath.Join(dir, "bundle"), args, tty, edit)
	// Runs after the shim is shut down: whatever the shim said about itself
	// (a race report under -race, a panic) fails the test.
	t.Cleanup(func() {
		data, _ := os.ReadFile(filepath.Join(dir, "s", "shim.log"))
		if bytes.Contains(data, []byte("DATA RACE")) || bytes.Contains(data, []byte("panic")) {
			t.Errorf("shim log:\n%s", data)
		}
	})
	return shim.Config{
		ID:          runtimetest.ID(t, rt),
		Bundle:      bundle,
		StateDir:    filepath.Join(dir, "s"),
		Runtime:     rt,
		RuntimeRoot: filepath.Join(dir, "root"),
		Terminal:    tty,
		Log:         shim.LogConfig{Driver: "json-file", Path: filepath.Join(dir, "ctr.log")},
	}
}

func spawn(t *testing.T, cfg shim.Config) *container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := shim.Spawn(ctx, cfg)
	if err != nil {
		t.Fatalf("spawn: %v", err)
	}
	ct := &container{cfg: cfg, client: c}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cl, err := shim.Connect(ctx, cfg.StateDir)
		if err != nil {
			return // gone already
		}
		if err := cl.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
			dumpShim(t, cl.Pid(), cfg.StateDir)
		}
		ct.client.Close()
	})
	return ct
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// demux reads a whole attach stream of stdcopy frames.
func demux(t *testing.T, conn net.Conn) (string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errb, conn); err != nil {
		t.Fatalf("stdcopy: %v", err)
	}
	return out.String(), errb.String()
}

func TestSpawnAttachStart(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		cfg := newConfig(t, rt, []string{"sh", "-c", "echo out; echo err >&2; echo more; exit 3"}, false, nil)
		ct := spawn(t, cfg)
		c := ctx(t)
		a1, err := ct.client.Attach(c, shim.AttachOptions{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		a2, err := ct.client.Attach(c, shim.AttachOptions{Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		pid, err := ct.client.Start(c)
		if err != nil || pid <= 0 {
			t.Fatalf("start: %d %v", pid, err)
		}
		out, errs := demux(t, a1)
		if out != "out\nmore\n" || errs != "err\n" {
			t.Errorf("attach 1: stdout %q stderr %q", out, errs)
		}
		out, errs = demux(t, a2)
		if out != "" || errs != "err\n" {
			t.Errorf("attach 2 (stderr only): stdout %q stderr %q", out, errs)
		}
		exit, err := ct.client.Wait(c)
		if err != nil || exit.Code != 3 || exit.ExitedAt.IsZero() {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		// The log has every line, in Docker's json-file format.
		data, err := os.ReadFile(cfg.Log.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`{"log":"out\n","stream":"stdout","time":"`, `{"log":"err\n","stream":"stderr","time":"`} {
			if !strings.Contains(string(data), want) {
				t.Errorf("log %s lacks %s", data, want)
			}
		}
		msgs, errc := logs.Read(c, "json-file", cfg.Log.Path, logs.ReadConfig{Tail: -1}, nil)
		var got []string
		for m := range msgs {
			got = append(got, m.Stream+":"+string(m.Line))
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Errorf("log messages %q", got)
		}
		if e, err := shim.ReadExit(cfg.StateDir); err != nil || e.Code != 3 {
			t.Errorf("ReadExit: %+v %v", e, err)
		}
	})
}

func TestExitCodes(t *testing.T) {
	noPidNS := func(s *specs.Spec) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
	}
	cases := []struct {
		name string
		args []string
		edit func(*specs.Spec)
		sig  syscall.Signal
		want int
	}{
		{"true", []string{"true"}, nil, 0, 0},
		{"exit3", []string{"sh", "-c", "exit 3"}, nil, 0, 3},
		{"sigkill", []string{"sleep", "100"}, nil, syscall.SIGKILL, 137},
		// A pid namespace's init ignores SIGTERM without a handler; outside
		// one, the default action kills it.
		{"sigterm", []string{"sleep", "100"}, noPidNS, syscall.SIGTERM, 143},
	}
	forEachRuntime(t, func(t *testing.T, rt string) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ct := spawn(t, newConfig(t, rt, tc.args, false, tc.edit))
				c := ctx(t)
				if _, err := ct.client.Start(c); err != nil {
					t.Fatal(err)
				}
				if tc.sig != 0 {
					if err := ct.client.Kill(c, tc.sig, false); err != nil {
						t.Fatal(err)
					}
				}
				exit, err := ct.client.Wait(c)
				if err != nil || exit.Code != tc.want {
					t.Fatalf("wait: %+v %v, want %d", exit, err, tc.want)
				}
				if err := ct.client.Kill(c, syscall.SIGKILL, false); !errdefs.IsConflict(err) {
					t.Errorf("kill after exit: %v, want conflict", err)
				}
			})
		}
	})
}

// TestStartOfInstantExit: a process that exits the moment it starts is
// reaped while `runtime start` may still be finishing; the shim must not
// delete the container under it (runc's start then fails: remove
// exec.fifo: no such file). A wrapper around the runtime holds start
// open a little after it is done and logs the calls, so that the order
// is checked every time, not only when the race is lost.
func TestStartOfInstantExit(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		bin, err := exec.LookPath(rt)
		if err != nil {
			t.Skip(err)
		}
		dir := t.TempDir()
		calls := filepath.Join(dir, "calls")
		wrapper := filepath.Join(dir, rt)
		script := `#!/bin/sh
for a; do case $a in create|start|delete) op=$a; break;; esac; done
echo "$op begin" >>` + calls + `
` + bin + ` "$@"; rc=$?
[ "$op" = start ] && sleep 0.3
echo "$op end" >>` + calls + `
exit $rc
`
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := newConfig(t, rt, []string{"true"}, false, nil)
		cfg.Runtime = wrapper
		ct := spawn(t, cfg)
		c := ctx(t)
		if _, err := ct.client.Start(c); err != nil {
			t.Fatalf("start: %v", err)
		}
		if exit, err := ct.client.Wait(c); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		var log string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(calls)
			if log = string(b); strings.Contains(log, "delete end") {
				break
			}
		}
		if strings.Index(log, "delete begin") < strings.Index(log, "start end") || !strings.Contains(log, "delete end") {
			t.Fatalf("runtime calls:\n%s\nwant the delete after the start returned", log)
		}
	})
}

func TestTerminal(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		cfg := newConfig(t, rt, []string{"sh", "-c", `stty size; read line; echo "got:$line"`}, true, nil)
		cfg.OpenStdin = true
		ct := spawn(t, cfg)
		c := ctx(t)
		a, err := ct.client.Attach(c, shim.AttachOptions{Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := ct.client.Resize(c, 100, 30); err != nil {
			t.Fatal(err)
		}
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 0, 256)
		readUntil := func(want string) {
			t.Helper()
			for !strings.Contains(string(buf), want) {
				tmp := make([]byte, 256)
				n, err := a.Read(tmp)
				buf = append(buf, tmp[:n]...)
				if err != nil {
					t.Fatalf("reading tty: %v, have %q, want %q", err, buf, want)
				}
			}
		}
		readUntil("30 100\r\n")
		if !strings.HasPrefix(string(buf), "30 100") {
			t.Errorf("tty stream is not raw: %q", buf)
		}
		if _, err := a.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		readUntil("got:hello\r\n")
		rest, _ := io.ReadAll(a) // ends when the process exited
		_ = rest
		exit, err := ct.client.Wait(c)
		if err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
	})
}

func TestStdinOnce(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		cfg := newConfig(t, rt, []string{"cat"}, false, nil)
		cfg.OpenStdin, cfg.StdinOnce = true, true
		ct := spawn(t, cfg)
		c := ctx(t)
		a, err := ct.client.Attach(c, shim.AttachOptions{Stdin: true, Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Write([]byte("hello\nworld\n")); err != nil {
			t.Fatal(err)
		}
		if err := a.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		out, errs := demux(t, a)
		if out != "hello\nworld\n" || errs != "" {
			t.Errorf("stdout %q stderr %q", out, errs)
		}
		if exit, err := ct.client.Wait(c); err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
	})
}

func TestExec(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		ct := spawn(t, newConfig(t, rt, []string{"sleep", "100"}, false, nil))
		c := ctx(t)
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		proc := specs.Process{Args: []string{"sh", "-c", "echo exec-out; echo exec-err >&2; exit 5"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		if err := ct.client.Exec(c, shim.ExecConfig{ID: "e1", Process: proc}); err != nil {
			t.Fatal(err)
		}
		if err := ct.client.Exec(c, shim.ExecConfig{ID: "e1", Process: proc}); !errdefs.IsAlreadyExists(err) {
			t.Errorf("duplicate exec: %v", err)
		}
		a, err := ct.client.ExecAttach(c, "e1", shim.AttachOptions{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		pid, err := ct.client.ExecStart(c, "e1")
		if err != nil || pid <= 0 {
			t.Fatalf("exec start: %d %v", pid, err)
		}
		out, errs := demux(t, a)
		if out != "exec-out\n" || errs != "exec-err\n" {
			t.Errorf("stdout %q stderr %q", out, errs)
		}
		if exit, err := ct.client.ExecWait(c, "e1"); err != nil || exit.Code != 5 {
			t.Fatalf("exec wait: %+v %v", exit, err)
		}

		// With a terminal and stdin.
		proc = specs.Process{Args: []string{"sh", "-c", "stty size; read x; echo tty:$x; exit 2"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		if err := ct.client.Exec(c, shim.ExecConfig{ID: "e2", Process: proc, Terminal: true, Stdin: true}); err != nil {
			t.Fatal(err)
		}
		a, err = ct.client.ExecAttach(c, "e2", shim.AttachOptions{Stdin: true, Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		// Sized before it starts, as the docker CLI may do.
		if err := ct.client.ExecResize(c, "e2", 80, 24); err != nil {
			t.Fatal(err)
		}
		if _, err := ct.client.ExecStart(c, "e2"); err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("abc\n"))
		all, _ := io.ReadAll(a)
		if !strings.Contains(string(all), "24 80\r\n") || !strings.Contains(string(all), "tty:abc\r\n") {
			t.Errorf("tty exec output %q", all)
		}
		if exit, err := ct.client.ExecWait(c, "e2"); err != nil || exit.Code != 2 {
			t.Fatalf("exec wait: %+v %v", exit, err)
		}

		// A missing program: the runtime's message.
		proc = specs.Process{Args: []string{"no-such-program"}, Cwd: "/", Env: []string{"PATH=/bin"}}
		if err := ct.client.Exec(c, shim.ExecConfig{ID: "e3", Process: proc}); err != nil {
			t.Fatal(err)
		}
		if _, err := ct.client.ExecStart(c, "e3"); err == nil || !strings.Contains(err.Error(), "no-such-program") {
			t.Errorf("exec of a missing program: %v", err)
		}
		if _, err := ct.client.ExecWait(c, "nope"); !errdefs.IsNotFound(err) {
			t.Errorf("wait on unknown exec: %v", err)
		}
		// The container's own log has none of the exec output.
		data, _ := os.ReadFile(ct.cfg.Log.Path)
		if bytes.Contains(data, []byte("exec-out")) {
			t.Errorf("exec output logged: %s", data)
		}
	})
}

func TestWaitMany(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		ct := spawn(t, newConfig(t, rt, []string{"sleep", "100"}, false, nil))
		c := ctx(t)
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		codes := make([]int, 5)
		errs := make([]error, 5)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e, err := ct.client.Wait(c)
				codes[i], errs[i] = e.Code, err
			}()
		}
		pids, err := ct.client.Pids(c)
		if err != nil || len(pids) != 1 {
			t.Errorf("pids: %v %v", pids, err)
		}
		if err := ct.client.Pause(c); err != nil {
			t.Fatal(err)
		}
		if err := ct.client.Resume(c); err != nil {
			t.Fatal(err)
		}
		if err := ct.client.Kill(c, syscall.SIGKILL, true); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		for i := range codes {
			if errs[i] != nil || codes[i] != 137 {
				t.Errorf("waiter %d: %d %v", i, codes[i], errs[i])
			}
		}
	})
}

func TestReconnect(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		cfg := newConfig(t, rt, []string{"sh", "-c", "echo started; exec sleep 100"}, false, nil)
		ct := spawn(t, cfg)
		c := ctx(t)
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		// The daemon dies: its connections go away; the container runs on.
		ct.client.Close()
		cl, err := shim.Connect(c, cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if pids, err := cl.Pids(c); err != nil || len(pids) == 0 {
			t.Fatalf("pids after reconnect: %v %v", pids, err)
		}
		waited := make(chan shim.Exit, 1)
		go func() {
			e, err := cl.Wait(c)
			if err != nil {
				t.Error(err)
			}
			waited <- e
		}()
		if err := cl.Kill(c, syscall.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		if e := <-waited; e.Code != 137 {
			t.Errorf("exit %+v", e)
		}
		if err := cl.Shutdown(c); err != nil {
			t.Fatal(err)
		}
		if _, err := shim.Connect(c, cfg.StateDir); !errdefs.IsNotFound(err) {
			t.Errorf("connect after shutdown: %v, want not found", err)
		}
		if e, err := shim.ReadExit(cfg.StateDir); err != nil || e.Code != 137 {
			t.Errorf("ReadExit: %+v %v", e, err)
		}
	})
}

// pidfdWait waits until pid exited.
func pidfdWait(t *testing.T, pid int, timeout time.Duration) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already
	}
	defer unix.Close(fd)
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(timeout/time.Millisecond))
	if n != 1 {
		t.Fatalf("process %d still there after %s (%v)", pid, timeout, err)
	}
}

func TestExitWithoutDaemon(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		cfg := newConfig(t, rt, []string{"sleep", "100"}, false, nil)
		ct := spawn(t, cfg)
		c := ctx(t)
		pid, err := ct.client.Start(c)
		if err != nil {
			t.Fatal(err)
		}
		shimPid := ct.client.Pid()
		ct.client.Close()
		// The container dies while no daemon is connected.
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			t.Fatal(err)
		}
		pidfdWait(t, shimPid, 10*time.Second)
		if _, err := shim.Connect(c, cfg.StateDir); !errdefs.IsNotFound(err) {
			t.Errorf("connect to a finished shim: %v, want not found", err)
		}
		e, err := shim.ReadExit(cfg.StateDir)
		if err != nil || e.Code != 137 {
			t.Fatalf("ReadExit: %+v %v", e, err)
		}
	})
}

func TestDrainBounded(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		// Without a pid namespace the background sleep outlives the init and
		// keeps stdout open: Wait must not wait for it.
		cfg := newConfig(t, rt, []string{"sh", "-c", "sleep 30 & echo bye"}, false, func(s *specs.Spec) {
			var ns []specs.LinuxNamespace
			for _, n := range s.Linux.Namespaces {
				if n.Type != specs.PIDNamespace {
					ns = append(ns, n)
				}
			}
			s.Linux.Namespaces = ns
		})
		ct := spawn(t, cfg)
		c := ctx(t)
		a, err := ct.client.Attach(c, shim.AttachOptions{Stdout: true, Stderr: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		out, _ := demux(t, a)
		exit, err := ct.client.Wait(c)
		if err != nil || exit.Code != 0 || out != "bye\n" {
			t.Fatalf("wait: %+v %v, output %q", exit, err, out)
		}
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("output drain took %s", d)
		}
	})
}

func TestSpawnError(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		cfg := newConfig(t, rt, []string{"no-such-program"}, false, nil)
		c := ctx(t)
		cl, err := shim.Spawn(c, cfg)
		if err == nil {
			// crun reports a missing program when it starts it.
			_, err = cl.Start(c)
			cl.Shutdown(c)
		}
		if err == nil || !strings.Contains(err.Error(), "no-such-program") {
			t.Fatalf("error %v, want the runtime's message", err)
		}
		t.Log(err)
	})
}

func TestShutdownCreated(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		// docker create + docker rm: never started.
		cfg := newConfig(t, rt, []string{"sleep", "100"}, false, nil)
		ct := spawn(t, cfg)
		if err := ct.client.Shutdown(ctx(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSlowAttachClient(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		// ~40 MB of output; one client never reads. The container must finish
		// and the reading client must get everything up to its own pace.
		cfg := newConfig(t, rt, []string{"sh", "-c", "yes 0123456789012345678901234567890123456789 | head -c 40000000 >/dev/stdout; echo end"}, false, nil)
		cfg.Log.Driver = "none"
		ct := spawn(t, cfg)
		c := ctx(t)
		stuck, err := ct.client.Attach(c, shim.AttachOptions{Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		defer stuck.Close()
		reader, err := ct.client.Attach(c, shim.AttachOptions{Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		var n countWriter
		if _, err := stdcopy.StdCopy(&n, io.Discard, reader); err != nil {
			t.Fatal(err)
		}
		exit, err := ct.client.Wait(c)
		if err != nil || exit.Code != 0 {
			t.Fatalf("wait: %+v %v", exit, err)
		}
		if n.n < 1000 {
			t.Errorf("reader got %d bytes", n.n)
		}
	})
}

type countWriter struct{ n int }

func (w *countWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

func TestKillPaused(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		ct := spawn(t, newConfig(t, rt, []string{"sleep", "100"}, false, nil))
		c := ctx(t)
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		if err := ct.client.Pause(c); err != nil {
			t.Fatal(err)
		}
		if err := ct.client.Kill(c, syscall.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		if e, err := ct.client.Wait(c); err != nil || e.Code != 137 {
			t.Fatalf("wait: %+v %v", e, err)
		}
	})
}

func TestOOMKilled(t *testing.T) {
	forEachRuntime(t, func(t *testing.T, rt string) {
		limit := int64(16 << 20)
		// dd's 200 MB buffer does not fit in 16 MB.
		cfg := newConfig(t, rt, []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"}, false, func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}}
		})
		ct := spawn(t, cfg)
		c := ctx(t)
		if _, err := ct.client.Start(c); err != nil {
			t.Fatal(err)
		}
		e, err := ct.client.Wait(c)
		if err != nil {
			t.Fatal(err)
		}
		if !e.OOMKilled || e.Code != 137 {
			t.Fatalf("exit %+v, want OOM-killed 137", e)
		}
	})
}

// dumpShim has a stuck shim print its goroutines (Go does on SIGQUIT)
// into its log, and shows the log.
func dumpShim(t *testing.T, pid int, stateDir string) {
	syscall.Kill(pid, syscall.SIGQUIT)
	time.Sleep(500 * time.Millisecond)
	data, _ := os.ReadFile(filepath.Join(stateDir, "shim.log"))
	t.Logf("shim log:\n%s", data)
}
