package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berth-dev/berth/internal/atomicfile"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/runtime"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Files in StateDir.
const (
	socketName  = "shim.sock"
	exitName    = "exit.json"
	initPidName = "init.pid"
	runtimeLog  = "runtime.log"
)

// execRetention is how long an exited exec's status stays available.
const execRetention = 5 * time.Minute

// readyFd is the socket inherited from Spawn: config in, ready out, then
// the spawning daemon's lifeline.
const readyFd = 3

// Main is `berth shim`, started by the daemon: it waits on its inherited
// socket for the container's Config (a shim may be started ahead of need,
// see Prestart), creates the container and serves it.
func Main(args []string) int {
	if len(args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: berth shim (started by the daemon)")
		return 2
	}
	// A shim lives as long as its container and mostly sleeps: trade a
	// little CPU for a smaller heap.
	debug.SetGCPercent(50)

	ready := os.NewFile(readyFd, "ready")
	conn, err := net.FileConn(ready)
	ready.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim: no ready socket:", err)
		return 2
	}
	br := bufio.NewReader(conn)
	var cfg Config
	line, err := br.ReadBytes('\n')
	if len(line) == 0 && err != nil {
		return 0 // a spare shim whose daemon went away
	}
	if err == nil {
		err = json.Unmarshal(line, &cfg)
	}
	if err == nil && len(args) == 1 {
		cfg.StateDir = args[0]
	}
	if err == nil && cfg.StateDir == "" {
		err = errors.New("no state dir")
	}
	if err == nil {
		err = redirectOutput(cfg.StateDir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim: reading config:", err)
		data, _ := json.Marshal(response{Err: "shim: " + err.Error()})
		conn.Write(append(data, '\n'))
		return 2
	}

	s := newServer(cfg)
	pid, err := s.create()
	reply := response{Pid: pid}
	if err != nil {
		reply = response{Err: err.Error(), Kind: errorKind(err)}
	}
	data, _ := json.Marshal(reply)
	if _, werr := conn.Write(append(data, '\n')); werr != nil && err == nil {
		// The daemon gave up on us; behave as if it died later.
		fmt.Fprintln(os.Stderr, "shim: reporting ready:", werr)
	}
	if err != nil {
		conn.Close()
		return 1
	}
	s.addLifeline(conn)
	go s.serve()
	<-s.done
	return 0
}

// redirectOutput sends the shim's own stdout and stderr to
// StateDir/shim.log: a shim may have been started before its container was
// known.
func redirectOutput(stateDir string) error {
	if err := os.MkdirAll(stateDir, 0o711); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "shim.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
			return err
		}
	}
	return nil
}

// server is the shim's state.
type server struct {
	cfg    Config
	rt     *runtime.Runtime
	reaper *reaper
	l      *net.UnixListener

	mu        sync.Mutex
	init      *process
	execs     map[string]*process
	started   bool
	starting  sync.WaitGroup // a `runtime start` in flight: delete waits for it
	paused    bool
	lifelines int
	deleted   chan struct{} // closed once `runtime delete` ran after the exit
	done      chan struct{} // closed when Main should return
	doneOnce  sync.Once
	consoleN  int

	oom oomCounter
}

// process is the init or an exec.
type process struct {
	id       string // exec ID; "" for init
	pid      int
	io       *procIO
	spec     *ExecConfig // execs
	started  bool
	starting bool
	exited   chan struct{} // closed once exit is final: output drained, recorded
	exit     Exit
}

