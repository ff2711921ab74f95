package e2e

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kind says which engine implementation is under test.
type Kind string

const (
	KindBerth  Kind = "berth"
	KindDocker Kind = "docker"
)

// Engine is the engine under test.
type Engine struct {
	Kind Kind
	// Host is the engine's address for clients, e.g. unix:///tmp/x/berth.sock.
	Host string
	// BerthBin is the berth binary (the CLI, and the daemon when Kind is
	// berth); empty when the run does not need it.
	BerthBin string
	// DataRoot, ExecRoot and Bridge are known for engines this harness
	// started (private ones), empty for an engine given by E2E_DOCKER_HOST.
	DataRoot, ExecRoot, Bridge string
	// Daemon is the daemon process when this harness started it.
	Daemon *Daemon

	dir       string // private dir holding everything the harness made for this engine
	configDir string // DOCKER_CONFIG for the stock CLI
	clis      []string
	unmount   string // a mount on the data root, undone at teardown

	mu  sync.Mutex
	cli *client.Client
}

var (
	current    *Engine
	setupErr   error
	imageErr   error // the engine runs but the test image could not be imported
	skipReason string
	builtBerth string // binary built once per test process
	buildDir   string
)

// Main sets up the engine under test for a test package, runs its tests
// and tears everything down. Use it as:
//
//	func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }
func Main(m *testing.M) int {
	return MainWith(m, MainOptions{})
}

// MainOptions tune Main for a package.
type MainOptions struct {
	// Lazy defers starting the engine to the first call of Current, so that
	// a package whose tests may all be filtered out (benchmarks) costs
	// nothing.
	Lazy bool
}

var lazyOnce sync.Once

// MainWith is Main with options.
func MainWith(m *testing.M, opts MainOptions) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	raiseParallelism()
	if os.Geteuid() != 0 {
		skipReason = "end-to-end tests need root (they start a real daemon and real containers)"
		return m.Run()
	}
	// A Ctrl-C must not leave daemons and containers behind.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: tearing down\n", s)
		teardownAll()
		os.Exit(1)
	}()
	reapStale()
	if !opts.Lazy {
		lazyOnce.Do(setupCurrent)
	}
	code := m.Run()
	if code != 0 && current != nil && current.Daemon != nil {
		// Keep the daemon's log of a failed run; the dir goes away.
		if b, err := os.ReadFile(current.Daemon.LogPath); err == nil {
			p := filepath.Join(os.TempDir(), fmt.Sprintf("e2e-%s-daemon-%s.log", current.Kind, time.Now().Format("20060102-150405")))
			if os.WriteFile(p, b, 0o644) == nil {
				fmt.Fprintf(os.Stderr, "e2e: tests failed; daemon log saved to %s\n", p)
			}
		}
	}
	teardownAll()
	return code
}

func setupCurrent() {
	start := time.Now()
	var e *Engine
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic during setup: %v", r)
			}
		}()
		e, err = setup()
	}()
	if err != nil {
		setupErr = err
		fmt.Fprintf(os.Stderr, "e2e: setup failed: %v\n", err)
		if e != nil {
			e.teardown()
		}
		return
	}
	current = e
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: engine %s at %s ready in %v\n", e.Kind, e.Host, time.Since(start).Round(time.Millisecond))
	}
}

// Current returns the engine under test with the busybox test image,
// skipping the test when there is none (not root) and failing it when
// setup failed.
func Current(t testing.TB) *Engine {
	t.Helper()
	e := CurrentWithoutImage(t)
	if imageErr != nil {
		t.Fatalf("engine has no test image: %v", imageErr)
	}
	return e
}

// CurrentWithoutImage is Current for tests that need no image.
func CurrentWithoutImage(t testing.TB) *Engine {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	lazyOnce.Do(setupCurrent)
	if setupErr != nil {
		t.Fatalf("engine setup failed: %v", setupErr)
	}
	return current
}

// BerthOnly skips the test unless berth is the engine under test.
func (e *Engine) BerthOnly(t testing.TB) {
	t.Helper()
	if e.Kind != KindBerth {
		t.Skipf("berth-only test (engine under test is %s)", e.Kind)
	}
}

