package container

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
)

// harness is a Service on the fakes of fakes_test.go, with its
// directories under t.TempDir; its methods drive it as the router does.
type harness struct {
	t      *testing.T
	s      *Service
	cfg    Config
	deps   Deps
	images *fakeImages
	layers *fakeLayers
	net    *fakeNetwork
	shims  *fakeShims
	events *fakeEvents
	logs   *fakeLogs
}

const busyboxID = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t}
	img := &Image{ID: busyboxID, RepoTags: []string{"busybox:latest"}}
	img.Config.Config = dockerspec.DockerOCIImageConfig{}
	img.Config.Config.Cmd = []string{"sh"}
	img.Config.Config.Env = []string{"PATH=/bin"}
	h.images = &fakeImages{images: map[string]*Image{"busybox": img, "busybox:latest": img}}
	h.layers = &fakeLayers{root: filepath.Join(dir, "layers"), layers: map[string]bool{}, mounted: map[string]bool{}}
	h.net = newFakeNetwork()
	h.shims = &fakeShims{live: map[string]*fakeShim{}, exits: map[string]*Exit{}}
	h.events = &fakeEvents{ch: make(chan events.Message, 1024)}
	h.logs = &fakeLogs{logs: map[string][]LogMessage{}}
	h.cfg = Config{Root: filepath.Join(dir, "containers"), ExecRoot: filepath.Join(dir, "exec")}
	h.deps = Deps{
		Images: h.images, Layers: h.layers, Network: h.net, Shims: h.shims, Events: h.events,
		Spec: fakeSpec, Resources: fakeResources, ExecProcess: fakeExecProcess, ReadLogs: h.logs.read, ValidateLogOpts: validateLogOpts,
	}
	h.s = h.newService()
	return h
}

func (h *harness) newService() *Service {
	h.t.Helper()
	s, err := New(h.cfg, h.deps)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := s.Restore(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// restart simulates a daemon restart: the old service shuts down (its
// containers keep running in their shims), a new one restores.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.s.Shutdown(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.s = h.newService()
}

func (h *harness) create(name string, cmd ...string) string {
	h.t.Helper()
	return h.createWith(CreateOptions{Name: name, Config: cfgWith(cmd...)})
}

func (h *harness) createWith(opts CreateOptions) string {
	h.t.Helper()
	resp, err := h.s.Create(context.Background(), opts)
	if err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return resp.ID
}

func (h *harness) inspect(ref string) *Container {
	h.t.Helper()
	c, err := h.s.idx.get(ref)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) state(ref string) State {
	h.t.Helper()
	c := h.inspect(ref)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.State
}

// waitFor waits for the next-exit of ref (registered now).
func (h *harness) waitExit(ref string, cond string) <-chan WaitResult {
	h.t.Helper()
	ch, err := h.s.Wait(context.Background(), ref, waitCond(cond))
	if err != nil {
		h.t.Fatal(err)
	}
	return ch
}

func recvResult(t *testing.T, ch <-chan WaitResult) WaitResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting")
	}
	return WaitResult{}
}

// eventually waits for cond, for asynchronous effects (restarts).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// FakeService is a Service on this package's fakes, for the tests of
// package container_test that drive it through the router and the SDK.
func FakeService(t *testing.T) *Service { return newHarness(t).s }

func cfgWith(cmd ...string) *containertypes.Config {
	return &containertypes.Config{Image: "busybox", Cmd: cmd}
}

func waitCond(s string) containertypes.WaitCondition { return containertypes.WaitCondition(s) }

func (h *harness) start(id string) {
	h.t.Helper()
	if err := h.s.Start(context.Background(), id); err != nil {
		h.t.Fatalf("start: %v", err)
	}
}

// pipeClient is a client connection for attach and exec tests.
type pipeClient struct {
	client, server net.Conn
	hijacked       chan struct{}
}

func newPipeClient() *pipeClient {
	c, s := net.Pipe()
	return &pipeClient{client: c, server: s, hijacked: make(chan struct{})}
}

func (p *pipeClient) getStream(tty bool) (io.ReadWriteCloser, error) {
	close(p.hijacked)
	return p.client, nil
}

func (p *pipeClient) waitHijacked(t *testing.T) {
	t.Helper()
	select {
	case <-p.hijacked:
	case <-time.After(5 * time.Second):
		t.Fatal("never hijacked")
	}
}

// output reads the demultiplexed stream to its end: stdout and stderr
// together.
func (p *pipeClient) output(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	_, _ = stdcopy.StdCopy(&b, &b, p.server)
	return b.String()
}

type attachClient struct {
	*pipeClient
	done chan error
}

func (h *harness) attach(t *testing.T, id string, opts AttachOptions) *attachClient {
	t.Helper()
	p := newPipeClient()
	opts.GetStream = p.getStream
	a := &attachClient{pipeClient: p, done: make(chan error, 1)}
	go func() {
		a.done <- h.s.Attach(context.Background(), id, opts)
		p.client.Close()
	}()
	p.waitHijacked(t)
	return a
}