func newServer(cfg Config) *server {
	s := &server{
		cfg:     cfg,
		execs:   map[string]*process{},
		deleted: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.reaper = newReaper()
	bin := cfg.Runtime
	if bin == "" {
		bin = "runc"
	}
	s.rt = &runtime.Runtime{
		Binary:  bin,
		Root:    cfg.RuntimeRoot,
		Args:    cfg.RuntimeArgs,
		LogPath: filepath.Join(cfg.StateDir, runtimeLog),
		Monitor: s.reaper,
	}
	return s
}

func (s *server) path(name string) string { return filepath.Join(s.cfg.StateDir, name) }

// create sets up stdio and the log, creates the container and listens.
func (s *server) create() (int, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("becoming subreaper: %w", err)
	}
	if err := os.MkdirAll(s.cfg.StateDir, 0o711); err != nil {
		return 0, err
	}
	os.Remove(s.path(exitName))
	sock := s.path(socketName)
	if len(sock) >= len(unix.RawSockaddrUnix{}.Path) {
		return 0, fmt.Errorf("shim socket path too long: %s: %w", sock, errdefs.ErrInvalidArgument)
	}
	os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		return 0, err
	}
	s.l = l

	driver := s.cfg.Log.Driver
	if driver == "" {
		driver = logs.None
	}
	lw, err := logs.NewWriter(driver, s.cfg.Log.Path, s.cfg.Log.Opts)
	if err != nil {
		l.Close()
		return 0, err
	}

	pio, err := newProcIO(s.cfg.Terminal, s.cfg.OpenStdin)
	if err != nil {
		lw.Close()
		l.Close()
		return 0, err
	}
	pio.stdinOnce = s.cfg.StdinOnce
	pio.log = lw
	p := &process{io: pio, exited: make(chan struct{})}
	pid, err := s.runProcess(p, func(io runtime.IO, console string) error {
		return s.rt.Create(context.Background(), s.cfg.ID, s.cfg.Bundle, runtime.CreateOpts{
			PidFile:       s.path(initPidName),
			ConsoleSocket: console,
			IO:            io,
		})
	}, s.path(initPidName))
	if err != nil {
		pio.closeAll()
		lw.Close()
		l.Close()
		// Whatever the runtime left half-made.
		s.rt.Delete(context.Background(), s.cfg.ID, true)
		return 0, err
	}
	s.oom = newOOMCounter(pid)
	s.init = p
	return pid, nil
}

// runProcess runs the runtime command that starts p (create, or exec
// --detach) with p's stdio, reads its pid and claims its exit.
func (s *server) runProcess(p *process, run func(runtime.IO, string) error, pidFile string) (int, error) {
	pio := p.io
	var cs *consoleSocket
	if pio.terminal {
		s.mu.Lock()
		s.consoleN++
		n := s.consoleN
		s.mu.Unlock()
		var err error
		cs, err = newConsoleSocket(s.path("console-" + strconv.Itoa(n) + ".sock"))
		if err != nil {
			return 0, err
		}
	}
	since := s.reaper.mark()
	consolePath := ""
	if cs != nil {
		consolePath = cs.path
	}
	err := run(pio.child, consolePath)
	pio.closeChild()
	if cs != nil {
		var master *os.File
		master, err = cs.result(err)
		if err == nil {
			pio.setConsole(master)
		}
	}
	var pid int
	if err == nil {
		pid, err = runtime.ReadPidFile(pidFile)
	}
	if err != nil {
		s.reaper.release()
		return 0, err
	}
	p.pid = pid
	exitc := s.reaper.claim(pid, since)
	pio.startCopy()
	go s.waitProcess(p, exitc)
	return pid, nil
}

