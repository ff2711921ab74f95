package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/network/nat"
	"github.com/berth-dev/berth/internal/network/netns"
)

// Daemon is an engine daemon process this harness started, on private
// roots, a private socket and a private bridge.
type Daemon struct {
	Kind     Kind
	Bin      string
	Dir      string // everything of this daemon lives under Dir
	DataRoot string
	ExecRoot string
	Socket   string
	Bridge   string
	LogPath  string
	// ExtraArgs are appended to the daemon's command line.
	ExtraArgs []string
	// NetNS, when set, is the path of a network namespace the daemon runs
	// in (and with it everything it starts): for tests that change the
	// firewall, which other engines on the host rely on.
	NetNS string

	ownBridge bool // the harness created the bridge (dockerd needs it to exist)

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// NewBerthDaemon prepares (does not start) a berth daemon under dir.
func NewBerthDaemon(bin, dir string) (*Daemon, error) {
	d, err := newDaemon(KindBerth, bin, dir, "berth.sock")
	if err != nil {
		return nil, err
	}
	// An empty daemon.json keeps the host's /etc/berth/daemon.json out.
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return nil, err
	}
	return d, nil
}

// NewDockerd prepares a reference dockerd (/usr/sbin/dockerd, or
// E2E_DOCKERD) under dir. It gets its own bridge, created here with a free
// /24, and runs with --iptables=false so that it never touches the host's
// firewall rules (which other engines on this host use); published ports
// then go through Docker's userland proxy, which serves 127.0.0.1 and the
// host's addresses alike.
func NewDockerd(dir string) (*Daemon, error) {
	bin := os.Getenv("E2E_DOCKERD")
	if bin == "" {
		bin = "/usr/sbin/dockerd"
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("reference dockerd: %w", err)
	}
	d, err := newDaemon(KindDocker, bin, dir, "docker.sock")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return nil, err
	}
	return d, nil
}

func newDaemon(kind Kind, bin, dir, sock string) (*Daemon, error) {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, err
	}
	d := &Daemon{
		Kind:     kind,
		Bin:      bin,
		Dir:      dir,
		DataRoot: filepath.Join(dir, "root"),
		ExecRoot: filepath.Join(dir, "exec"),
		Socket:   filepath.Join(dir, sock),
		Bridge:   uniqueBridgeName(),
		LogPath:  filepath.Join(dir, "daemon.log"),
	}
	// Recorded for reapStale, which cleans up after runs that died.
	if err := os.WriteFile(filepath.Join(dir, "bridge"), []byte(d.Bridge), 0o644); err != nil {
		return nil, err
	}
	return d, nil
}

// uniqueBridgeName is short enough for IFNAMSIZ (15) and unique per daemon.
func uniqueBridgeName() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "e2e" + hex.EncodeToString(b) // 11 chars
}

func (d *Daemon) args() []string {
	cfg := filepath.Join(d.Dir, "daemon.json")
	var a []string
	switch d.Kind {
	case KindBerth:
		a = []string{"daemon",
			"--data-root", d.DataRoot, "--exec-root", d.ExecRoot,
			"-H", "unix://" + d.Socket,
			"--config-file", cfg, "--pidfile", filepath.Join(d.Dir, "berth.pid"),
			"--log-level", "debug"}
	case KindDocker:
		a = []string{
			"--data-root", d.DataRoot, "--exec-root", d.ExecRoot,
			"-H", "unix://" + d.Socket,
			"--config-file", cfg, "--pidfile", filepath.Join(d.Dir, "docker.pid"),
			"--iptables=false", "--ip-masq=false",
			"--add-runtime", "crun=/usr/bin/crun"}
	}
	if d.Bridge != "" {
		a = append(a, "--bridge", d.Bridge)
	}
	return append(a, d.ExtraArgs...)
}

