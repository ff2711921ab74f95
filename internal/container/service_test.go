package container

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

func TestCreatePersistsAndMergesImageConfig(t *testing.T) {
	h := newHarness(t)
	resp, err := h.s.Create(context.Background(), CreateOptions{Name: "web", Config: &containertypes.Config{Image: "busybox", Env: []string{"A=1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ID) != 64 || resp.Warnings == nil {
		t.Fatalf("response %+v: want a 64-hex ID and a non-nil warnings list", resp)
	}
	got, err := h.s.Inspect(context.Background(), "web", false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "/web" || got.Path != "sh" || got.Config.Hostname != resp.ID[:12] || got.Image != busyboxID || got.Config.Image != "busybox" {
		t.Errorf("inspect: name %q path %q hostname %q image %q/%q", got.Name, got.Path, got.Config.Hostname, got.Image, got.Config.Image)
	}
	if strings.Join(got.Config.Env, ",") != "A=1,PATH=/bin" {
		t.Errorf("env = %v, want the user's then the image's", got.Config.Env)
	}
	if got.State.Status != containertypes.StateCreated || got.HostConfig.RestartPolicy.Name != "no" || got.HostConfig.NetworkMode != "bridge" || got.HostConfig.LogConfig.Type != "json-file" {
		t.Errorf("defaults: status %q restart %q network %q log %q", got.State.Status, got.HostConfig.RestartPolicy.Name, got.HostConfig.NetworkMode, got.HostConfig.LogConfig.Type)
	}
	if _, err := os.Stat(filepath.Join(h.cfg.Root, resp.ID, configFile)); err != nil {
		t.Errorf("record not persisted: %v", err)
	}
	if m := h.events.find(resp.ID, "create"); m == nil || m.Actor.Attributes["name"] != "web" || m.Actor.Attributes["image"] != "busybox" {
		t.Errorf("create event: %+v", m)
	}
}

func TestCreateErrors(t *testing.T) {
	h := newHarness(t)
	h.create("web", "sleep")
	cases := []struct {
		name string
		opts CreateOptions
		is   func(error) bool
		msg  string
	}{
		{"no config", CreateOptions{}, errdefs.IsInvalidArgument, "config cannot be empty in order to create a container"},
		{"bad name", CreateOptions{Name: "-x", Config: cfgWith("true")}, errdefs.IsInvalidArgument, "Invalid container name (-x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
		{"name taken", CreateOptions{Name: "web", Config: cfgWith("true")}, errdefs.IsConflict, `Conflict. The container name "/web" is already in use by container "`},
		{"no image", CreateOptions{Config: &containertypes.Config{Image: "nosuch"}}, errdefs.IsNotFound, "No such image: nosuch:latest"},
		{"bad restart", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "sometimes"}}}, errdefs.IsInvalidArgument, "invalid restart policy: unknown policy 'sometimes'"},
		{"rm and restart", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{AutoRemove: true, RestartPolicy: containertypes.RestartPolicy{Name: "always"}}}, errdefs.IsInvalidArgument, "can't create 'AutoRemove' container with restart policy"},
		{"bad log driver", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{LogConfig: containertypes.LogConfig{Type: "syslog2"}}}, errdefs.IsInvalidArgument, "error looking up logging plugin syslog2: plugin \"syslog2\" not found"},
		{"bad log opt", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{LogConfig: containertypes.LogConfig{Config: map[string]string{"max-sise": "1m"}}}}, errdefs.IsInvalidArgument, "unknown log opt 'max-sise' for json-file log driver"},
		{"relative workdir", CreateOptions{Config: &containertypes.Config{Image: "busybox", WorkingDir: "tmp"}}, errdefs.IsInvalidArgument, "the working directory 'tmp' is invalid, it needs to be an absolute path"},
		{"no command", CreateOptions{Config: &containertypes.Config{Image: "busybox", Entrypoint: []string{""}, Cmd: []string{}}}, errdefs.IsInvalidArgument, ""},
		{"unknown network", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{NetworkMode: "mynet"}}, errdefs.IsInvalidArgument, "network mynet not found"}, // not a 404: the CLI would take it for a missing image
		{"tiny memory", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{Resources: containertypes.Resources{Memory: 1024}}}, errdefs.IsInvalidArgument, "Minimum memory limit allowed is 6MB"},
		{"bad stop signal", CreateOptions{Config: &containertypes.Config{Image: "busybox", StopSignal: "SIGFOO"}}, errdefs.IsInvalidArgument, "Invalid signal: SIGFOO"},
		{"unknown runtime", CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{Runtime: "kata"}}, errdefs.IsInvalidArgument, "Unknown runtime specified kata"},
	}
	for _, c := range cases {
		_, err := h.s.Create(context.Background(), c.opts)
		if err == nil || !c.is(err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want a %q error", c.name, err, c.msg)
		}
	}
	// Nothing half-created: one container, one layer, one directory.
	if n := h.s.idx.len(); n != 1 {
		t.Errorf("%d containers after failed creates, want 1", n)
	}
	if layers, _ := h.layers.count(); layers != 1 {
		t.Errorf("%d rw layers after failed creates, want 1", layers)
	}
	if entries, _ := os.ReadDir(h.cfg.Root); len(entries) != 1 {
		t.Errorf("%d container directories, want 1", len(entries))
	}
}