// waitProcess finishes a process once it exited.
func (s *server) waitProcess(p *process, exitc <-chan int) {
	code := <-exitc
	exit := Exit{Code: code, ExitedAt: time.Now().UTC()}
	p.io.finish()
	if p.id == "" {
		exit.OOMKilled = s.oom.killed()
		if p.io.log != nil {
			p.io.log.Close()
		}
		if err := writeExit(s.path(exitName), exit); err != nil {
			fmt.Fprintln(os.Stderr, "shim: recording exit:", err)
		}
	}
	s.mu.Lock()
	p.exit = exit
	close(p.exited)
	s.mu.Unlock()
	if p.id != "" {
		// Forget it after a while: health checks exec every few seconds
		// for the container's lifetime, and the shim must stay small. The
		// daemon collects the exit long before (ExecWait).
		time.AfterFunc(execRetention, func() {
			s.mu.Lock()
			delete(s.execs, p.id)
			s.mu.Unlock()
		})
	}
	if p.id == "" {
		// Execs never started end with the container.
		s.mu.Lock()
		var idle []*process
		for _, e := range s.execs {
			if !e.starting {
				e.starting = true
				idle = append(idle, e)
			}
		}
		s.mu.Unlock()
		for _, e := range idle {
			e.io.abandon()
			s.mu.Lock()
			e.exit = Exit{Code: 137, ExitedAt: exit.ExitedAt}
			close(e.exited)
			s.mu.Unlock()
		}
		go s.cleanup()
	}
}

// cleanup removes the dead container from the runtime; the shim exits
// then unless a daemon holds a lifeline (it will call Shutdown).
func (s *server) cleanup() {
	// A process that exits at once (`false`) may be reaped while
	// `runtime start` still finishes: deleting the container under it
	// would fail that start (runc: remove exec.fifo: no such file).
	s.starting.Wait()
	if err := s.rt.Delete(context.Background(), s.cfg.ID, true); err != nil && !runtime.IsNotFound(err) {
		fmt.Fprintln(os.Stderr, "shim: runtime delete:", err)
	}
	close(s.deleted)
	s.mu.Lock()
	alone := s.lifelines == 0
	s.mu.Unlock()
	if alone {
		s.exit()
	}
}

func (s *server) exit() {
	s.doneOnce.Do(func() {
		s.l.Close() // unlinks the socket: Connect now says NotFound
		close(s.done)
	})
}

func writeExit(path string, e Exit) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, 0o644, false)
}

// addLifeline counts conn as a daemon being there until it closes.
func (s *server) addLifeline(conn net.Conn) {
	s.mu.Lock()
	s.lifelines++
	s.mu.Unlock()
	go func() {
		var b [64]byte
		for {
			if _, err := conn.Read(b[:]); err != nil {
				break
			}
		}
		conn.Close()
		s.mu.Lock()
		s.lifelines--
		alone := s.lifelines == 0
		s.mu.Unlock()
		if alone && closedChan(s.deleted) {
			s.exit()
		}
	}()
}

