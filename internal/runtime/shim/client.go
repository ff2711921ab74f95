package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/runtime/shim/shimexe"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Client talks to one shim. Each request uses its own connection to the
// shim's socket; the client also holds a lifeline connection that tells
// the shim a daemon is there.
type Client struct {
	stateDir string
	sock     string

	lifeline net.Conn
	shimPid  int
	pidfd    int           // -1 when unknown
	reaped   chan struct{} // spawned shims: closed when cmd.Wait returned

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// Spawn starts a shim for cfg and returns once the container is created
// (not started), so attach clients can connect before Start. Runtime
// errors come back with the runtime's message.
//
// The shim process is taken from a spare one started ahead of time when
// there is one (the binary's start-up is then off the hot path), and a new
// spare is started once this one is ready.
func Spawn(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.ID == "" || cfg.Bundle == "" || cfg.StateDir == "" {
		return nil, fmt.Errorf("shim: ID, Bundle and StateDir are required: %w", errdefs.ErrInvalidArgument)
	}
	bin := cfg.Binary
	sp, err := takeSpare(bin)
	if err != nil {
		return nil, err
	}
	kill := func(err error) (*Client, error) {
		sp.conn.Close()
		sp.cmd.Process.Kill()
		<-sp.reaped
		return nil, err
	}
	conn := sp.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	data, err := json.Marshal(cfg)
	if err != nil {
		return kill(err)
	}
	if _, err := conn.Write(append(data, '\n')); err != nil {
		return kill(fmt.Errorf("shim: sending config: %w", err))
	}
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return kill(ctx.Err())
		}
		<-sp.reaped
		conn.Close()
		return nil, fmt.Errorf("shim exited before it was ready (%s): see %s", sp.cmd.ProcessState, filepath.Join(cfg.StateDir, "shim.log"))
	}
	var r response
	if err := json.Unmarshal(line, &r); err != nil {
		return kill(fmt.Errorf("shim: bad ready message %q", line))
	}
	go refillSpare(bin)
	if err := responseError(&r); err != nil {
		conn.Close()
		<-sp.reaped // it exits after a failed create
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	c := newClient(cfg.StateDir)
	c.lifeline = conn
	c.shimPid = sp.cmd.Process.Pid
	c.reaped = sp.reaped
	return c, nil
}

// spare is a started shim process waiting for its Config.
type spare struct {
	bin    string
	cmd    *exec.Cmd
	conn   net.Conn // config in, ready out, then the lifeline
	reaped chan struct{}
}

var spares struct {
	sync.Mutex
	s *spare
}

// Prestart starts a spare shim of binary (as Config.Binary), so that the
// next Spawn does not wait for a process to start. The daemon may call
// it at start-up; Spawn keeps one spare from then on. A spare exits when
// the daemon does.
func Prestart(binary string) error {
	refillSpare(binary)
	return nil
}

func takeSpare(bin string) (*spare, error) {
	spares.Lock()
	sp := spares.s
	spares.s = nil
	spares.Unlock()
	if sp != nil {
		select {
		case <-sp.reaped:
		default:
			if sp.bin == bin {
				return sp, nil
			}
		}
		sp.discard()
	}
	return startShim(bin)
}

func refillSpare(bin string) {
	spares.Lock()
	have := spares.s != nil
	spares.Unlock()
	if have {
		return
	}
	sp, err := startShim(bin)
	if err != nil {
		return
	}
	spares.Lock()
	if spares.s == nil {
		spares.s, sp = sp, nil
	}
	spares.Unlock()
	if sp != nil {
		sp.discard()
	}
}

// discard lets a spare go: on end of file instead of a Config it exits.
func (sp *spare) discard() { sp.conn.Close() }

func startShim(bin string) (*spare, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socketpair", err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "shim"), os.NewFile(uintptr(fds[1]), "shim-child")
	defer child.Close()
	defer parent.Close()
	cmd, err := shimexe.Command(bin)
	if err != nil {
		return nil, err
	}
	cmd.Dir = "/"
	cmd.ExtraFiles = []*os.File{child} // fd 3, readyFd
	// Its own session: no signal meant for the daemon's process group or
	// terminal reaches it, and it outlives the daemon. Its output goes to
	// StateDir/shim.log once it knows its StateDir.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting shim: %w", err)
	}
	reaped := make(chan struct{})
	go func() {
		cmd.Wait()
		close(reaped)
	}()
	conn, err := net.FileConn(parent)
	if err != nil {
		cmd.Process.Kill()
		return nil, err
	}
	return &spare{bin: bin, cmd: cmd, conn: conn, reaped: reaped}, nil
}

