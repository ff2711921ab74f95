package core

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestDaemonConfiguration: daemon.json keys and flags as Docker's: several
// -H listeners (unix and tcp), --pidfile, --add-runtime, log-driver and
// log-opts defaults for new containers.
func TestDaemonConfiguration(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	port := e2e.FreePort(t)
	d := e2e.StartConfiguredBerth(t, `{"log-driver": "local", "log-opts": {"max-size": "1m"}}`,
		"-H", fmt.Sprintf("tcp://127.0.0.1:%d", port), "--add-runtime", "myrunc=/usr/sbin/runc")
	unix := e.Docker().WithEnv("DOCKER_HOST=unix://" + d.Socket)
	tcp := e.Docker().WithEnv(fmt.Sprintf("DOCKER_HOST=tcp://127.0.0.1:%d", port))

	tar, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	unix.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tar)}, "import", "-", "busybox").OK(t)
	tcp.Run(t, "images", "--format", "{{.Repository}}").Assert(t, 0, "busybox")

	pid, err := os.ReadFile(filepath.Join(d.Dir, "berth.pid"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(d.Pid()) {
		t.Errorf("pidfile %q (%v), daemon pid %d", pid, err, d.Pid())
	}
	tcp.Run(t, "info", "--format", "{{.LoggingDriver}} {{json .Runtimes}}").Assert(t, 0, "local ", `"myrunc"`)

	tcp.Run(t, "run", "--name", "cfg", "--runtime", "myrunc", "busybox", "echo", "through tcp").Assert(t, 0, "through tcp")
	unix.Run(t, "inspect", "--format", "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}} {{.HostConfig.Runtime}}", "cfg").
		Assert(t, 0, "local 1m myrunc")
	unix.Run(t, "logs", "cfg").Assert(t, 0, "through tcp")
	unix.Run(t, "rm", "cfg").OK(t)
}

// TestDaemonConfigErrors: a daemon.json with an unknown key, or a flag with
// a bad value, stops the daemon at start with a message naming it.
func TestDaemonConfigErrors(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	bin, err := e2e.BerthBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "daemon.json")
	os.WriteFile(cfg, []byte(`{"log-drivr": "local"}`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--config-file", cfg}, "log-drivr"},
		{[]string{"--config-file", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"--log-level", "chatty"}, "chatty"},
		{[]string{"-H", "udp://1.2.3.4:5"}, "udp"},
		{[]string{"--add-runtime", "nopath"}, "nopath"},
	} {
		args := append([]string{"daemon", "--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
			"--bridge", "e2ebad0"}, c.args...)
		if !slices.Contains(c.args, "-H") {
			args = append(args, "-H", "unix://"+filepath.Join(dir, "b.sock"))
		}
		if !slices.Contains(c.args, "--config-file") {
			os.WriteFile(filepath.Join(dir, "empty.json"), []byte("{}"), 0o644)
			args = append(args, "--config-file", filepath.Join(dir, "empty.json"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("berth %s: err %v, output %q; want a failure naming %q", strings.Join(c.args, " "), err, out, c.want)
		}
		// Refused at start: nothing was created on the host.
		if _, err := net.InterfaceByName("e2ebad0"); err == nil {
			exec.Command("ip", "link", "del", "e2ebad0").Run()
			t.Errorf("berth %s: the bridge was created before the configuration was refused", strings.Join(c.args, " "))
		}
	}
}

// TestDaemonSocketActivation: -H fd:// serves on a socket passed in by a
// service manager (LISTEN_FDS, from fd 3).
func TestDaemonSocketActivation(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	bin, err := e2e.BerthBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "activated.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // the socket file stays for the daemon
	f, err := ul.File()
	l.Close()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}"), 0o644)
	cmd := exec.Command(bin, "daemon", "--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"-H", "fd://", "--bridge", "e2efd0", "--config-file", filepath.Join(dir, "daemon.json"))
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = append(os.Environ(), "LISTEN_FDS=1")
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		exec.Command("ip", "link", "del", "e2efd0").Run()
		exec.Command("umount", "-l", filepath.Join(dir, "exec", "netns")).Run()
	})
	cli := e.Docker().WithEnv("DOCKER_HOST=unix://" + sock)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := cli.Run(t, "version", "--format", "{{.Server.Version}}")
		if r.Code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on the activated socket: %s\n--- daemon log ---\n%s", r, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDaemonDefaultRuntime: --runtime makes crun the runtime of new
// containers, and --log-level warn keeps the daemon's log to warnings.
func TestDaemonDefaultRuntime(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	if ok, why := crunUsable(); !ok {
		t.Skip(why)
	}
	d := e2e.StartConfiguredBerth(t, "{}", "--runtime", "crun", "--log-level", "warn")
	c := e.Docker().WithEnv("DOCKER_HOST=unix://" + d.Socket)
	tar, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tar)}, "import", "-", "busybox").OK(t)
	c.Run(t, "info", "--format", "{{.DefaultRuntime}}").Assert(t, 0, "crun")
	c.Run(t, "run", "-d", "--name", "dflt", "busybox", "sleep", "1000").OK(t)
	id := c.Run(t, "inspect", "--format", "{{.Id}} {{.HostConfig.Runtime}}", "dflt").Assert(t, 0, " crun").Stdout[:64]
	if m, _ := filepath.Glob(filepath.Join(d.ExecRoot, "*", id, "status")); len(m) == 0 {
		t.Errorf("no crun state for %s under %s", id, d.ExecRoot)
	}
	c.Run(t, "run", "--rm", "--runtime", "runc", "busybox", "echo", "runc still there").Assert(t, 0, "runc still there")
	c.Run(t, "rm", "-f", "dflt").OK(t)
	for _, l := range strings.Split(d.LogTail(1000), "\n") {
		if strings.Contains(l, "level=DEBUG") || strings.Contains(l, "level=INFO") {
			t.Errorf("--log-level warn logged: %s", l)
			break
		}
	}
}
