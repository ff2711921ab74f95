package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Monitor starts a runtime command and reports its exit status (exit code,
// or 128+signal). The channel yields exactly once.
type Monitor interface {
	Start(cmd *exec.Cmd) (<-chan int, error)
}

// DefaultMonitor waits with exec.Cmd.Wait; right for any process that is
// not a subreaper running its own wait4(-1) loop.
var DefaultMonitor Monitor = cmdMonitor{}

type cmdMonitor struct{}

func (cmdMonitor) Start(cmd *exec.Cmd) (<-chan int, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		ch <- ExitCode(cmd.ProcessState, err)
	}()
	return ch, nil
}

// ExitCode maps a process state as Docker does: the exit code, or
// 128+signal for a process killed by a signal.
func ExitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 255
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Runtime is one OCI runtime binary with its global options.
type Runtime struct {
	Binary  string   // "runc", "crun" or a path
	Root    string   // --root: where the runtime keeps container state; "" = its default
	Args    []string // extra global arguments (e.g. --systemd-cgroup)
	LogPath string   // --log, JSON format: the runtime's errors are read back from it
	Monitor Monitor  // nil = DefaultMonitor
}

// IO is the stdio a runtime command hands to the container process
// (create, run, exec without a terminal). nil means /dev/null.
type IO struct {
	Stdin, Stdout, Stderr *os.File
}

// CreateOpts are the options of create and run.
type CreateOpts struct {
	PidFile       string
	ConsoleSocket string // set when process.terminal: receives the pty master
	NoPivot       bool
	IO            IO
}

// ExecOpts are the options of exec.
type ExecOpts struct {
	PidFile       string
	ConsoleSocket string
	Detach        bool   // return once the process runs (it is re-parented to the caller's subreaper)
	ProcessPath   string // where to write process.json; "" = a temp file
	IO            IO
}

// State is the runtime's view of a container (`runtime state`).
type State struct {
	ID      string    `json:"id"`
	Pid     int       `json:"pid"`
	Status  string    `json:"status"` // creating, created, running, paused, stopped
	Bundle  string    `json:"bundle"`
	Created time.Time `json:"created"`
}

// Error is a failed runtime command; Message is the runtime's own words
// (e.g. `runc create failed: unable to start container process: exec:
// "nope": executable file not found in $PATH`).
type Error struct {
	Command  string // create, start, exec, ...
	Status   int
	Message  string
	NotFound bool // the container does not exist in the runtime
}

func (e *Error) Error() string { return e.Message }

// IsNotFound reports whether err says the container does not exist.
func IsNotFound(err error) bool {
	var re *Error
	return errors.As(err, &re) && re.NotFound
}

func (r *Runtime) globalArgs() []string {
	var a []string
	if r.Root != "" {
		a = append(a, "--root", r.Root)
	}
	if r.LogPath != "" {
		a = append(a, "--log", r.LogPath, "--log-format", "json")
	}
	return append(a, r.Args...)
}

// run executes one runtime command and turns a failure into an *Error.
func (r *Runtime) run(ctx context.Context, sub string, args []string, stdio IO, stdout *bytes.Buffer) error {
	status, msg, err := r.invoke(ctx, sub, args, stdio, stdout)
	if err != nil || status == 0 {
		return err
	}
	return r.failure(sub, status, msg)
}

func (r *Runtime) failure(sub string, status int, msg string) error {
	if msg == "" {
		msg = fmt.Sprintf("%s %s failed: exit status %d", r.Binary, sub, status)
	}
	return &Error{Command: sub, Status: status, Message: msg, NotFound: notFoundMessage(msg)}
}