// WriteConfig writes the daemon's daemon.json. A file that chooses the
// bridge itself ("bridge") takes the harness's --bridge away: dockerd
// refuses a setting given both ways.
func (d *Daemon) WriteConfig(daemonJSON string) error {
	var keys map[string]any
	if err := json.Unmarshal([]byte(daemonJSON), &keys); err == nil {
		if _, ok := keys["bridge"]; ok {
			d.Bridge = ""
		}
	}
	return os.WriteFile(filepath.Join(d.Dir, "daemon.json"), []byte(daemonJSON+"\n"), 0o644)
}

// inNS runs fn in the daemon's network namespace.
func (d *Daemon) inNS(fn func() error) error {
	if d.NetNS == "" {
		return fn()
	}
	return netns.Do(d.NetNS, fn)
}

// Start starts the daemon and waits until it answers /_ping.
func (d *Daemon) Start(ctx context.Context) error {
	if d.Kind == KindDocker && !d.ownBridge && d.Bridge != "" {
		if err := d.inNS(func() error { return createBridge(d.Bridge) }); err != nil {
			return err
		}
		d.ownBridge = true
	}
	if err := d.spawn(); err != nil {
		return err
	}
	if err := waitPing(ctx, "unix://"+d.Socket, d.Exited()); err != nil {
		return fmt.Errorf("%s daemon did not come up: %w\n--- daemon log (tail) ---\n%s", d.Kind, err, d.LogTail(40))
	}
	return nil
}

// spawn starts the process without waiting for readiness.
func (d *Daemon) spawn() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil && !d.exited() {
		return fmt.Errorf("daemon already running (pid %d)", d.cmd.Process.Pid)
	}
	log, err := os.OpenFile(d.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), d.Bin, strings.Join(d.args(), " "))
	cmd := exec.Command(d.Bin, d.args()...)
	// The log is a file, not a pipe: shims inherit nothing we wait on, and
	// a SIGKILLed daemon leaves no half-read pipe.
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Env = daemonEnv()
	// In a namespace, the fork happens on the thread that entered it.
	if err := d.inNS(cmd.Start); err != nil {
		return err
	}
	done := make(chan struct{})
	d.cmd, d.done, d.waitErr = cmd, done, nil
	go func() {
		err := cmd.Wait()
		d.mu.Lock()
		d.waitErr = err
		d.mu.Unlock()
		close(done)
	}()
	return nil
}

// StartNoWait starts the daemon process and returns its exit channel, for
// tests that expect the daemon to refuse to start.
func (d *Daemon) StartNoWait() (<-chan struct{}, error) {
	if err := d.spawn(); err != nil {
		return nil, err
	}
	return d.Exited(), nil
}

func daemonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "BERTH_") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (d *Daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// Exited is closed when the daemon process has exited.
func (d *Daemon) Exited() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

// ExitErr is the daemon's exit status once Exited is closed.
func (d *Daemon) ExitErr() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.waitErr
}

// Running reports whether the daemon process is alive.
func (d *Daemon) Running() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd != nil && !d.exited()
}

// Pid is the daemon's pid (0 when not started).
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Kill sends SIGKILL to the daemon (and only to it: shims must survive)
// and waits for it to be gone.
func (d *Daemon) Kill() error {
	return d.signalAndWait(syscall.SIGKILL, 10*time.Second)
}

// Stop sends SIGTERM and waits up to timeout, then SIGKILL.
func (d *Daemon) Stop(timeout time.Duration) error {
	if err := d.signalAndWait(syscall.SIGTERM, timeout); err == nil {
		return nil
	}
	return d.Kill()
}

func (d *Daemon) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("daemon pid %d still running %v after %v", cmd.Process.Pid, timeout, sig)
	}
}

