package container

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// execSession is one `docker exec`: created, then started once, then
// exited. Sessions are kept for inspect until their container is removed.
type execSession struct {
	id          string
	c           *Container
	entrypoint  string
	args        []string
	env         []string
	groupAdd    []string
	user        string
	workdir     string
	tty         bool
	privileged  bool
	openStdin   bool
	openStdout  bool
	openStderr  bool
	detachKeys  []byte
	consoleSize *[2]uint

	mu        sync.Mutex
	running   bool
	exitCode  *int
	pid       int
	canRemove bool
	// started is closed once the start finished, one way or the other.
	started chan struct{}
	// done is closed once the exit code is recorded.
	done chan struct{}
}

// execRetention is how long an exec session that ended stays available
// to inspect; then it is forgotten, as Docker's exec GC does, so that a
// container exec'd into every few seconds does not grow the daemon.
const execRetention = 5 * time.Minute

// Execs are the exec sessions of containers (docker exec): each is
// created in a running container, started once (attached or detached),
// and exits. A session stays for inspect until its container is removed
// or, once it ended, for execRetention. While it runs, a goroutine under
// the service's lifetime waits for its exit.
type Execs struct {
	containers  *index
	cfg         *Config // where a running container's spec is (its bundle)
	execProcess ExecProcessFunc
	events      EventPublisher
	life        *lifetime

	mu       sync.Mutex
	sessions map[string]*execSession
}

func newExecs(containers *index, cfg *Config, execProcess ExecProcessFunc, events EventPublisher, life *lifetime) *Execs {
	return &Execs{containers: containers, cfg: cfg, execProcess: execProcess, events: events, life: life, sessions: map[string]*execSession{}}
}

// retire forgets an ended exec session after execRetention.
func (x *Execs) retire(e *execSession) {
	time.AfterFunc(execRetention, func() {
		x.mu.Lock()
		if x.sessions[e.id] == e {
			delete(x.sessions, e.id)
		}
		x.mu.Unlock()
	})
}

func errNoSuchExec(id string) error {
	return errdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
}

// activeContainer checks that exec can run in c.
func activeContainer(c *Container) (Shim, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.State.Running:
		return nil, errNotRunning(c.ID)
	case c.State.Paused:
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", c.ID))
	case c.State.Restarting:
		return nil, errRestarting(c.ID)
	case c.shim == nil:
		return nil, errNotRunning(c.ID)
	}
	return c.shim, nil
}

// Create registers an exec session in a running container.
func (x *Execs) Create(ctx context.Context, ref string, req containertypes.ExecCreateRequest) (string, error) {
	if len(req.Cmd) == 0 {
		return "", errdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	c, err := x.containers.get(ref)
	if err != nil {
		return "", err
	}
	if _, err := activeContainer(c); err != nil {
		return "", err
	}
	keys := []byte{} // inspect shows "" when none were given, as Docker
	if req.DetachKeys != "" {
		if keys, err = parseDetachKeys(req.DetachKeys); err != nil {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid escape keys (%s) provided", req.DetachKeys))
		}
	}
	for _, e := range req.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" {
			return "", errdefs.ErrInvalidArgument.WithMessage("invalid environment variable: " + e)
		}
	}
	c.mu.Lock()
	e := &execSession{
		id:          newID(),
		c:           c,
		entrypoint:  req.Cmd[0],
		args:        append([]string(nil), req.Cmd[1:]...),
		env:         append([]string(nil), req.Env...),
		groupAdd:    c.HostConfig.GroupAdd,
		user:        req.User,
		workdir:     req.WorkingDir,
		tty:         req.Tty,
		privileged:  req.Privileged,
		openStdin:   req.AttachStdin,
		openStdout:  req.AttachStdout,
		openStderr:  req.AttachStderr,
		detachKeys:  keys,
		consoleSize: req.ConsoleSize,
		started:     make(chan struct{}),
		done:        make(chan struct{}),
	}
	if e.user == "" {
		e.user = c.Config.User
	}
	if e.workdir == "" {
		e.workdir = c.Config.WorkingDir
	}
	c.execs = append(c.execs, e.id)
	c.mu.Unlock()
	x.mu.Lock()
	x.sessions[e.id] = e
	x.mu.Unlock()
	publishEvent(x.events, c, events.Action(string(events.ActionExecCreate)+": "+e.commandLine()), map[string]string{"execID": e.id})
	return e.id, nil
}

func (e *execSession) commandLine() string {
	return e.entrypoint + " " + strings.Join(e.args, " ")
}