func newClient(stateDir string) *Client {
	return &Client{
		stateDir: stateDir,
		sock:     filepath.Join(stateDir, socketName),
		pidfd:    -1,
		conns:    map[net.Conn]struct{}{},
	}
}

// Connect reconnects to the shim of stateDir, after a daemon restart.
// errdefs.ErrNotFound means the shim is gone (see ReadExit).
func Connect(ctx context.Context, stateDir string) (*Client, error) {
	c := newClient(stateDir)
	conn, br, err := c.dial(ctx, request{Op: "hello"})
	if err != nil {
		return nil, err
	}
	r, err := readResponse(br)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("shim %s: %w: %w", stateDir, err, errdefs.ErrNotFound)
	}
	c.untrack(conn)
	c.lifeline = conn
	c.shimPid = r.Pid
	// While the lifeline is up the shim is alive, so the pid is its own.
	if fd, err := unix.PidfdOpen(r.Pid, 0); err == nil {
		c.pidfd = fd
	}
	return c, nil
}

// ReadExit returns the exit recorded by a shim, even one that is gone;
// errdefs.ErrNotFound if none was recorded.
func ReadExit(stateDir string) (*Exit, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, exitName))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("no exit recorded in %s: %w", stateDir, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var e Exit
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("exit file %s: %w", stateDir, err)
	}
	return &e, nil
}

// dial opens a request connection and sends req.
func (c *Client) dial(ctx context.Context, req request) (*net.UnixConn, *bufio.Reader, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, nil, net.ErrClosed
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", c.sock)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, nil, fmt.Errorf("shim %s: %w", c.stateDir, errdefs.ErrNotFound)
		}
		return nil, nil, err
	}
	conn := nc.(*net.UnixConn)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.Close()
		return nil, nil, net.ErrClosed
	}
	c.conns[conn] = struct{}{}
	c.mu.Unlock()
	data, _ := json.Marshal(req)
	if _, err := conn.Write(append(data, '\n')); err != nil {
		c.untrack(conn)
		conn.Close()
		return nil, nil, err
	}
	return conn, bufio.NewReader(conn), nil
}

func (c *Client) untrack(conn net.Conn) {
	c.mu.Lock()
	delete(c.conns, conn)
	c.mu.Unlock()
}

func readResponse(br *bufio.Reader) (*response, error) {
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, errGone
	}
	var r response
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, fmt.Errorf("bad shim response %q", line)
	}
	return &r, nil
}

// call sends one request and returns its response; ctx bounds it.
func (c *Client) call(ctx context.Context, req request) (*response, error) {
	conn, br, err := c.dial(ctx, req)
	if err != nil {
		return nil, err
	}
	defer func() {
		c.untrack(conn)
		conn.Close()
	}()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r, err := readResponse(br)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("shim %s: %w", c.stateDir, err)
	}
	return r, responseError(r)
}

// Start starts the created container and returns its init's host pid.
func (c *Client) Start(ctx context.Context) (int, error) {
	r, err := c.call(ctx, request{Op: "start"})
	if err != nil {
		return 0, err
	}
	return r.Pid, nil
}

// Attach returns the container's attach stream; see AttachConn.
func (c *Client) Attach(ctx context.Context, o AttachOptions) (net.Conn, error) {
	return c.attach(ctx, "", o)
}

// ExecAttach is Attach for an exec, before or after ExecStart.
func (c *Client) ExecAttach(ctx context.Context, execID string, o AttachOptions) (net.Conn, error) {
	return c.attach(ctx, execID, o)
}

