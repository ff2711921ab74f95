package container_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	nettypes "github.com/moby/moby/api/types/network"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/busyboxtest"
	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/daemon"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/network"
	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
	"github.com/berth-dev/berth/internal/runtime/shim"
)

// The test binary doubles as the berth binary: the shim re-executes it
// as `<test binary> shim STATE-DIR`.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shim" {
		os.Exit(shim.Main(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// realEnv is the container service on the real image store, network,
// shim, runc, spec builder and log files, in private directories and on
// a bridge of its own (10.213.240.0/24 is this package's).
type realEnv struct {
	t       *testing.T
	root    string
	bridge  string
	cidr    string
	images  *image.Service
	net     *network.Service
	bus     *events.Bus
	svc     *ctr.Service
	runtime string
}

func newRealEnv(t *testing.T) *realEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"/bin/busybox", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skip("needs " + bin)
		}
	}
	// Not under t.TempDir: overlayfs mounts inside need a plain directory
	// and the runtime state must stay short of the socket path limit.
	root, err := os.MkdirTemp("", "bct")
	if err != nil {
		t.Fatal(err)
	}
	bridge, cidr := privateBridge(t)
	e := &realEnv{t: t, root: root, bridge: bridge, cidr: cidr, bus: events.New(), runtime: "runc"}
	t.Cleanup(e.cleanup)
	ctx := context.Background()
	if e.images, err = image.New(ctx, image.Config{Root: filepath.Join(root, "image"), Events: e.bus}); err != nil {
		t.Fatal(err)
	}
	if _, err := image.NewArchiver(e.images).Import(ctx, busyboxTar(t), image.ImportOptions{Repo: "busybox", Tag: "latest"}); err != nil {
		t.Fatal(err)
	}
	e.openNetwork()
	e.svc = e.newService()
	return e
}

func (e *realEnv) openNetwork() {
	e.t.Helper()
	var err error
	if e.net, err = network.New(context.Background(), network.Config{Root: filepath.Join(e.root, "network"), BridgeName: e.bridge, BridgeCIDR: e.cidr}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *realEnv) newService() *ctr.Service {
	e.t.Helper()
	s, err := ctr.New(ctr.Config{
		Root:           filepath.Join(e.root, "containers"),
		ExecRoot:       filepath.Join(e.root, "exec"),
		DefaultRuntime: e.runtime,
		Runtimes:       map[string]ctr.Runtime{"runc": {Path: "runc"}, "crun": {Path: "crun"}},
		CgroupParent:   "/berth-test",
	}, daemon.ContainerDeps(e.images, e.net, e.bus, ""))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.Restore(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// stopDaemon is the daemon going down: the services close, the
// containers keep running in their shims.
func (e *realEnv) stopDaemon() {
	e.svc.Shutdown(context.Background())
	if e.net != nil {
		e.net.Close()
	}
}

// startDaemon is the daemon coming back: new services over the same
// roots restore the containers.
func (e *realEnv) startDaemon() {
	e.t.Helper()
	e.openNetwork()
	e.svc = e.newService()
}

func (e *realEnv) cleanup() {
	ctx := context.Background()
	if e.svc != nil {
		// A fresh service finds every container, even after a test
		// that failed with the daemon "down".
		e.stopDaemon()
		e.startDaemon()
		list, _ := e.svc.List(ctx, ctr.ListOptions{All: true})
		for _, c := range list {
			if err := e.svc.Remove(ctx, c.ID, ctr.RemoveOptions{Force: true}); err != nil {
				e.t.Errorf("cleanup: rm %s: %v", c.Names[0], err)
			}
		}
		e.svc.Shutdown(ctx)
	}
	if e.net != nil {
		_ = e.net.Restore(ctx, nil)
		e.net.Close()
	}
	if t, err := nat.Setup(e.bridge, mustPrefix(e.cidr)); err == nil {
		_ = t.RemoveForwardAccept()
		_ = t.Destroy()
		t.Close()
	}
	if l, err := netlink.LinkByName(e.bridge); err == nil {
		_ = netlink.LinkDel(l)
	}
	_ = netns.ReleaseDir(filepath.Join(e.root, "network", "netns"))
	if e.images != nil {
		e.images.Close()
	}
	// Anything still mounted below root is a leak the test reports.
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mounts, []byte(e.root)) {
		e.t.Errorf("mounts left under %s", e.root)
		for _, line := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], e.root) {
				unix.Unmount(f[4], unix.MNT_DETACH)
			}
		}
	}
	os.RemoveAll(e.root)
}