func (x *Execs) get(id string) (*execSession, error) {
	x.mu.Lock()
	e, ok := x.sessions[id]
	x.mu.Unlock()
	if !ok {
		return nil, errNoSuchExec(id)
	}
	return e, nil
}

// ExecStartOptions is an exec start request.
type ExecStartOptions struct {
	Detach      bool
	ConsoleSize *[2]uint
	// GetStream hijacks the client connection (attached starts only).
	GetStream func(tty bool) (io.ReadWriteCloser, error)
}

// Check reports whether an exec can be started, before the router
// hijacks the connection for it.
func (x *Execs) Check(id string) error {
	e, err := x.get(id)
	if err != nil {
		return err
	}
	if _, err := x.containers.get(e.c.ID); err != nil {
		return err
	}
	_, err = activeContainer(e.c)
	return err
}

// Start runs an exec session. Attached, it returns when the process
// exited and its output was delivered (the exit code is then recorded,
// so an inspect that follows sees it); detached, once it started.
func (x *Execs) Start(ctx context.Context, id string, opts ExecStartOptions) error {
	ctx = context.WithoutCancel(ctx)
	e, err := x.get(id)
	if err != nil {
		return err
	}
	sh, err := activeContainer(e.c)
	if err != nil {
		return err
	}
	e.mu.Lock()
	switch {
	case e.exitCode != nil:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("exec command %s has already run", e.id))
	case e.running:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("exec command %s is already running", e.id))
	}
	if err != nil {
		e.mu.Unlock()
		return err
	}
	e.running = true
	e.mu.Unlock()
	publishEvent(x.events, e.c, events.Action(string(events.ActionExecStart)+": "+e.commandLine()), map[string]string{"execID": e.id})

	var client io.ReadWriteCloser
	if !opts.Detach && opts.GetStream != nil {
		client, err = opts.GetStream(e.tty)
		if err != nil {
			x.failed(e, err)
			return err
		}
		defer client.Close()
	}
	fail := func(err error) error {
		x.failed(e, err)
		if client == nil {
			return startError(err)
		}
		// The stream is already a success response: the error goes into
		// it, as Docker writes it, and the exit code says the rest.
		msg := []byte(err.Error() + "\r\n")
		if e.tty {
			_, _ = client.Write(msg)
		} else {
			_ = writeFrame(client, streamStdout, msg)
		}
		return nil
	}

	proc, err := x.process(e, opts.ConsoleSize)
	if err != nil {
		return fail(err)
	}
	stdin := e.openStdin && client != nil
	if err := sh.Exec(ctx, ExecConfig{ID: e.id, Process: *proc, Terminal: e.tty, Stdin: stdin}); err != nil {
		return fail(runtimeExecError(err))
	}
	var conn net.Conn
	if client != nil {
		c, err := sh.ExecAttach(ctx, e.id, StreamOptions{Stdin: stdin, Stdout: e.openStdout, Stderr: e.openStderr})
		if err != nil {
			return fail(err)
		}
		conn = c // pump owns it from here
	}
	pid, err := sh.ExecStart(ctx, e.id)
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return fail(runtimeExecError(err))
	}
	e.mu.Lock()
	e.pid = pid
	e.mu.Unlock()
	close(e.started)
	x.life.wg.Add(1)
	go x.monitor(e, sh)
	if client == nil {
		return nil
	}
	// Once the output is drained, wait (briefly) for the exit to be
	// recorded before ending the stream, so that the client's inspect
	// right after sees the exit code.
	waitExit := func() {
		select {
		case <-e.done:
		case <-time.After(2 * time.Second):
		}
	}
	if pump(client, conn, stdin, e.tty, e.detachKeys, waitExit) {
		publishEvent(x.events, e.c, events.ActionExecDetach, map[string]string{"execID": e.id})
	}
	return nil
}

// process builds the exec's OCI process from the container's spec
// (kept in the bundle while the container runs).
func (x *Execs) process(e *execSession, consoleSize *[2]uint) (*specs.Process, error) {
	data, err := os.ReadFile(filepath.Join(x.cfg.bundleDir(e.c.ID), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("read container spec: %w", err)
	}
	rootfs := ""
	if spec.Root != nil {
		rootfs = spec.Root.Path
	}
	if consoleSize == nil {
		consoleSize = e.consoleSize
	}
	in := ExecInput{
		Cmd:        append([]string{e.entrypoint}, e.args...),
		Env:        e.env,
		User:       e.user,
		WorkingDir: e.workdir,
		Tty:        e.tty,
		Privileged: e.privileged,
		GroupAdd:   e.groupAdd,
	}
	if consoleSize != nil {
		in.ConsoleSize = *consoleSize
	}
	proc, err := x.execProcess(&spec, rootfs, in)
	if err != nil {
		return nil, err
	}
	if proc.Cwd == "" {
		proc.Cwd = "/"
	}
	return proc, nil
}

func runtimeExecError(err error) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "OCI runtime exec failed") {
		msg = "OCI runtime exec failed: " + msg
	}
	return &runtimeErr{msg: msg}
}