// Private reports whether this harness started the engine, so its roots
// and bridge are known.
func (e *Engine) Private() bool { return e.Daemon != nil }

func targetKind() (Kind, error) {
	switch k := Kind(strings.ToLower(os.Getenv("E2E_TARGET"))); k {
	case "", KindBerth:
		return KindBerth, nil
	case KindDocker:
		return KindDocker, nil
	default:
		return "", fmt.Errorf("E2E_TARGET=%q: want berth or docker", k)
	}
}

func setup() (*Engine, error) {
	kind, err := targetKind()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "e2e-"+string(kind)+"-")
	if err != nil {
		return nil, err
	}
	e := &Engine{Kind: kind, dir: dir}
	if err := e.markOwner(); err != nil {
		return e, err
	}
	if err := e.initCLIConfig(); err != nil {
		return e, err
	}
	e.clis = []string{"docker"}
	if kind == KindBerth {
		e.clis = append(e.clis, "berth")
	}
	if v := os.Getenv("E2E_CLI"); v != "" {
		e.clis = strings.Split(v, ",")
	}
	needBerth := kind == KindBerth && os.Getenv("E2E_DOCKER_HOST") == ""
	for _, c := range e.clis {
		needBerth = needBerth || c == "berth"
	}
	if needBerth {
		if e.BerthBin, err = BerthBinary(); err != nil {
			return e, err
		}
	}
	if h := os.Getenv("E2E_DOCKER_HOST"); h != "" {
		e.Host = h
	} else {
		var d *Daemon
		switch kind {
		case KindBerth:
			d, err = NewBerthDaemon(e.BerthBin, filepath.Join(dir, "d"))
		case KindDocker:
			d, err = NewDockerd(filepath.Join(dir, "d"))
		}
		if err != nil {
			return e, err
		}
		e.adopt(d)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := d.Start(ctx); err != nil {
			return e, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitPing(ctx, e.Host, nil); err != nil {
		return e, err
	}
	if err := e.ImportBusybox(ctx); err != nil {
		// Tests that need no image (version, ping) still run.
		imageErr = fmt.Errorf("importing the busybox test image: %w", err)
		fmt.Fprintf(os.Stderr, "e2e: %v\n", imageErr)
	}
	return e, nil
}

func (e *Engine) adopt(d *Daemon) {
	e.Daemon = d
	e.Host = "unix://" + d.Socket
	e.DataRoot, e.ExecRoot, e.Bridge = d.DataRoot, d.ExecRoot, d.Bridge
}

func (e *Engine) initCLIConfig() error {
	// A private DOCKER_CONFIG keeps the user's contexts, credentials and
	// plugins out of the tests.
	e.configDir = filepath.Join(e.dir, "cli-config")
	if err := os.MkdirAll(e.configDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(e.configDir, "config.json"), []byte("{}\n"), 0o600)
}

// Client is a Go SDK client for the engine, negotiating the API version as
// third-party tools do. It is shared by the tests of a package.
func (e *Engine) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := e.sdk()
	if err != nil {
		t.Fatalf("SDK client: %v", err)
	}
	return c
}

func (e *Engine) sdk() (*client.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli == nil {
		c, err := client.New(client.WithHost(e.Host))
		if err != nil {
			return nil, err
		}
		e.cli = c
	}
	return e.cli, nil
}

// ServerVersion is the engine's version string (e.g. "20.10.24+dfsg1").
func (e *Engine) ServerVersion(t testing.TB) string {
	t.Helper()
	v, err := e.Client(t).ServerVersion(context.Background(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	return v.Version
}

// DockerOlderThan reports whether the engine is Docker older than the given
// major version; some answers changed between Docker releases and the
// tests accept both where Docker itself did.
func (e *Engine) DockerOlderThan(t testing.TB, major int) bool {
	if e.Kind != KindDocker {
		return false
	}
	var got int
	fmt.Sscanf(e.ServerVersion(t), "%d", &got)
	return got > 0 && got < major
}

// BerthBinary builds berth once per test process, as `make build` does
// (scripts/build.sh: the shim program appended), or returns E2E_BERTH.
// The binary lives in a private temp dir, so any process running it
// (shims: named by it) belongs to this test run.
func BerthBinary() (string, error) {
	if p := os.Getenv("E2E_BERTH"); p != "" {
		return filepath.Abs(p)
	}
	if builtBerth != "" {
		return builtBerth, nil
	}
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		return "", err
	}
	os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(fmt.Sprint(os.Getpid())), 0o644)
	bin := filepath.Join(dir, "berth")
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.Command(filepath.Join(root, "scripts", "build.sh"), bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("scripts/build.sh: %v\n%s", err, out)
	}
	buildDir, builtBerth = dir, bin
	return bin, nil
}