func TestCreateFailedLayerLeavesNothing(t *testing.T) {
	h := newHarness(t)
	h.layers.failNew = true
	if _, err := h.s.Create(context.Background(), CreateOptions{Name: "xx", Config: cfgWith("true")}); err == nil {
		t.Fatal("create succeeded without a layer")
	}
	if entries, _ := os.ReadDir(h.cfg.Root); len(entries) != 0 {
		t.Errorf("left %d directories", len(entries))
	}
	h.layers.failNew = false
	h.create("xx", "true") // the name was released
}

func TestGeneratedNames(t *testing.T) {
	h := newHarness(t)
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		id := h.create("", "true")
		name := h.inspect(id).Name
		if !validName.MatchString(name) || !strings.Contains(name, "_") || seen[name] {
			t.Fatalf("generated name %q", name)
		}
		seen[name] = true
	}
}

func TestRunToCompletion(t *testing.T) {
	h := newHarness(t)
	id := h.create("once", "echo", "hello")
	// docker run: attach and wait are registered before the start.
	attach := h.attach(t, id, AttachOptions{Stdout: true, Stderr: true, Stream: true})
	wait := h.waitExit(id, "next-exit")
	if err := h.s.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if out := attach.output(t); out != "hello\n" {
		t.Errorf("attach got %q", out)
	}
	if r := recvResult(t, wait); r.StatusCode != 0 || r.Error != "" {
		t.Errorf("wait = %+v", r)
	}
	st := h.state(id)
	if st.Running || st.StateString() != containertypes.StateExited || st.ExitCode != 0 || st.FinishedAt.IsZero() {
		t.Errorf("state after exit: %+v", st)
	}
	// The run released everything.
	if _, mounted := h.layers.count(); mounted != 0 || h.net.count() != 0 {
		t.Errorf("after exit: %d mounts, %d endpoints", mounted, h.net.count())
	}
	acts := strings.Join(h.events.actions(id), ",")
	if acts != "create,attach,start,die" {
		t.Errorf("events %s", acts)
	}
	if die := h.events.find(id, "die"); die.Actor.Attributes["exitCode"] != "0" || die.Actor.Attributes["name"] != "once" {
		t.Errorf("die attributes %v", die.Actor.Attributes)
	}
}