// privateBridge names a bridge and a /24 under 10.213.240.0/20 that no
// interface of the host uses, so that tests of this package running at
// the same time (or other packages' tests) do not collide.
func privateBridge(t *testing.T) (string, string) {
	t.Helper()
	used := map[string]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			used[ipn.IP.Mask(net.CIDRMask(24, 32)).String()] = true
		}
	}
	var b [3]byte
	for i := 0; i < 64; i++ {
		rand.Read(b[:])
		subnet := fmt.Sprintf("10.213.%d.0", 240+int(b[0]%16))
		if !used[subnet] {
			return fmt.Sprintf("bct%02x%02x", b[1], b[2]), strings.TrimSuffix(subnet, "0") + "1/24"
		}
	}
	t.Skip("no free test subnet under 10.213.240.0/20")
	return "", ""
}

// busyboxTar is the test image's rootfs, with a page for httpd.
func busyboxTar(t *testing.T) io.Reader {
	t.Helper()
	data, err := busyboxtest.Rootfs{Files: map[string]string{"var/www/index.html": "hello from berth\n"}}.Tar()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(data)
}

func mustPrefix(cidr string) netip.Prefix {
	return netip.MustParsePrefix(cidr)
}

// pipePair is a client connection and the server end the service gets.
func pipePair() (client, server net.Conn) { return net.Pipe() }

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run is `docker run [--rm] busybox cmd...` through the service: create,
// attach, wait, start; it returns the output and the exit code.
func (e *realEnv) run(opts ctr.CreateOptions) (stdout, stderr string, code int, id string, err error) {
	ctx := context.Background()
	resp, err := e.svc.Create(ctx, opts)
	if err != nil {
		return "", "", 0, "", err
	}
	id = resp.ID
	cond := containertypes.WaitConditionNextExit
	if opts.HostConfig != nil && opts.HostConfig.AutoRemove {
		cond = containertypes.WaitConditionRemoved
	}
	client, server := pipePair()
	attached := make(chan error, 1)
	hijacked := make(chan struct{})
	go func() {
		attached <- e.svc.Attach(ctx, id, ctr.AttachOptions{Stdout: true, Stderr: true, Stream: true,
			GetStream: func(bool) (io.ReadWriteCloser, error) { close(hijacked); return server, nil }})
	}()
	<-hijacked
	waitc, err := e.svc.Wait(ctx, id, cond)
	if err != nil {
		return "", "", 0, id, err
	}
	if err := e.svc.Start(ctx, id); err != nil {
		client.Close()
		return "", "", 0, id, err
	}
	var o, er bytes.Buffer
	stdcopy.StdCopy(&o, &er, client)
	<-attached
	select {
	case r := <-waitc:
		return o.String(), er.String(), r.StatusCode, id, nil
	case <-time.After(30 * time.Second):
		return o.String(), er.String(), -1, id, fmt.Errorf("wait timed out")
	}
}

func cfg(cmd ...string) *containertypes.Config {
	return &containertypes.Config{Image: "busybox", Cmd: cmd}
}