func (c *Client) attach(ctx context.Context, execID string, o AttachOptions) (net.Conn, error) {
	conn, br, err := c.dial(ctx, request{Op: "attach", Exec: execID, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return nil, err
	}
	c.untrack(conn) // the caller owns it now
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	r, err := readResponse(br)
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	if err == nil {
		err = responseError(r)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &AttachConn{UnixConn: conn, r: br}, nil
}

// AttachConn is an attach stream. Reads yield exactly what the Engine API
// sends (stdcopy frames, or raw bytes with a terminal) and end once the
// process exited and its output drained; writes go to the process's
// stdin; CloseWrite is stdin EOF, which closes the container's stdin if
// StdinOnce (an exec's always). A pty cannot be half-closed: it gets EOT
// (^D) instead. A client that falls too far behind is disconnected.
type AttachConn struct {
	*net.UnixConn
	r *bufio.Reader
}

func (a *AttachConn) Read(b []byte) (int, error) { return a.r.Read(b) }

// Wait returns once the container's init exited and its output drained.
func (c *Client) Wait(ctx context.Context) (Exit, error) {
	return c.wait(ctx, "")
}

// ExecWait returns an exec's exit once it exited and its output drained.
func (c *Client) ExecWait(ctx context.Context, execID string) (Exit, error) {
	return c.wait(ctx, execID)
}

func (c *Client) wait(ctx context.Context, execID string) (Exit, error) {
	r, err := c.call(ctx, request{Op: "wait", Exec: execID})
	if err == nil {
		return *r.Exit, nil
	}
	if execID == "" && ctx.Err() == nil && (errors.Is(err, errGone) || errdefs.IsNotFound(err)) {
		// The shim finished while we asked: its record is on disk.
		if e, rerr := ReadExit(c.stateDir); rerr == nil {
			return *e, nil
		}
	}
	return Exit{}, err
}

// Kill sends sig to the init, or with all to every process of the container.
func (c *Client) Kill(ctx context.Context, sig syscall.Signal, all bool) error {
	_, err := c.call(ctx, request{Op: "kill", Signal: int(sig), All: all})
	return err
}

// Resize sets the container's terminal size (no-op without a terminal).
func (c *Client) Resize(ctx context.Context, width, height uint16) error {
	_, err := c.call(ctx, request{Op: "resize", Width: width, Height: height})
	return err
}

// ExecResize sets an exec's terminal size.
func (c *Client) ExecResize(ctx context.Context, execID string, width, height uint16) error {
	_, err := c.call(ctx, request{Op: "resize", Exec: execID, Width: width, Height: height})
	return err
}

// Pause freezes the container.
func (c *Client) Pause(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: "pause"})
	return err
}

// Resume thaws the container.
func (c *Client) Resume(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: "resume"})
	return err
}

// Update sets the running container's cgroup limits.
func (c *Client) Update(ctx context.Context, res *specs.LinuxResources) error {
	_, err := c.call(ctx, request{Op: "update", Resources: res})
	return err
}

// Pids lists the host pids of the container's processes.
func (c *Client) Pids(ctx context.Context) ([]int, error) {
	r, err := c.call(ctx, request{Op: "pids"})
	if err != nil {
		return nil, err
	}
	if r.Pids == nil {
		return []int{}, nil
	}
	return r.Pids, nil
}

// Exec registers a process to run in the container (started by ExecStart).
func (c *Client) Exec(ctx context.Context, cfg ExecConfig) error {
	_, err := c.call(ctx, request{Op: "exec", Config: &cfg})
	return err
}

// ExecStart starts a registered exec and returns its host pid.
func (c *Client) ExecStart(ctx context.Context, execID string) (int, error) {
	r, err := c.call(ctx, request{Op: "start", Exec: execID})
	if err != nil {
		return 0, err
	}
	return r.Pid, nil
}

// Shutdown ends the shim: the container is killed if it still runs, the
// runtime's state deleted, and it returns once the shim process is gone.
// The client is closed. Call it before spawning a shim for the same
// container ID again (a restart): the runtime's state of the previous run
// may be in the middle of its deletion until then.
func (c *Client) Shutdown(ctx context.Context) error {
	_, err := c.call(ctx, request{Op: "shutdown"})
	if err != nil && !errdefs.IsNotFound(err) && !errors.Is(err, errGone) {
		return err
	}
	werr := c.waitGone(ctx)
	c.Close()
	return werr
}

// waitGone waits for the shim process to exit: reaped by us if we spawned
// it, else its pidfd turns readable.
func (c *Client) waitGone(ctx context.Context) error {
	if c.reaped != nil {
		select {
		case <-c.reaped:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if c.pidfd < 0 {
		return nil
	}
	// Non-blocking pidfd in the poller: readable once the process exited.
	unix.SetNonblock(c.pidfd, true)
	f := os.NewFile(uintptr(c.pidfd), "pidfd")
	c.pidfd = -1
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	// Check the state on every wake-up: the poller is edge-triggered, and
	// an exit that came before the first wait would not wake us again.
	err = rc.Read(func(fd uintptr) bool {
		n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		return n > 0
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Close drops the client's connections (the lifeline included); the shim
// and its container go on.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conns := c.conns
	c.conns = nil
	c.mu.Unlock()
	for conn := range conns {
		conn.Close()
	}
	if c.lifeline != nil {
		c.lifeline.Close()
	}
	if c.pidfd >= 0 {
		unix.Close(c.pidfd)
		c.pidfd = -1
	}
	return nil
}

// Pid is the shim process's pid.
func (c *Client) Pid() int { return c.shimPid }