func TestStartNotFoundExecutable(t *testing.T) {
	h := newHarness(t)
	id := h.create("bad", "nope")
	err := h.s.Start(context.Background(), id)
	if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `failed to create task for container: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH`) {
		t.Fatalf("start error %v", err)
	}
	st := h.state(id)
	if st.ExitCode != 127 || !strings.Contains(st.Error, "executable file not found") || st.StateString() != containertypes.StateCreated {
		t.Errorf("state %+v", st)
	}
	if _, mounted := h.layers.count(); mounted != 0 || h.net.count() != 0 {
		t.Error("failed start left the rootfs mounted or the network connected")
	}
	if r := recvResult(t, h.waitExit(id, "not-running")); r.StatusCode != 127 || r.Error == "" {
		t.Errorf("wait after failed start = %+v", r)
	}
}

func TestStartNetworkFailureUndoes(t *testing.T) {
	h := newHarness(t)
	h.net.failPorts = true
	p := network.MustParsePort("80/tcp")
	id := h.createWith(CreateOptions{Name: "web", Config: cfgWith("sleep"), HostConfig: &containertypes.HostConfig{
		PortBindings: network.PortMap{p: {{HostPort: "8080"}}}}})
	err := h.s.Start(context.Background(), id)
	if err == nil || !strings.Contains(err.Error(), "port is already allocated") {
		t.Fatalf("start error %v", err)
	}
	if _, mounted := h.layers.count(); mounted != 0 || h.shims.spawn != 0 {
		t.Errorf("after a network failure: %d mounts, %d shims", mounted, h.shims.spawn)
	}
}

func TestStopSignalsThenKills(t *testing.T) {
	h := newHarness(t)
	id := h.create("svc", "sleep")
	h.start(id)
	if err := h.s.Start(context.Background(), id); !errdefs.IsNotModified(err) {
		t.Errorf("second start: %v, want not modified", err)
	}
	if err := h.s.Stop(context.Background(), id, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	st := h.state(id)
	if st.Running || st.ExitCode != 143 {
		t.Errorf("after stop: %+v", st)
	}
	acts := strings.Join(h.events.actions(id), ",")
	if !strings.HasSuffix(acts, "kill,die,stop") {
		t.Errorf("events %s", acts)
	}
	if k := h.events.find(id, "kill"); k.Actor.Attributes["signal"] != "15" {
		t.Errorf("kill signal attribute %q", k.Actor.Attributes["signal"])
	}
	if err := h.s.Stop(context.Background(), id, StopOptions{}); !errdefs.IsNotModified(err) {
		t.Errorf("stop of a stopped container: %v", err)
	}

	// A process that ignores SIGTERM is killed after the timeout.
	id2 := h.create("stubborn", "trap")
	h.start(id2)
	zero := 0
	begin := time.Now()
	if err := h.s.Stop(context.Background(), id2, StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) > 2*time.Second {
		t.Error("stop -t 0 waited")
	}
	if st := h.state(id2); st.ExitCode != 137 {
		t.Errorf("exit %d, want 137", st.ExitCode)
	}
	sh := h.shims
	_ = sh
}

func TestKill(t *testing.T) {
	h := newHarness(t)
	id := h.create("kk", "sleep")
	err := h.s.Kill(context.Background(), id, "")
	if !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is not running" {
		t.Errorf("kill of created: %v", err)
	}
	h.start(id)
	if err := h.s.Kill(context.Background(), id, "SIGFOO"); !errdefs.IsInvalidArgument(err) || err.Error() != "Invalid signal: SIGFOO" {
		t.Errorf("bad signal: %v", err)
	}
	sh := h.shims.get(h.s.cfg.shimDir(id))
	if err := h.s.Kill(context.Background(), id, "HUP"); err != nil {
		t.Fatal(err)
	}
	if st := h.state(id); !st.Running {
		t.Error("HUP stopped the container")
	}
	if err := h.s.Kill(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	if st := h.state(id); st.Running || st.ExitCode != 137 {
		t.Errorf("after kill: %+v", st)
	}
	if sigs := sh.gotSignals(); len(sigs) != 2 || sigs[0] != syscall.SIGHUP || sigs[1] != syscall.SIGKILL {
		t.Errorf("signals %v", sigs)
	}
}

func TestPauseUnpause(t *testing.T) {
	h := newHarness(t)
	id := h.create("pp", "sleep")
	if err := h.s.Pause(context.Background(), id); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("pause created: %v", err)
	}
	h.start(id)
	if err := h.s.Unpause(context.Background(), id); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is not paused" {
		t.Errorf("unpause running: %v", err)
	}
	if err := h.s.Pause(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	st := h.state(id)
	if st.StateString() != containertypes.StatePaused || !strings.HasSuffix(st.HumanString(time.Now()), "(Paused)") {
		t.Errorf("paused state %q %q", st.StateString(), st.HumanString(time.Now()))
	}
	if err := h.s.Pause(context.Background(), id); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is already paused") {
		t.Errorf("pause paused: %v", err)
	}
	if err := h.s.Start(context.Background(), id); !errdefs.IsConflict(err) {
		t.Errorf("start paused: %v", err)
	}
	err := h.s.Remove(context.Background(), id, RemoveOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "container is paused and must be unpaused first") {
		t.Errorf("rm paused: %v", err)
	}
	if err := h.s.Unpause(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if acts := strings.Join(h.events.actions(id), ","); !strings.HasSuffix(acts, "pause,unpause") {
		t.Errorf("events %s", acts)
	}
}