func closedChan(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (s *server) serve() {
	for {
		conn, err := s.l.AcceptUnix()
		if err != nil {
			return
		}
		go s.handle(conn)
	}
}

// bufConn is a connection whose first bytes were already buffered.
type bufConn struct {
	*net.UnixConn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

func (s *server) handle(conn *net.UnixConn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		conn.Close()
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		conn.Close()
		return
	}
	reply := func(r response, err error) {
		if err != nil {
			r = response{Err: err.Error(), Kind: errorKind(err)}
		}
		data, _ := json.Marshal(r)
		conn.Write(append(data, '\n'))
	}
	switch req.Op {
	case "hello":
		reply(response{Pid: os.Getpid()}, nil)
		s.addLifeline(&bufConn{conn, br})
		return
	case "attach":
		p, err := s.process(req.Exec)
		if err != nil {
			reply(response{}, err)
			conn.Close()
			return
		}
		reply(response{}, nil)
		p.io.attach(&bufConn{conn, br}, AttachOptions{Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr})
		return
	case "wait":
		p, err := s.process(req.Exec)
		if err == nil {
			// Give up when the client goes away, so its goroutine does not linger.
			gone := make(chan struct{})
			go func() {
				var b [1]byte
				br.Read(b[:])
				close(gone)
			}()
			select {
			case <-p.exited:
				e := p.exit
				reply(response{Exit: &e}, nil)
			case <-gone:
			}
		} else {
			reply(response{}, err)
		}
	case "start":
		pid, err := s.start(req.Exec)
		reply(response{Pid: pid}, err)
	case "kill":
		reply(response{}, s.kill(syscall.Signal(req.Signal), req.All))
	case "resize":
		p, err := s.process(req.Exec)
		if err == nil {
			err = p.io.resize(req.Width, req.Height)
		}
		reply(response{}, err)
	case "pause", "resume":
		reply(response{}, s.pauseResume(req.Op))
	case "update":
		reply(response{}, s.update(req.Resources))
	case "pids":
		pids, err := s.pids()
		reply(response{Pids: pids}, err)
	case "exec":
		reply(response{}, s.registerExec(req.Config))
	case "shutdown":
		s.shutdown()
		reply(response{}, nil)
		conn.Close()
		s.exit()
		return
	default:
		reply(response{}, fmt.Errorf("unknown request %q: %w", req.Op, errdefs.ErrInvalidArgument))
	}
	conn.Close()
}

func (s *server) process(execID string) (*process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if execID == "" {
		return s.init, nil
	}
	p, ok := s.execs[execID]
	if !ok {
		return nil, fmt.Errorf("exec %s: %w", execID, errdefs.ErrNotFound)
	}
	return p, nil
}

func (s *server) start(execID string) (int, error) {
	if execID != "" {
		return s.startExec(execID)
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return 0, fmt.Errorf("container already started: %w", errdefs.ErrConflict)
	}
	if closedChan(s.init.exited) {
		s.mu.Unlock()
		return 0, errNotRunning
	}
	s.started = true
	// Added before the init can have exited (checked above under mu), so
	// cleanup, which runs after the exit, always sees it.
	s.starting.Add(1)
	s.mu.Unlock()
	err := s.rt.Start(context.Background(), s.cfg.ID)
	s.starting.Done()
	if err != nil {
		return 0, err
	}
	return s.init.pid, nil
}

func (s *server) kill(sig syscall.Signal, all bool) error {
	s.mu.Lock()
	started, paused := s.started, s.paused
	s.mu.Unlock()
	if closedChan(s.init.exited) {
		return errNotRunning
	}
	if !all && started && !paused {
		// Straight to the init: no runtime process on the stop path. As its
		// reaper we know the pid is still the container's.
		if err := s.reaper.signal(s.init.pid, sig); err == nil {
			return nil
		} else if !errors.Is(err, unix.ESRCH) {
			return err
		}
		return errNotRunning
	}
	err := s.rt.Kill(context.Background(), s.cfg.ID, sig, all)
	if err != nil && closedChan(s.init.exited) {
		return errNotRunning
	}
	if err == nil && paused && sig == syscall.SIGKILL {
		// A frozen process does not die until thawed (cgroup v1 freezer).
		s.pauseResume("resume")
	}
	return err
}

func (s *server) pauseResume(op string) error {
	if closedChan(s.init.exited) {
		return errNotRunning
	}
	var err error
	if op == "pause" {
		err = s.rt.Pause(context.Background(), s.cfg.ID)
	} else {
		err = s.rt.Resume(context.Background(), s.cfg.ID)
	}
	if err == nil {
		s.mu.Lock()
		s.paused = op == "pause"
		s.mu.Unlock()
	}
	return err
}

func (s *server) update(res *specs.LinuxResources) error {
	if res == nil {
		return errdefs.ErrInvalidArgument.WithMessage("update: no resources")
	}
	if closedChan(s.init.exited) {
		return errNotRunning
	}
	return s.rt.Update(context.Background(), s.cfg.ID, res)
}

func (s *server) pids() ([]int, error) {
	if closedChan(s.init.exited) {
		return []int{}, nil
	}
	pids, err := s.rt.Ps(context.Background(), s.cfg.ID)
	if err != nil && closedChan(s.init.exited) {
		return []int{}, nil
	}
	return pids, err
}

func (s *server) registerExec(c *ExecConfig) error {
	if c == nil || c.ID == "" || len(c.Process.Args) == 0 {
		return fmt.Errorf("exec needs an ID and a command: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.execs[c.ID]; ok {
		return fmt.Errorf("exec %s: %w", c.ID, errdefs.ErrAlreadyExists)
	}
	if closedChan(s.init.exited) {
		return errNotRunning
	}
	c.Process.Terminal = c.Terminal
	// The stdio exists from registration on, so that attach can come
	// before start (a pty comes with the runtime: attach queues stdin).
	pio, err := newProcIO(c.Terminal, c.Stdin)
	if err != nil {
		return err
	}
	pio.stdinOnce = true // docker exec -i: stdin ends with the client's
	s.execs[c.ID] = &process{id: c.ID, spec: c, io: pio, exited: make(chan struct{})}
	return nil
}

func (s *server) startExec(id string) (int, error) {
	s.mu.Lock()
	p, ok := s.execs[id]
	if !ok {
		s.mu.Unlock()
		return 0, fmt.Errorf("exec %s: %w", id, errdefs.ErrNotFound)
	}
	if p.starting {
		s.mu.Unlock()
		return 0, fmt.Errorf("exec %s already started: %w", id, errdefs.ErrConflict)
	}
	p.starting = true
	s.mu.Unlock()
	if closedChan(s.init.exited) {
		return 0, errNotRunning
	}
	name := "exec-" + strconv.Itoa(int(time.Now().UnixNano()))
	pidFile := s.path(name + ".pid")
	defer os.Remove(pidFile)
	if size := p.io.windowSize(); size != nil && p.spec.Terminal {
		// Sized before it started: the runtime sizes the pty before the
		// process runs, which a resize after the fact could not promise.
		p.spec.Process.ConsoleSize = &specs.Box{Height: uint(size.Row), Width: uint(size.Col)}
	}
	pid, err := s.runProcess(p, func(io runtime.IO, console string) error {
		return s.rt.Exec(context.Background(), s.cfg.ID, p.spec.Process, runtime.ExecOpts{
			PidFile:       pidFile,
			ConsoleSocket: console,
			Detach:        true,
			ProcessPath:   s.path(name + ".json"),
			IO:            io,
		})
	}, pidFile)
	if err != nil {
		p.io.abandon()
		s.mu.Lock()
		p.exit = Exit{Code: 126, ExitedAt: time.Now().UTC()}
		close(p.exited)
		s.mu.Unlock()
		return 0, err
	}
	s.mu.Lock()
	p.started = true
	s.mu.Unlock()
	return pid, nil
}

// shutdown makes sure the container is gone and deleted from the runtime.
func (s *server) shutdown() {
	if !closedChan(s.init.exited) {
		s.kill(syscall.SIGKILL, true)
		if !closedChan(s.init.exited) {
			s.reaper.signal(s.init.pid, syscall.SIGKILL)
		}
		<-s.init.exited
	}
	<-s.deleted
}

// oomCounter reads the memory cgroup's oom_kill counter (cgroup v1
// memory.oom_control, v2 memory.events): a container whose counter moved
// was OOM-killed. Best effort: false when the file cannot be read.
type oomCounter struct {
	file string
	base int64
}

func newOOMCounter(pid int) oomCounter {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return oomCounter{}
	}
	var file string
	for _, line := range strings.Split(string(data), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if slicesContains(strings.Split(parts[1], ","), "memory") {
			file = filepath.Join("/sys/fs/cgroup/memory", parts[2], "memory.oom_control")
			break
		}
		if parts[0] == "0" && parts[1] == "" {
			if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
				file = filepath.Join("/sys/fs/cgroup", parts[2], "memory.events")
			}
		}
	}
	c := oomCounter{file: file}
	c.base, _ = c.read()
	return c
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (c oomCounter) read() (int64, bool) {
	if c.file == "" {
		return 0, false
	}
	data, err := os.ReadFile(c.file)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

func (c oomCounter) killed() bool {
	n, ok := c.read()
	return ok && n > c.base
}