// LogTail returns the last n lines of the daemon's log.
func (d *Daemon) LogTail(n int) string {
	b, _ := os.ReadFile(d.LogPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Cleanup stops the daemon and removes what it left behind: processes of
// ours still running (shims, container processes), mounts under its dir,
// its bridge. It reports leftovers it had to clean as an error, so that a
// leaking engine is visible in the test output.
func (d *Daemon) Cleanup() error {
	var leaks []string
	if err := d.Stop(20 * time.Second); err != nil {
		leaks = append(leaks, err.Error())
	}
	// Processes still referring to our dir: shims and runtimes (berth), or
	// containerd and its shims (dockerd), which exit with the daemon once
	// the containers are gone; give them a moment. Shims that do not name
	// the dir are caught at the end of the run by their executable.
	deadline := time.Now().Add(5 * time.Second)
	var pids []int
	for {
		pids = procsReferring(d.Dir)
		if len(pids) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(pids) > 0 {
		leaks = append(leaks, fmt.Sprintf("processes left running after the daemon stopped: %s", describePids(pids)))
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
	killRuntimeContainers(d.ExecRoot)
	if mnts := mountsUnder(d.Dir); len(mnts) > 0 {
		if d.Kind == KindBerth {
			leaks = append(leaks, fmt.Sprintf("%d mounts left under %s after the daemon stopped (e.g. %s)", len(mnts), d.Dir, mnts[0]))
		}
		unmountAll(mnts)
	}
	d.inNS(func() error {
		if d.Bridge != "" {
			if l, err := netlink.LinkByName(d.Bridge); err == nil {
				netlink.LinkDel(l)
			}
			if d.Kind == KindBerth {
				// berth keeps its bridge's nftables table for live
				// restore; the bridge is gone, so is the table.
				DeleteNFTable("berth-" + d.Bridge)
			}
		}
		if d.Kind == KindBerth {
			removeBerthNetworks(d.DataRoot)
		}
		return nil
	})
	if len(leaks) > 0 {
		return fmt.Errorf("%s daemon cleanup (%s): %s", d.Kind, d.Dir, strings.Join(leaks, "; "))
	}
	return nil
}

// removeBerthNetworks removes what a berth daemon on dataRoot left in the
// kernel for its networks, which it keeps on purpose for its next start
// (live restore): the nftables tables marked as its own, with their
// iptables accept rules, and their bridges. A daemon the harness is done
// with, killed or stopped, will not start again.
func removeBerthNetworks(dataRoot string) {
	tables, err := nat.Tables()
	if err != nil {
		return
	}
	for _, t := range tables {
		if !strings.HasPrefix(t.Owner.Root, dataRoot+"/") {
			continue
		}
		if l, err := netlink.LinkByName(t.Bridge); err == nil && l.Type() == "bridge" {
			netlink.LinkDel(l)
		}
		nat.DestroyTable(t.Bridge)
	}
}

// DeleteNFTable deletes the ip table called name, if there is one.
func DeleteNFTable(name string) {
	c, err := nftables.New()
	if err != nil {
		return
	}
	c.DelTable(&nftables.Table{Name: name, Family: nftables.TableFamilyIPv4})
	_ = c.Flush()
}

// waitPing waits until the engine answers GET /_ping with 200. It polls
// with a short backoff: readiness of another process has no event to wait on.
func waitPing(ctx context.Context, host string, exited <-chan struct{}) error {
	hc := HTTPClient(host)
	delay := 5 * time.Millisecond
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://engine/_ping", nil)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/_ping: %s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-exited:
			return fmt.Errorf("daemon exited before answering /_ping (last: %v)", last)
		case <-time.After(delay):
		}
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
}

// HTTPClient talks HTTP to an engine's unix socket (for raw requests the
// SDK would not send, like malformed bodies).
func HTTPClient(host string) *http.Client {
	path := strings.TrimPrefix(host, "unix://")
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
}

// createBridge creates a Linux bridge with the first free 10.x.y.1/24 not
// routed on this host, for a private dockerd.
func createBridge(name string) error {
	prefix, err := freeSubnet()
	if err != nil {
		return err
	}
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("creating bridge %s: %w", name, err)
	}
	gw := prefix.Addr().Next()
	addr, _ := netlink.ParseAddr(netip.PrefixFrom(gw, prefix.Bits()).String())
	if err := netlink.AddrAdd(br, addr); err != nil {
		netlink.LinkDel(br)
		return fmt.Errorf("address on bridge %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		netlink.LinkDel(br)
		return err
	}
	return nil
}

func freeSubnet() (netip.Prefix, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return netip.Prefix{}, err
	}
	var used []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if p, err := netip.ParsePrefix(r.Dst.String()); err == nil && p.Bits() > 0 {
			used = append(used, p)
		}
	}
	b := make([]byte, 2)
	rand.Read(b)
	for i := 0; i < 2000; i++ {
		// 10.200.0.0 – 10.249.255.0: away from Docker's default pools.
		n := (int(b[0])<<8 | int(b[1]) + i*7919) % (50 * 256)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(200 + n/256), byte(n % 256), 0}), 24)
		free := true
		for _, u := range used {
			if u.Overlaps(p) {
				free = false
				break
			}
		}
		if free {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free 10.x.y.0/24 for a bridge")
}