func TestRemove(t *testing.T) {
	h := newHarness(t)
	id := h.create("web", "sleep")
	h.start(id)
	err := h.s.Remove(context.Background(), "web", RemoveOptions{})
	want := `cannot remove container "/web": container is running: stop the container before removing or force remove`
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Errorf("rm running: %v", err)
	}
	removed := h.waitExit(id, "removed")
	if err := h.s.Remove(context.Background(), "web", RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if r := recvResult(t, removed); r.StatusCode != 137 {
		t.Errorf("removed wait = %+v", r)
	}
	if _, err := h.s.Inspect(context.Background(), id, false); !errdefs.IsNotFound(err) || err.Error() != "No such container: "+id {
		t.Errorf("inspect removed: %v", err)
	}
	if layers, mounted := h.layers.count(); layers != 0 || mounted != 0 || h.net.count() != 0 {
		t.Errorf("left %d layers %d mounts %d endpoints", layers, mounted, h.net.count())
	}
	if _, err := os.Stat(filepath.Join(h.cfg.Root, id)); !os.IsNotExist(err) {
		t.Error("directory left behind")
	}
	if acts := strings.Join(h.events.actions(id), ","); !strings.HasSuffix(acts, "kill,die,destroy") {
		t.Errorf("events %s", acts)
	}
	h.create("web", "true") // the name is free again
}

func TestAutoRemove(t *testing.T) {
	h := newHarness(t)
	id := h.createWith(CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{AutoRemove: true}})
	removed := h.waitExit(id, "removed")
	h.start(id)
	if r := recvResult(t, removed); r.StatusCode != 0 {
		t.Errorf("exit code %d", r.StatusCode)
	}
	if h.s.idx.len() != 0 {
		t.Error("--rm container still listed")
	}
	// --rm with a failed start removes the container too.
	id = h.createWith(CreateOptions{Config: cfgWith("nope"), HostConfig: &containertypes.HostConfig{AutoRemove: true}})
	removed = h.waitExit(id, "removed")
	if err := h.s.Start(context.Background(), id); err == nil {
		t.Fatal("start of nope succeeded")
	}
	if r := recvResult(t, removed); r.StatusCode != 127 {
		t.Errorf("removed after failed start: %+v", r)
	}
}

func TestRestartPolicyOnFailure(t *testing.T) {
	h := newHarness(t)
	id := h.createWith(CreateOptions{Config: cfgWith("false"), HostConfig: &containertypes.HostConfig{
		RestartPolicy: containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}}})
	h.start(id)
	eventually(t, "two restarts then stop", func() bool {
		c := h.inspect(id)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.RestartCount == 2 && !c.State.Running
	})
	st := h.state(id)
	if st.ExitCode != 1 || st.StateString() != containertypes.StateExited {
		t.Errorf("final state %+v", st)
	}
	if n := strings.Count(strings.Join(h.events.actions(id), ","), "start"); n != 3 {
		t.Errorf("%d starts, want 3", n)
	}
}