func TestRealRun(t *testing.T) {
	e := newRealEnv(t)
	out, _, code, _, err := e.run(ctr.CreateOptions{Config: cfg("echo", "hello")})
	if err != nil || out != "hello\n" || code != 0 {
		t.Fatalf("run echo hello: %q %d %v", out, code, err)
	}
	out, errOut, code, _, err := e.run(ctr.CreateOptions{Config: cfg("sh", "-c", "echo out; echo err >&2; exit 3")})
	if err != nil || out != "out\n" || errOut != "err\n" || code != 3 {
		t.Errorf("streams and exit code: %q %q %d %v", out, errOut, code, err)
	}
	// --rm: the container is gone when the wait returns.
	before, _ := e.svc.List(context.Background(), ctr.ListOptions{All: true})
	start := time.Now()
	_, _, code, id, err := e.run(ctr.CreateOptions{Config: cfg("true"), HostConfig: &containertypes.HostConfig{AutoRemove: true}})
	t.Logf("run --rm true: %v", time.Since(start))
	if err != nil || code != 0 {
		t.Fatalf("run --rm true: %d %v", code, err)
	}
	if _, err := e.svc.Inspect(context.Background(), id, false); !errdefs.IsNotFound(err) {
		t.Errorf("--rm container still there: %v", err)
	}
	after, _ := e.svc.List(context.Background(), ctr.ListOptions{All: true})
	if len(after) != len(before) {
		t.Errorf("%d containers before, %d after --rm", len(before), len(after))
	}
	// A command that does not exist.
	_, _, _, id, err = e.run(ctr.CreateOptions{Config: cfg("nope")})
	if err == nil || !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `exec: "nope": executable file not found in $PATH`) {
		t.Errorf("run nope: %v", err)
	}
	insp, _ := e.svc.Inspect(context.Background(), id, false)
	if insp.State.ExitCode != 127 || insp.State.Status != "created" {
		t.Errorf("after nope: %+v", insp.State)
	}
}