// invoke executes one runtime command and returns its exit status and, if
// it failed, the last error it reported. stdout, when non-nil, receives the
// command's standard output (ps, state).
func (r *Runtime) invoke(ctx context.Context, sub string, args []string, stdio IO, stdout *bytes.Buffer) (int, string, error) {
	// create, run and exec hand their stdio to the container process, so
	// their errors can only come back through a log file.
	containerIO := sub == "create" || sub == "run" || sub == "exec"
	logPath := r.LogPath
	if containerIO && logPath == "" {
		f, err := os.CreateTemp("", "berth-runtime-*.log")
		if err != nil {
			return 0, "", err
		}
		f.Close()
		logPath = f.Name()
		defer os.Remove(logPath)
	}
	global := r.globalArgs()
	if logPath != r.LogPath {
		global = append([]string{"--log", logPath, "--log-format", "json"}, global...)
	}
	cmd := exec.Command(r.Binary, append(append(global, sub), args...)...)
	// A nil *os.File in an io.Reader is not nil: assign only real files.
	if stdio.Stdin != nil {
		cmd.Stdin = stdio.Stdin
	}
	if stdio.Stdout != nil {
		cmd.Stdout = stdio.Stdout
	}
	if stdio.Stderr != nil {
		cmd.Stderr = stdio.Stderr
	}
	var outR, errR *os.File
	var closeAfterStart []*os.File
	if stdout != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return 0, "", err
		}
		outR, cmd.Stdout = pr, pw
		closeAfterStart = append(closeAfterStart, pw)
		defer pr.Close()
	}
	if stdio.Stderr == nil && !containerIO {
		pr, pw, err := os.Pipe()
		if err != nil {
			return 0, "", err
		}
		errR, cmd.Stderr = pr, pw
		closeAfterStart = append(closeAfterStart, pw)
		defer pr.Close()
	}
	var logOff int64 = -1
	if logPath != "" {
		logOff = 0
		if st, err := os.Stat(logPath); err == nil {
			logOff = st.Size()
		}
	}
	mon := r.Monitor
	if mon == nil {
		mon = DefaultMonitor
	}
	exitc, err := mon.Start(cmd)
	for _, f := range closeAfterStart {
		f.Close()
	}
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", r.Binary, sub, err)
	}
	// Drain the pipes while waiting: a full pipe would block the runtime.
	var wg sync.WaitGroup
	var errBuf bytes.Buffer
	if outR != nil {
		wg.Add(1)
		go func() { defer wg.Done(); stdout.ReadFrom(outR) }()
	}
	if errR != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errBuf.ReadFrom(errR) }()
	}
	var status int
	select {
	case status = <-exitc:
	case <-ctx.Done():
		cmd.Process.Kill()
		status = <-exitc
	}
	wg.Wait()
	cmd.Process.Release()
	if ctx.Err() != nil && status != 0 {
		return status, "", fmt.Errorf("%s %s: %w", r.Binary, sub, ctx.Err())
	}
	if status == 0 {
		return 0, "", nil
	}
	msg := ""
	if logOff >= 0 {
		msg = lastLogError(logPath, logOff)
	}
	if msg == "" {
		msg = strings.TrimSpace(errBuf.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
	}
	return status, msg, nil
}

func notFoundMessage(msg string) bool {
	m := strings.ToLower(msg)
	// runc: "container does not exist"; crun: "error opening file
	// `<root>/<id>/status`: No such file or directory".
	return strings.Contains(m, "does not exist") ||
		strings.Contains(m, "error opening file") && strings.Contains(m, "/status`: no such file")
}

// lastLogError returns the last error-level message the runtime logged
// after offset off (runc and crun both log {"level":..,"msg":..}).
func lastLogError(path string, off int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, 0); err != nil {
		return ""
	}
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
			last = e.Msg
		}
	}
	return last
}

// Create creates the container: its process waits before exec until Start.
func (r *Runtime) Create(ctx context.Context, id, bundle string, o CreateOpts) error {
	args := []string{"--bundle", bundle}
	args = append(args, createArgs(o)...)
	return r.run(ctx, "create", append(args, id), o.IO, nil)
}

func createArgs(o CreateOpts) []string {
	var a []string
	if o.PidFile != "" {
		a = append(a, "--pid-file", o.PidFile)
	}
	if o.ConsoleSocket != "" {
		a = append(a, "--console-socket", o.ConsoleSocket)
	}
	if o.NoPivot {
		a = append(a, "--no-pivot")
	}
	return a
}