// failed records an exec that could not start: 126/127 as Docker.
func (x *Execs) failed(e *execSession, err error) {
	_, code := startFailure(err)
	if code == exitUnknown {
		code = exitEaccess // Docker's default for an exec that did not start
	}
	e.mu.Lock()
	e.running = false
	e.exitCode = &code
	e.mu.Unlock()
	select {
	case <-e.started:
	default:
		close(e.started)
	}
	close(e.done)
	x.retire(e)
}

// monitor waits for an exec's exit and records it.
func (x *Execs) monitor(e *execSession, sh Shim) {
	defer x.life.wg.Done()
	exit, err := sh.ExecWait(x.life.ctx, e.id)
	if err != nil {
		if x.life.ctx.Err() != nil {
			return
		}
		exit = Exit{Code: 137}
	}
	code := exit.Code
	e.mu.Lock()
	e.running = false
	e.exitCode = &code
	e.mu.Unlock()
	c := e.c
	c.mu.Lock()
	for i, id := range c.execs {
		if id == e.id {
			c.execs = append(c.execs[:i], c.execs[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	publishEvent(x.events, c, events.ActionExecDie, map[string]string{"execID": e.id, "exitCode": strconv.Itoa(code)})
	close(e.done)
	x.retire(e)
}

// Inspect describes an exec session.
func (x *Execs) Inspect(ctx context.Context, id string) (*containertypes.ExecInspectResponse, error) {
	e, err := x.get(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	resp := &containertypes.ExecInspectResponse{
		ID:      e.id,
		Running: e.running,
		ProcessConfig: &containertypes.ExecProcessConfig{
			Tty:        e.tty,
			Entrypoint: e.entrypoint,
			Arguments:  e.args,
			Privileged: &e.privileged,
			User:       e.user,
		},
		OpenStdin:   e.openStdin,
		OpenStderr:  e.openStderr,
		OpenStdout:  e.openStdout,
		CanRemove:   e.canRemove,
		ContainerID: e.c.ID,
		DetachKeys:  e.detachKeys,
		Pid:         e.pid,
	}
	if resp.ProcessConfig.Arguments == nil {
		resp.ProcessConfig.Arguments = []string{}
	}
	if e.exitCode != nil {
		code := *e.exitCode
		resp.ExitCode = &code
	}
	return resp, nil
}

// Resize changes the terminal size of a running exec. A resize that
// races the start waits for it, as Docker's does.
func (x *Execs) Resize(ctx context.Context, id string, height, width uint32) error {
	e, err := x.get(id)
	if err != nil {
		return err
	}
	select {
	case <-e.started:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(10 * time.Second):
		return fmt.Errorf("timeout waiting for exec session ready: %w", errdefs.ErrUnavailable)
	}
	e.mu.Lock()
	running := e.running
	e.mu.Unlock()
	if !running {
		return nil
	}
	sh, err := activeContainer(e.c)
	if err != nil {
		return err
	}
	return sh.ExecResize(ctx, e.id, uint16(width), uint16(height))
}

// drop forgets a session at once (a health probe's: Docker does not keep
// them).
func (x *Execs) drop(id string) {
	x.mu.Lock()
	e := x.sessions[id]
	delete(x.sessions, id)
	x.mu.Unlock()
	if e == nil {
		return
	}
	e.c.mu.Lock()
	for i, cid := range e.c.execs {
		if cid == id {
			e.c.execs = append(e.c.execs[:i], e.c.execs[i+1:]...)
			break
		}
	}
	e.c.mu.Unlock()
}

// forget drops the sessions of a removed container.
func (x *Execs) forget(containerID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for id, e := range x.sessions {
		if e.c.ID == containerID {
			delete(x.sessions, id)
		}
	}
}

// end marks the sessions of a container that stopped: they can be
// removed (inspect's CanRemove).
func (x *Execs) end(c *Container) {
	c.mu.Lock()
	ids := c.execs
	c.execs = nil
	c.mu.Unlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range ids {
		if e, ok := x.sessions[id]; ok {
			e.mu.Lock()
			e.canRemove = true
			e.mu.Unlock()
		}
	}
}