func TestRealDetachedLifecycle(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	port := freeTCPPort(t)
	p := nettypes.MustParsePort("80/tcp")
	resp, err := e.svc.Create(ctx, ctr.CreateOptions{Name: "web", Config: &containertypes.Config{Image: "busybox",
		Cmd: []string{"httpd", "-f", "-p", "80", "-h", "/var/www"}, ExposedPorts: nettypes.PortSet{p: {}}},
		HostConfig: &containertypes.HostConfig{PortBindings: nettypes.PortMap{p: {{HostPort: fmt.Sprint(port)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.ID
	if err := e.svc.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	body := httpGetRetry(t, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if body != "hello from berth\n" {
		t.Errorf("published port answered %q", body)
	}
	insp, _ := e.svc.Inspect(ctx, "web", false)
	ep := insp.NetworkSettings.Networks["bridge"]
	if ep == nil || !strings.HasPrefix(ep.IPAddress.String(), "10.213.") || len(insp.NetworkSettings.Ports[p]) == 0 ||
		insp.NetworkSettings.Ports[p][0].HostPort != fmt.Sprint(port) {
		t.Errorf("network settings %+v", insp.NetworkSettings)
	}

	// exec, top, logs
	eid, err := e.svc.Execs().Create(ctx, "web", containertypes.ExecCreateRequest{Cmd: []string{"sh", "-c", "echo in-$HOSTNAME"}, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	client, server := pipePair()
	go e.svc.Execs().Start(ctx, eid, ctr.ExecStartOptions{GetStream: func(bool) (io.ReadWriteCloser, error) { return server, nil }})
	var out bytes.Buffer
	stdcopy.StdCopy(&out, io.Discard, client)
	if out.String() != "in-"+id[:12]+"\n" {
		t.Errorf("exec output %q", out.String())
	}
	if ei, _ := e.svc.Execs().Inspect(ctx, eid); ei.ExitCode == nil || *ei.ExitCode != 0 {
		t.Errorf("exec inspect %+v", ei)
	}
	top, err := e.svc.Top(ctx, "web", "")
	if err != nil || len(top.Processes) != 1 || !strings.Contains(strings.Join(top.Processes[0], " "), "httpd -f -p 80") {
		t.Errorf("top %+v %v", top, err)
	}

	// stop: httpd as PID 1 ignores SIGTERM (as under Docker): killed
	// after the timeout.
	one := 1
	start := time.Now()
	if err := e.svc.Stop(ctx, "web", ctr.StopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stop took %v", d)
	}
	insp, _ = e.svc.Inspect(ctx, "web", false)
	if insp.State.Status != "exited" || insp.State.ExitCode != 137 {
		t.Errorf("after stop %+v", insp.State)
	}
	// The port is free again: another container can take it at once.
	resp2, err := e.svc.Create(ctx, ctr.CreateOptions{Name: "web2", Config: cfg("sleep", "1000"),
		HostConfig: &containertypes.HostConfig{PortBindings: nettypes.PortMap{p: {{HostPort: fmt.Sprint(port)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx, resp2.ID); err != nil {
		t.Errorf("port not released by stop: %v", err)
	}
	if err := e.svc.Remove(ctx, resp2.ID, ctr.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	// start again, kill -s HUP keeps it, rm -f
	if err := e.svc.Start(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Kill(ctx, "web", "HUP"); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Restart(ctx, "web", ctr.StopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if body := httpGetRetry(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); body != "hello from berth\n" {
		t.Errorf("after restart %q", body)
	}
	if err := e.svc.Remove(ctx, "web", ctr.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.root, "network", "netns")); len(entries) != 0 {
		t.Errorf("network namespaces left: %d", len(entries))
	}
}

func TestRealStopTimeoutAndLogs(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	// PID 1 ignores SIGTERM without a handler: stop -t 1 kills after 1s.
	resp, err := e.svc.Create(ctx, ctr.CreateOptions{Config: cfg("sh", "-c", "echo started; exec sleep 1000")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	one := 1
	start := time.Now()
	if err := e.svc.Stop(ctx, resp.ID, ctr.StopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Errorf("stop -t 1 took %v", d)
	}
	insp, _ := e.svc.Inspect(ctx, resp.ID, false)
	if insp.State.ExitCode != 137 {
		t.Errorf("exit code %d, want 137", insp.State.ExitCode)
	}
	_, stream, err := e.svc.Logs(ctx, resp.ID, ctr.LogsOptions{Stdout: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	stream(&b)
	var out bytes.Buffer
	stdcopy.StdCopy(&out, io.Discard, &b)
	if !strings.HasSuffix(out.String(), " started\n") || !strings.HasPrefix(out.String(), "20") {
		t.Errorf("logs %q", out.String())
	}
}

func TestRealLiveRestore(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	live, _ := e.svc.Create(ctx, ctr.CreateOptions{Name: "live", Config: cfg("sleep", "1000")})
	dies, _ := e.svc.Create(ctx, ctr.CreateOptions{Name: "dies", Config: cfg("sleep", "1000")})
	for _, id := range []string{live.ID, dies.ID} {
		if err := e.svc.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	e.stopDaemon()
	// While the daemon is away, "dies" is killed; its shim records the
	// exit and goes away.
	before, _ := e.svc.Inspect(ctx, dies.ID, false)
	if err := unix.Kill(before.State.Pid, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	exitFile := filepath.Join(e.root, "exec", "shims", dies.ID[:16], "exit.json")
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(exitFile); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.startDaemon()

	insp, _ := e.svc.Inspect(ctx, "live", false)
	if !insp.State.Running {
		t.Fatalf("live container lost: %+v", insp.State)
	}
	insp, _ = e.svc.Inspect(ctx, "dies", false)
	if insp.State.Running || insp.State.ExitCode != 137 {
		t.Errorf("container that died while down: %+v", insp.State)
	}
	if err := e.svc.Stop(ctx, "live", ctr.StopOptions{Timeout: new(int)}); err != nil {
		t.Fatal(err)
	}
}

// httpGetRetry gets url, retrying while the server in the container is
// still starting to listen.
func httpGetRetry(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if resp, err = c.Get(url); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestRealInteractive is `docker run -it busybox sh`: a terminal,
// stdin, the detach keys, then `docker attach` and exit with a code.
func TestRealInteractive(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	resp, err := e.svc.Create(ctx, ctr.CreateOptions{Config: &containertypes.Config{Image: "busybox", Cmd: []string{"sh"},
		Tty: true, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.ID
	attach := func() (net.Conn, chan error) {
		client, server := pipePair()
		done := make(chan error, 1)
		hijacked := make(chan struct{})
		go func() {
			done <- e.svc.Attach(ctx, id, ctr.AttachOptions{Stdin: true, Stdout: true, Stderr: true, Stream: true,
				GetStream: func(tty bool) (io.ReadWriteCloser, error) {
					if !tty {
						t.Error("attach to a tty container announced a multiplexed stream")
					}
					close(hijacked)
					return server, nil
				}})
		}()
		<-hijacked
		return client, done
	}
	client, done := attach()
	exited, _ := e.svc.Wait(ctx, id, containertypes.WaitConditionNextExit)
	if err := e.svc.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Resize(ctx, id, 30, 100); err != nil {
		t.Errorf("resize: %v", err)
	}
	expect := func(c net.Conn, want string) {
		t.Helper()
		var got []byte
		buf := make([]byte, 1024)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for !bytes.Contains(got, []byte(want)) {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				t.Fatalf("reading the terminal: %v; got %q, want %q", err, got, want)
			}
		}
	}
	client.Write([]byte("stty size; echo hel''lo\n"))
	expect(client, "hello")
	client.Write([]byte{16, 17}) // ctrl-p ctrl-q
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the detach keys did not detach")
	}
	client.Close()
	if insp, _ := e.svc.Inspect(ctx, id, false); !insp.State.Running {
		t.Fatal("the shell did not survive the detach")
	}
	// docker attach: the same shell, still reading its terminal.
	client, done = attach()
	client.Write([]byte("echo wor''ld; exit 3\n"))
	expect(client, "world")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the attach did not end with the shell")
	}
	select {
	case r := <-exited:
		if r.StatusCode != 3 {
			t.Errorf("exit code %d, want 3", r.StatusCode)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit")
	}
}

func TestRealPauseAndPolicy(t *testing.T) {
	e := newRealEnv(t)
	ctx := context.Background()
	resp, err := e.svc.Create(ctx, ctr.CreateOptions{Config: cfg("sleep", "1000")})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Pause(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	if insp, _ := e.svc.Inspect(ctx, resp.ID, false); insp.State.Status != "paused" {
		t.Errorf("status %q", insp.State.Status)
	}
	if err := e.svc.Unpause(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	// A paused container stops too (docker stop thaws it for the kill).
	if err := e.svc.Pause(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Stop(ctx, resp.ID, ctr.StopOptions{Timeout: new(int)}); err != nil {
		t.Fatal(err)
	}
	if insp, _ := e.svc.Inspect(ctx, resp.ID, false); insp.State.Status != "exited" || insp.State.ExitCode != 137 {
		t.Errorf("stop of a paused container: %+v", insp.State)
	}

	// on-failure:2 — three runs, two restarts, then exited (1).
	resp, err = e.svc.Create(ctx, ctr.CreateOptions{Config: cfg("sh", "-c", "echo run; exit 1"),
		HostConfig: &containertypes.HostConfig{RestartPolicy: containertypes.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	_, sub, cancel := e.bus.Subscribe(time.Time{})
	defer cancel()
	if err := e.svc.Start(ctx, resp.ID); err != nil {
		t.Fatal(err)
	}
	dies := 0
	timeout := time.After(20 * time.Second)
	for dies < 3 {
		select {
		case m := <-sub:
			if m.Actor.ID == resp.ID && m.Action == "die" {
				dies++
			}
		case <-timeout:
			t.Fatalf("%d runs, want 3", dies)
		}
	}
	r, _ := e.svc.Wait(ctx, resp.ID, containertypes.WaitConditionNotRunning)
	<-r
	insp, _ := e.svc.Inspect(ctx, resp.ID, false)
	if insp.RestartCount != 2 || insp.State.Status != "exited" || insp.State.ExitCode != 1 {
		t.Errorf("after on-failure:2: count %d state %+v", insp.RestartCount, insp.State)
	}
	_, stream, _ := e.svc.Logs(ctx, resp.ID, ctr.LogsOptions{Stdout: true})
	var b bytes.Buffer
	stream(&b)
	var out bytes.Buffer
	stdcopy.StdCopy(&out, io.Discard, &b)
	if out.String() != "run\nrun\nrun\n" {
		t.Errorf("logs of three runs %q", out.String())
	}
}