// Start lets a created container's process exec.
func (r *Runtime) Start(ctx context.Context, id string) error {
	return r.run(ctx, "start", []string{id}, IO{}, nil)
}

// Run creates and starts the container in the foreground and returns its
// exit status once it exits.
func (r *Runtime) Run(ctx context.Context, id, bundle string, o CreateOpts) (int, error) {
	args := append([]string{"--bundle", bundle}, createArgs(o)...)
	if o.IO.Stderr == nil {
		// Keep the container's stderr out of the error message: only the
		// runtime's log says whether the runtime itself failed.
		devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		defer devnull.Close()
		o.IO.Stderr = devnull
	}
	status, msg, err := r.invoke(ctx, "run", append(args, id), o.IO, nil)
	if err != nil {
		return 0, err
	}
	if msg != "" {
		// The runtime itself failed, not the container.
		return status, r.failure("run", status, msg)
	}
	return status, nil
}

// Exec runs process p in the container.
func (r *Runtime) Exec(ctx context.Context, id string, p specs.Process, o ExecOpts) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	path := o.ProcessPath
	if path == "" {
		f, err := os.CreateTemp("", "berth-process-*.json")
		if err != nil {
			return err
		}
		path = f.Name()
		f.Close()
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	args := []string{"--process", path}
	if o.Detach {
		args = append(args, "--detach")
	}
	if o.PidFile != "" {
		args = append(args, "--pid-file", o.PidFile)
	}
	if o.ConsoleSocket != "" {
		args = append(args, "--console-socket", o.ConsoleSocket)
	}
	return r.run(ctx, "exec", append(args, id), o.IO, nil)
}

// Kill sends sig to the container's init, or to all its processes.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal, all bool) error {
	var args []string
	if all {
		args = append(args, "--all")
	}
	return r.run(ctx, "kill", append(args, id, strconv.Itoa(int(sig))), IO{}, nil)
}

// Delete removes the container from the runtime; force kills it first.
func (r *Runtime) Delete(ctx context.Context, id string, force bool) error {
	var args []string
	if force {
		args = append(args, "--force")
	}
	return r.run(ctx, "delete", append(args, id), IO{}, nil)
}

// Pause freezes all the container's processes.
func (r *Runtime) Pause(ctx context.Context, id string) error {
	return r.run(ctx, "pause", []string{id}, IO{}, nil)
}

// Resume thaws a paused container.
func (r *Runtime) Resume(ctx context.Context, id string) error {
	return r.run(ctx, "resume", []string{id}, IO{}, nil)
}

// Update sets the cgroup limits of a running container (runc/crun
// update --resources).
func (r *Runtime) Update(ctx context.Context, id string, res *specs.LinuxResources) error {
	f, err := os.CreateTemp("", "berth-resources-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = json.NewEncoder(f).Encode(res)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return r.run(ctx, "update", []string{"--resources", f.Name(), id}, IO{}, nil)
}

// Ps lists the host pids of the container's processes.
func (r *Runtime) Ps(ctx context.Context, id string) ([]int, error) {
	var out bytes.Buffer
	if err := r.run(ctx, "ps", []string{"--format", "json", id}, IO{}, &out); err != nil {
		return nil, err
	}
	var pids []int
	if err := json.Unmarshal(bytes.TrimSpace(out.Bytes()), &pids); err != nil {
		return nil, fmt.Errorf("%s ps: %w: %q", r.Binary, err, out.String())
	}
	return pids, nil
}

// State returns the runtime's state of the container.
func (r *Runtime) State(ctx context.Context, id string) (*State, error) {
	var out bytes.Buffer
	if err := r.run(ctx, "state", []string{id}, IO{}, &out); err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		return nil, fmt.Errorf("%s state: %w", r.Binary, err)
	}
	return &s, nil
}

// ReadPidFile reads a pid written by --pid-file.
func ReadPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s: %q", path, b)
	}
	return pid, nil
}