// procsReferring lists pids whose command line mentions s.
func procsReferring(s string) []int {
	var pids []int
	self := os.Getpid()
	forEachProc(func(pid int) {
		if pid == self {
			return
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, pid)
		}
	})
	return pids
}

// procsRunning lists pids that run bin: as their executable, or as the
// program in bin that berth starts its shims from (their executable is
// then a memfd of the daemon, and argv[0] names bin).
func procsRunning(bin string) []int {
	var pids []int
	forEachProc(func(pid int) {
		if runs(pid, bin) {
			pids = append(pids, pid)
		}
	})
	return pids
}

func runs(pid int, bin string) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err == nil && (exe == bin || exe == bin+" (deleted)") {
		return true
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	argv0, _, _ := bytes.Cut(b, []byte{0})
	return strings.HasPrefix(exe, "/memfd:berth-shim") && string(argv0) == bin
}

func forEachProc(f func(pid int)) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err == nil && pid > 0 {
			f(pid)
		}
	}
}

func describePids(pids []int) string {
	var parts []string
	for _, p := range pids {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		parts = append(parts, fmt.Sprintf("%d %q", p, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))))
	}
	return strings.Join(parts, ", ")
}

// killRuntimeContainers force-deletes containers that an OCI runtime still
// holds in a state root under dir (runc: <root>/<id>/state.json; crun:
// <root>/<id>/status), so that no container process outlives the run.
func killRuntimeContainers(dir string) {
	filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return nil
		}
		var rt string
		switch de.Name() {
		case "state.json":
			rt = "runc"
		case "status":
			rt = "crun"
		default:
			return nil
		}
		id := filepath.Base(filepath.Dir(p))
		root := filepath.Dir(filepath.Dir(p))
		exec.Command(rt, "--root", root, "delete", "--force", id).Run()
		return nil
	})
}

// mountsUnder lists mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	var out []string
	for _, m := range readMountinfo() {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func unmountAll(mnts []string) {
	for _, m := range mnts {
		unix.Unmount(m, unix.MNT_DETACH)
	}
}

// readMountinfo returns the mount points of this mount namespace.
func readMountinfo() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 {
			out = append(out, unescapeMount(f[4]))
		}
	}
	return out
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// StartBerth starts an extra private berth daemon for one test (for tests
// that kill or restart their daemon, which the shared one must not suffer).
// It imports the busybox image and is torn down at the end of the test.
func StartBerth(t testing.TB) *Engine {
	t.Helper()
	Current(t).BerthOnly(t)
	return StartPrivate(t, PrivateOptions{})
}

// Restart starts the engine's daemon again on the same roots (after Kill
// or Stop) and waits until it answers.
func (e *Engine) Restart(t testing.TB) {
	t.Helper()
	if e.Daemon == nil {
		t.Fatal("engine was not started by the harness")
	}
	e.mu.Lock()
	if e.cli != nil {
		e.cli.Close()
		e.cli = nil
	}
	e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.Daemon.Start(ctx); err != nil {
		t.Fatal(err)
	}
}