func TestRestartPolicyAlwaysAndStop(t *testing.T) {
	h := newHarness(t)
	id := h.createWith(CreateOptions{Config: cfgWith("sleep"), HostConfig: &containertypes.HostConfig{
		RestartPolicy: containertypes.RestartPolicy{Name: "always"}}})
	h.start(id)
	// The process dies on its own: the policy brings it back.
	h.shims.get(h.s.cfg.shimDir(id)).finish(3)
	eventually(t, "restart", func() bool {
		c := h.inspect(id)
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.RestartCount == 1 && c.State.Running && !c.State.Restarting
	})
	// docker stop is final.
	if err := h.s.Stop(context.Background(), id, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := h.state(id); st.Running || st.Restarting {
		t.Errorf("after stop: %+v", st)
	}
	c := h.inspect(id)
	c.mu.Lock()
	manual := c.HasBeenManuallyStopped
	c.mu.Unlock()
	if !manual {
		t.Error("stop did not mark a manual stop")
	}
}

func TestStopWhileRestarting(t *testing.T) {
	h := newHarness(t)
	id := h.createWith(CreateOptions{Config: cfgWith("false"), HostConfig: &containertypes.HostConfig{
		RestartPolicy: containertypes.RestartPolicy{Name: "always"}}})
	c := h.inspect(id)
	// A long back-off keeps the container in "restarting".
	c.mu.Lock()
	c.restart.timeout = 30 * time.Second
	c.mu.Unlock()
	h.start(id)
	eventually(t, "restarting", func() bool { return h.state(id).Restarting })
	st := h.state(id)
	if st.StateString() != containertypes.StateRestarting || !strings.HasPrefix(st.HumanString(time.Now()), "Restarting (1)") {
		t.Errorf("restarting: %q %q", st.StateString(), st.HumanString(time.Now()))
	}
	if err := h.s.Stop(context.Background(), id, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := h.state(id); st.Running || st.Restarting || st.StateString() != containertypes.StateExited {
		t.Errorf("after stop: %+v", st)
	}
}

// TestRemoveForceWhileRestarting: rm -f wins over a restart policy at
// any moment of a container that keeps exiting: between runs, during a
// run, or while the shim already reports the process gone.
func TestRemoveForceWhileRestarting(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < 40; i++ {
		id := h.createWith(CreateOptions{Config: cfgWith("false"), HostConfig: &containertypes.HostConfig{
			RestartPolicy: containertypes.RestartPolicy{Name: "always"}}})
		c := h.inspect(id)
		c.mu.Lock()
		c.restart.timeout = time.Millisecond // back-off from 2 ms: many runs
		c.mu.Unlock()
		h.start(id)
		time.Sleep(time.Duration(i%8) * time.Millisecond)
		if err := h.s.Remove(context.Background(), id, RemoveOptions{Force: true}); err != nil {
			t.Fatalf("rm -f #%d: %v", i, err)
		}
		if _, err := h.s.idx.get(id); err == nil {
			t.Fatalf("container #%d still exists after rm -f", i)
		}
	}
}

func TestRestartCommand(t *testing.T) {
	h := newHarness(t)
	id := h.createWith(CreateOptions{Config: cfgWith("sleep"), HostConfig: &containertypes.HostConfig{AutoRemove: true}})
	h.start(id)
	if err := h.s.Restart(context.Background(), id, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	// --rm does not apply to the exit of a restart.
	if st := h.state(id); !st.Running {
		t.Errorf("after restart: %+v", st)
	}
	if acts := strings.Join(h.events.actions(id), ","); !strings.HasSuffix(acts, "kill,die,stop,start,restart") {
		t.Errorf("events %s", acts)
	}
}

func TestWaitConditions(t *testing.T) {
	h := newHarness(t)
	id := h.create("ww", "sleep")
	// not-running on a created container answers at once.
	if r := recvResult(t, h.waitExit(id, "not-running")); r.StatusCode != 0 {
		t.Errorf("not-running = %+v", r)
	}
	next := h.waitExit(id, "next-exit")
	h.start(id)
	notRunning := h.waitExit(id, "not-running")
	select {
	case r := <-notRunning:
		t.Fatalf("not-running answered while running: %+v", r)
	default:
	}
	if err := h.s.Kill(context.Background(), id, "KILL"); err != nil {
		t.Fatal(err)
	}
	if r := recvResult(t, next); r.StatusCode != 137 {
		t.Errorf("next-exit = %+v", r)
	}
	if r := recvResult(t, notRunning); r.StatusCode != 137 {
		t.Errorf("not-running = %+v", r)
	}
	if _, err := h.s.Wait(context.Background(), id, "sometimes"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad condition: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := h.s.Wait(ctx, id, "next-exit")
	cancel()
	select {
	case r := <-ch:
		t.Errorf("cancelled wait answered %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestRenameAndUpdate(t *testing.T) {
	h := newHarness(t)
	id := h.create("old", "sleep")
	h.create("taken", "sleep")
	if err := h.s.Rename(context.Background(), "old", "taken"); !errdefs.IsConflict(err) {
		t.Errorf("rename onto a taken name: %v", err)
	}
	if err := h.s.Rename(context.Background(), "old", "old"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("rename to same: %v", err)
	}
	if err := h.s.Rename(context.Background(), "old", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.Inspect(context.Background(), "old", false); !errdefs.IsNotFound(err) {
		t.Error("old name still resolves")
	}
	if got, _ := h.s.Inspect(context.Background(), "new", false); got == nil || got.ID != id {
		t.Error("new name does not resolve")
	}
	if m := h.events.find(id, "rename"); m == nil || m.Actor.Attributes["oldName"] != "/old" || m.Actor.Attributes["name"] != "new" {
		t.Errorf("rename event %+v", m)
	}
	resp, err := h.s.Update(context.Background(), "new", containertypes.UpdateConfig{RestartPolicy: containertypes.RestartPolicy{Name: "unless-stopped"}})
	if err != nil || resp.Warnings == nil {
		t.Fatalf("update: %+v %v", resp, err)
	}
	if got, _ := h.s.Inspect(context.Background(), id, false); got.HostConfig.RestartPolicy.Name != "unless-stopped" {
		t.Errorf("policy %q", got.HostConfig.RestartPolicy.Name)
	}
	if _, err := h.s.Update(context.Background(), id, containertypes.UpdateConfig{RestartPolicy: containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad policy update: %v", err)
	}
}

func TestExec(t *testing.T) {
	h := newHarness(t)
	id := h.create("xx", "sleep")
	if _, err := h.s.Execs().Create(context.Background(), id, containertypes.ExecCreateRequest{Cmd: []string{"echo", "hi"}}); !errdefs.IsConflict(err) {
		t.Errorf("exec in a created container: %v", err)
	}
	h.start(id)
	eid, err := h.s.Execs().Create(context.Background(), id, containertypes.ExecCreateRequest{Cmd: []string{"echo", "hi"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	if m := h.events.find(id, "exec_create: echo hi"); m == nil || m.Actor.Attributes["execID"] != eid {
		t.Errorf("exec_create event %+v", m)
	}
	client := newPipeClient()
	go func() {
		if err := h.s.Execs().Start(context.Background(), eid, ExecStartOptions{GetStream: client.getStream}); err != nil {
			t.Error(err)
		}
		client.server.Close()
	}()
	if out := client.output(t); out != "hi\n" {
		t.Errorf("exec output %q", out)
	}
	insp, err := h.s.Execs().Inspect(context.Background(), eid)
	if err != nil || insp.Running || insp.ExitCode == nil || *insp.ExitCode != 0 || insp.ProcessConfig.Entrypoint != "echo" {
		t.Errorf("exec inspect %+v %v", insp, err)
	}
	if err := h.s.Execs().Start(context.Background(), eid, ExecStartOptions{Detach: true}); !errdefs.IsConflict(err) {
		t.Errorf("second exec start: %v", err)
	}
	if h.events.find(id, "exec_start: echo hi") == nil || h.events.find(id, "exec_die") == nil {
		t.Errorf("exec events %v", h.events.actions(id))
	}

	// A command that does not exist: the message goes into the stream,
	// the exit code is 127.
	eid, _ = h.s.Execs().Create(context.Background(), id, containertypes.ExecCreateRequest{Cmd: []string{"nope"}, AttachStdout: true})
	client2 := newPipeClient()
	go func() {
		h.s.Execs().Start(context.Background(), eid, ExecStartOptions{GetStream: client2.getStream})
		client2.server.Close()
	}()
	if out := client2.output(t); !strings.Contains(out, `exec: "nope": executable file not found in $PATH`) {
		t.Errorf("exec error output %q", out)
	}
	insp, _ = h.s.Execs().Inspect(context.Background(), eid)
	if insp.ExitCode == nil || *insp.ExitCode != 127 {
		t.Errorf("exit code %v", insp.ExitCode)
	}
	if _, err := h.s.Execs().Inspect(context.Background(), "nosuch"); !errdefs.IsNotFound(err) || err.Error() != "No such exec instance: nosuch" {
		t.Errorf("inspect unknown exec: %v", err)
	}
}

func TestAttachStdinAndDetach(t *testing.T) {
	h := newHarness(t)
	// docker run -it: a terminal, stdin, StdinOnce.
	id := h.createWith(CreateOptions{Config: &containertypes.Config{Image: "busybox", Cmd: []string{"cat"}, OpenStdin: true, StdinOnce: true, Tty: true}})
	client := newPipeClient()
	done := make(chan error, 1)
	go func() {
		done <- h.s.Attach(context.Background(), id, AttachOptions{Stdin: true, Stdout: true, Stream: true, GetStream: client.getStream})
	}()
	client.waitHijacked(t)
	h.start(id)
	client.server.Write([]byte("ping"))
	r := bufio.NewReader(client.server)
	buf := make([]byte, 4)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	client.server.Write([]byte{16, 17}) // ctrl-p ctrl-q
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("detach keys did not end the attach")
	}
	client.server.Close()
	time.Sleep(50 * time.Millisecond) // a closed stdin would end cat by now
	if st := h.state(id); !st.Running {
		t.Error("detaching closed the container's stdin")
	}
	if h.events.find(id, "detach") == nil {
		t.Errorf("no detach event: %v", h.events.actions(id))
	}
	if err := h.s.Attach(context.Background(), id, AttachOptions{DetachKeys: "ctrl-", GetStream: client.getStream}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad detach keys: %v", err)
	}
}

func TestClientGoneMidAttach(t *testing.T) {
	h := newHarness(t)
	id := h.create("svc", "sleep")
	h.start(id)
	client := newPipeClient()
	done := make(chan error, 1)
	go func() {
		done <- h.s.Attach(context.Background(), id, AttachOptions{Stdout: true, Stream: true, GetStream: client.getStream})
	}()
	client.waitHijacked(t)
	client.server.Close()
	// The next output fails to reach the client and ends the attach; the
	// container does not notice.
	sh := h.shims.get(h.s.cfg.shimDir(id))
	sh.mu.Lock()
	conns := sh.attaches
	sh.mu.Unlock()
	for _, c := range conns {
		go writeFrame(c, streamStdout, []byte("tick\n"))
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("attach did not end")
	}
	if st := h.state(id); !st.Running {
		t.Error("client disconnect stopped the container")
	}
}

func TestLogs(t *testing.T) {
	h := newHarness(t)
	id := h.create("ll", "true")
	c := h.inspect(id)
	h.logs.logs[c.LogPath] = []LogMessage{
		{Stream: "stdout", Line: []byte("one\n"), Time: time.Unix(100, 0)},
		{Stream: "stderr", Line: []byte("two\n"), Time: time.Unix(200, 0)},
	}
	tty, stream, err := h.s.Logs(context.Background(), id, LogsOptions{Stdout: true, Stderr: true, Tail: "1"})
	if err != nil || tty {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := stream(&b); err != nil {
		t.Fatal(err)
	}
	want := string([]byte{2, 0, 0, 0, 0, 0, 0, 4}) + "two\n"
	if b.String() != want {
		t.Errorf("logs %q, want %q", b.String(), want)
	}
	idNone := h.createWith(CreateOptions{Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{LogConfig: containertypes.LogConfig{Type: "none"}}})
	if _, _, err := h.s.Logs(context.Background(), idNone, LogsOptions{Stdout: true}); !errdefs.IsNotImplemented(err) || err.Error() != "configured logging driver does not support reading" {
		t.Errorf("logs with none: %v", err)
	}
	if _, _, err := h.s.Logs(context.Background(), id, LogsOptions{Stdout: true, Since: "yesterday"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad since: %v", err)
	}
}

func TestRestoreLiveAndDead(t *testing.T) {
	h := newHarness(t)
	live := h.create("live", "sleep")
	h.start(live)
	dead := h.createWith(CreateOptions{Name: "dead", Config: cfgWith("sleep"), HostConfig: &containertypes.HostConfig{
		RestartPolicy: containertypes.RestartPolicy{Name: "on-failure"}}})
	h.start(dead)
	stopped := h.createWith(CreateOptions{Name: "stopped", Config: cfgWith("true"), HostConfig: &containertypes.HostConfig{
		RestartPolicy: containertypes.RestartPolicy{Name: "unless-stopped"}}})
	h.start(stopped)
	recvResult(t, h.waitExit(stopped, "not-running")) // ... and restarting by its policy
	if err := h.s.Stop(context.Background(), stopped, StopOptions{}); err != nil && !errdefs.IsNotModified(err) {
		t.Fatal(err)
	}

	h.s.Shutdown(context.Background())
	// While the daemon is down, "dead" exits with 3.
	h.shims.vanish(h.s.cfg.shimDir(dead), 3)
	h.s = h.newService()

	if st := h.state(live); !st.Running || st.Pid != 4242 {
		t.Errorf("live container after restore: %+v", st)
	}
	if len(h.net.restored) != 1 || h.net.restored[0].ContainerID != live {
		t.Errorf("restored endpoints %v", h.net.restored)
	}
	// The dead one shows its real exit code, then on-failure restarts it.
	eventually(t, "on-failure restart after restore", func() bool {
		return h.state(dead).Running
	})
	if st := h.state(stopped); st.Running {
		t.Error("unless-stopped container that was stopped restarted")
	}
	// The live container is still controlled: stop works.
	if err := h.s.Stop(context.Background(), live, StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := h.state(live); st.Running || st.ExitCode != 143 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestRestoreFinishesRemoval(t *testing.T) {
	h := newHarness(t)
	id := h.create("gone", "true")
	c := h.inspect(id)
	c.mu.Lock()
	c.State.RemovalInProgress = true
	c.mu.Unlock()
	c.saveOrLog()
	h.restart()
	if _, err := h.s.Inspect(context.Background(), id, false); !errdefs.IsNotFound(err) {
		t.Errorf("interrupted removal not finished: %v", err)
	}
}

func TestCounts(t *testing.T) {
	h := newHarness(t)
	h.create("aa", "true")
	b := h.create("bb", "sleep")
	h.start(b)
	c := h.create("cc", "sleep")
	h.start(c)
	if err := h.s.Pause(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	all, running, paused, stopped := h.s.Counts()
	if all != 3 || running != 1 || paused != 1 || stopped != 1 {
		t.Errorf("counts %d %d %d %d", all, running, paused, stopped)
	}
}
