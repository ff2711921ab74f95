package shim

import (
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Config describes the container a shim runs.
type Config struct {
	ID          string   // container ID (also the runtime container ID)
	Bundle      string   // dir holding config.json; root.path in it is the already-mounted rootfs
	StateDir    string   // the shim's own dir: socket, exit file; survives daemon restarts
	Runtime     string   // runtime binary: "runc", "crun" or a path
	RuntimeArgs []string // extra global runtime arguments
	RuntimeRoot string   // --root for the runtime's state; "" = the runtime's default
	Terminal    bool     // pty (must equal process.terminal in config.json)
	OpenStdin   bool
	StdinOnce   bool
	Log         LogConfig

	// Binary is the berth binary to run as `berth shim`; "" = this
	// program's own shim (shimexe: the shim program appended to this
	// executable, else this executable).
	Binary string
}

// LogConfig selects the log driver the shim writes the output to.
type LogConfig struct {
	Driver string // "json-file", "local" or "none" ("" = none)
	Path   string
	Opts   map[string]string
}

// Exit is how a container's init (or an exec) ended.
type Exit struct {
	Code      int       // exit code, or 128+signal
	ExitedAt  time.Time //
	OOMKilled bool      // best effort: memory cgroup oom_kill counter moved
}

// AttachOptions selects the streams of an attach.
type AttachOptions struct {
	Stdin, Stdout, Stderr bool
}

// ExecConfig registers a process to exec in the container.
type ExecConfig struct {
	ID       string
	Process  specs.Process // Process.Terminal is set from Terminal
	Terminal bool
	Stdin    bool
}

// request is one protocol request (one JSON line).
type request struct {
	Op     string      `json:"op"`
	Exec   string      `json:"exec,omitempty"`
	Stdin  bool        `json:"stdin,omitempty"`
	Stdout bool        `json:"stdout,omitempty"`
	Stderr bool        `json:"stderr,omitempty"`
	Signal int         `json:"signal,omitempty"`
	All    bool        `json:"all,omitempty"`
	Width  uint16      `json:"width,omitempty"`
	Height uint16      `json:"height,omitempty"`
	Config *ExecConfig `json:"config,omitempty"`
	// Resources are the limits of an "update".
	Resources *specs.LinuxResources `json:"resources,omitempty"`
}

// response answers a request (one JSON line).
type response struct {
	Err  string `json:"err,omitempty"`
	Kind string `json:"kind,omitempty"`
	Pid  int    `json:"pid,omitempty"`
	Exit *Exit  `json:"exit,omitempty"`
	Pids []int  `json:"pids,omitempty"`
}

// Error kinds carried over the socket, so that the client returns the
// errdefs class the shim meant.
func errorKind(err error) string {
	switch {
	case errdefs.IsNotFound(err):
		return "notfound"
	case errdefs.IsInvalidArgument(err):
		return "invalid"
	case errdefs.IsConflict(err):
		return "conflict"
	case errdefs.IsAlreadyExists(err):
		return "exists"
	case errdefs.IsFailedPrecondition(err):
		return "precondition"
	case errdefs.IsUnavailable(err):
		return "unavailable"
	}
	return ""
}

// remoteError is an error from the shim: its message unchanged (the
// runtime's own words reach the user) and its class restored.
type remoteError struct {
	msg   string
	class error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.class }

func responseError(r *response) error {
	if r.Err == "" {
		return nil
	}
	var class error
	switch r.Kind {
	case "notfound":
		class = errdefs.ErrNotFound
	case "invalid":
		class = errdefs.ErrInvalidArgument
	case "conflict":
		class = errdefs.ErrConflict
	case "exists":
		class = errdefs.ErrAlreadyExists
	case "precondition":
		class = errdefs.ErrFailedPrecondition
	case "unavailable":
		class = errdefs.ErrUnavailable
	default:
		class = errdefs.ErrUnknown
	}
	return &remoteError{msg: r.Err, class: class}
}

var errNotRunning = fmt.Errorf("container is not running: %w", errdefs.ErrConflict)

var errGone = errors.New("shim is gone")