var (
	extraMu sync.Mutex
	extra   []*Engine // engines started by tests (StartBerth), torn down at the end if a test did not
)

func teardownAll() {
	extraMu.Lock()
	es := extra
	extra = nil
	extraMu.Unlock()
	for _, e := range es {
		e.teardown()
	}
	if current != nil {
		current.teardown()
		current = nil
	}
	if builtBerth != "" {
		// Anything still running our private binary (or named by it: a
		// shim started from the program appended to it) is a shim we started.
		if pids := procsRunning(builtBerth); len(pids) > 0 {
			fmt.Fprintf(os.Stderr, "e2e: LEAK: processes still running %s after teardown: %v (killed)\n", builtBerth, pids)
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		if os.Getenv("E2E_KEEP") == "" {
			os.RemoveAll(buildDir)
		}
	}
}

// teardown removes every container, stops the daemon, and removes whatever
// it left: processes, mounts, the bridge, the private dirs.
func (e *Engine) teardown() {
	if e.Daemon != nil && e.Daemon.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if err := e.removeAllContainers(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: removing containers: %v\n", err)
		}
		cancel()
	}
	e.mu.Lock()
	if e.cli != nil {
		e.cli.Close()
		e.cli = nil
	}
	e.mu.Unlock()
	if e.Daemon != nil {
		if err := e.Daemon.Cleanup(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		}
	}
	if e.unmount != "" {
		_ = unix.Unmount(e.unmount, unix.MNT_DETACH)
	}
	if os.Getenv("E2E_KEEP") == "" {
		os.RemoveAll(e.dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: kept %s\n", e.dir)
	}
}

func (e *Engine) removeAllContainers(ctx context.Context) error {
	c, err := e.sdk()
	if err != nil {
		return err
	}
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(list.Items))
	for i, ctr := range list.Items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.ContainerRemove(ctx, ctr.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// raiseParallelism lets more tests run at once than go test's default
// (GOMAXPROCS): end-to-end tests mostly wait on the engine and on
// containers, not on the CPU. An explicit -parallel or E2E_PARALLEL wins.
func raiseParallelism() {
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if explicit {
		return
	}
	n := "8"
	if v := os.Getenv("E2E_PARALLEL"); v != "" {
		n = v
	}
	flag.Set("test.parallel", n)
}

// markOwner records this test process as the owner of the engine's dir, so
// that a later run can clean up after a run that died (test timeout, panic)
// before its teardown.
func (e *Engine) markOwner() error {
	return os.WriteFile(filepath.Join(e.dir, "owner.pid"), []byte(fmt.Sprint(os.Getpid())), 0o644)
}

// reapStale cleans up what earlier runs that died left behind: their dirs
// (processes still using them, mounts, runtime state) and their bridges.
// Only dirs whose owner process is gone are touched.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "e2e-*-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		var pid int
		fmt.Sscan(string(b), &pid)
		if pid <= 0 || syscall.Kill(pid, 0) == nil {
			continue
		}
		for _, p := range procsReferring(dir) {
			syscall.Kill(p, syscall.SIGKILL)
		}
		killRuntimeContainers(dir)
		unmountAll(mountsUnder(dir))
		if br, err := os.ReadFile(filepath.Join(dir, "d", "bridge")); err == nil {
			name := strings.TrimSpace(string(br))
			if l, err := netlink.LinkByName(name); err == nil {
				netlink.LinkDel(l)
			}
			DeleteNFTable("berth-" + name)
		}
		removeBerthNetworks(filepath.Join(dir, "d", "root"))
		os.RemoveAll(dir)
		fmt.Fprintf(os.Stderr, "e2e: cleaned up %s, left by a run that died\n", dir)
	}
}
