package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DockerCLI is the stock docker CLI the tests drive (E2E_DOCKER_CLI
// overrides).
func DockerCLI() string {
	if p := os.Getenv("E2E_DOCKER_CLI"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/local/bin/docker"); err == nil {
		return "/usr/local/bin/docker"
	}
	if p, err := exec.LookPath("docker"); err == nil {
		return p
	}
	return "docker"
}

// DefaultTimeout bounds a CLI command unless the test says otherwise.
const DefaultTimeout = 60 * time.Second

// CLI runs a docker-compatible command-line client against the engine.
type CLI struct {
	Name string // "docker" or "berth"
	Path string
	env  []string
}

// Docker is the stock docker CLI pointed at the engine.
func (e *Engine) Docker() CLI {
	return CLI{Name: "docker", Path: DockerCLI(), env: e.cliEnv()}
}

// Berth is the berth CLI pointed at the engine.
func (e *Engine) Berth(t testing.TB) CLI {
	t.Helper()
	if e.BerthBin == "" {
		bin, err := BerthBinary()
		if err != nil {
			t.Fatal(err)
		}
		e.BerthBin = bin
	}
	return CLI{Name: "berth", Path: e.BerthBin, env: e.cliEnv()}
}

// CLIs are the clients table tests run with: the stock docker CLI, and the
// berth CLI when berth is under test (E2E_CLI overrides).
func (e *Engine) CLIs(t testing.TB) []CLI {
	t.Helper()
	var out []CLI
	for _, n := range e.clis {
		switch strings.TrimSpace(n) {
		case "docker":
			out = append(out, e.Docker())
		case "berth":
			out = append(out, e.Berth(t))
		case "":
		default:
			t.Fatalf("E2E_CLI: unknown CLI %q", n)
		}
	}
	return out
}

// ForEachCLI runs f as a subtest per CLI (named after the CLI).
func (e *Engine) ForEachCLI(t *testing.T, f func(t *testing.T, c CLI)) {
	t.Helper()
	for _, c := range e.CLIs(t) {
		t.Run(c.Name, func(t *testing.T) { f(t, c) })
	}
}

// WithEnv returns the CLI with environment variables replaced or removed
// ("KEY=value" sets, "KEY" alone unsets).
func (c CLI) WithEnv(kvs ...string) CLI {
	env := append([]string(nil), c.env...)
	for _, kv := range kvs {
		key, _, set := strings.Cut(kv, "=")
		out := env[:0]
		for _, x := range env {
			if !strings.HasPrefix(x, key+"=") {
				out = append(out, x)
			}
		}
		env = out
		if set {
			env = append(env, kv)
		}
	}
	c.env = env
	return c
}

func (e *Engine) cliEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "BERTH_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"DOCKER_HOST="+e.Host,
		"BERTH_HOST="+e.Host,
		"DOCKER_CONFIG="+e.configDir,
		"DOCKER_CLI_HINTS=false",
	)
}

// Result is what a finished command produced.
type Result struct {
	Args     []string
	Stdout   string
	Stderr   string
	Code     int // exit code; -1 when it could not run or was killed by the timeout
	Err      error
	Duration time.Duration
}

func (r *Result) String() string {
	return fmt.Sprintf("$ %s\nexit code %d (%v)%s\n--- stdout ---\n%s--- stderr ---\n%s",
		strings.Join(r.Args, " "), r.Code, r.Duration.Round(time.Millisecond), errSuffix(r.Err), r.Stdout, r.Stderr)
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ", " + err.Error()
}

// Combined is stdout followed by stderr.
func (r *Result) Combined() string { return r.Stdout + r.Stderr }

// Assert fails the test unless the command exited with code and its
// combined output contains every one of contains.
func (r *Result) Assert(t testing.TB, code int, contains ...string) *Result {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit code %d, got:\n%s", code, r)
	}
	for _, s := range contains {
		if !strings.Contains(r.Combined(), s) {
			t.Fatalf("want output containing %q, got:\n%s", s, r)
		}
	}
	return r
}

// AssertAny is Assert where the output must contain at least one of
// alternatives: for messages whose wording changed between Docker
// releases.
func (r *Result) AssertAny(t testing.TB, code int, alternatives ...string) *Result {
	t.Helper()
	if r.Code != code {
		t.Fatalf("want exit code %d, got:\n%s", code, r)
	}
	for _, s := range alternatives {
		if strings.Contains(r.Combined(), s) {
			return r
		}
	}
	t.Fatalf("want output containing one of %q, got:\n%s", alternatives, r)
	return r
}

// OK fails the test unless the command succeeded.
func (r *Result) OK(t testing.TB) *Result {
	t.Helper()
	return r.Assert(t, 0)
}

// Lines is stdout split into non-empty trimmed lines.
func (r *Result) Lines() []string {
	var out []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if l = strings.TrimRight(l, "\r "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Out is stdout without surrounding whitespace.
func (r *Result) Out() string { return strings.TrimSpace(r.Stdout) }

// Run runs the CLI with args and a default timeout.
func (c CLI) Run(t testing.TB, args ...string) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	r := c.run(ctx, nil, args...)
	if testing.Verbose() {
		t.Logf("$ %s %s -> %d (%v)", c.Name, strings.Join(args, " "), r.Code, r.Duration.Round(time.Millisecond))
	}
	return r
}

// RunOpts are options for RunWith.
type RunOpts struct {
	Stdin   io.Reader
	Timeout time.Duration
	// Dir is the working directory (relative paths in arguments, such
	// as `cp ./file app:/tmp/`); the test's own when empty.
	Dir string
}

// RunWith runs the CLI with stdin and/or a timeout.
func (c CLI) RunWith(t testing.TB, o RunOpts, args ...string) *Result {
	t.Helper()
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	r := c.runIn(ctx, o.Dir, o.Stdin, args...)
	if testing.Verbose() {
		t.Logf("$ %s %s -> %d (%v)", c.Name, strings.Join(args, " "), r.Code, r.Duration.Round(time.Millisecond))
	}
	return r
}

func (c CLI) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Path, args...)
	cmd.Env = c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (c CLI) run(ctx context.Context, stdin io.Reader, args ...string) *Result {
	return c.runIn(ctx, "", stdin, args...)
}

func (c CLI) runIn(ctx context.Context, dir string, stdin io.Reader, args ...string) *Result {
	cmd := c.command(ctx, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := &Result{Args: append([]string{filepath.Base(c.Path)}, args...), Duration: time.Since(start)}
	r.Stdout, r.Stderr = stdout.String(), stderr.String()
	r.Code, r.Err = exitCode(err, ctx)
	return r
}

func exitCode(err error, ctx context.Context) (int, error) {
	if err == nil {
		return 0, nil
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("timed out: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -1, fmt.Errorf("killed by %v", ws.Signal())
		}
		return ee.ExitCode(), nil
	}
	return -1, err
}

// Buffer collects a stream and lets a test wait for patterns in it.
type Buffer struct {
	mu     sync.Mutex
	data   []byte
	cursor int // Expect searches from here
	notify chan struct{}
	closed bool
}

func newBuffer() *Buffer { return &Buffer{notify: make(chan struct{})} }

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data = append(b.data, p...)
	close(b.notify)
	b.notify = make(chan struct{})
	return len(p), nil
}

func (b *Buffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.notify)
	}
}

// String is everything received so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.data)
}

// Expect waits until the regexp matches what arrived after the previous
// match, and returns the match (with submatches). It fails the test on
// timeout or when the stream ended without a match.
func (b *Buffer) Expect(t testing.TB, pattern string, timeout time.Duration) []string {
	t.Helper()
	m, err := b.expect(regexp.MustCompile(pattern), timeout)
	if err != nil {
		t.Fatalf("waiting for /%s/: %v; received:\n%s", pattern, err, b.String())
	}
	return m
}

// TryExpect is Expect returning an error instead of failing the test:
// for output that a test provokes again until it comes.
func (b *Buffer) TryExpect(pattern string, timeout time.Duration) ([]string, error) {
	return b.expect(regexp.MustCompile(pattern), timeout)
}

func (b *Buffer) expect(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		rest := b.data[b.cursor:]
		if loc := re.FindSubmatchIndex(rest); loc != nil {
			var m []string
			for i := 0; i+1 < len(loc); i += 2 {
				if loc[i] >= 0 {
					m = append(m, string(rest[loc[i]:loc[i+1]]))
				} else {
					m = append(m, "")
				}
			}
			b.cursor += loc[1]
			b.mu.Unlock()
			return m, nil
		}
		closed, ch := b.closed, b.notify
		b.mu.Unlock()
		if closed {
			return nil, errors.New("stream ended")
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil, fmt.Errorf("timed out after %v", timeout)
		}
	}
}

// Proc is a CLI command running in the background (logs -f, events,
// attach), its output collected.
type Proc struct {
	Args   []string
	Stdout *Buffer
	Stderr *Buffer
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   chan struct{}
	code   int
	err    error
	cancel context.CancelFunc
}

// Start runs the CLI in the background. The process is killed at the end
// of the test if still running.
func (c CLI) Start(t testing.TB, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := c.command(ctx, args...)
	p := &Proc{Args: append([]string{c.Name}, args...), Stdout: newBuffer(), Stderr: newBuffer(), cmd: cmd, done: make(chan struct{}), cancel: cancel}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %v: %v", p.Args, err)
	}
	go func() {
		p.code, p.err = exitCode(cmd.Wait(), context.Background())
		p.Stdout.close()
		p.Stderr.close()
		close(p.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// Write sends to the process's stdin.
func (p *Proc) Write(s string) error {
	_, err := io.WriteString(p.stdin, s)
	return err
}

// CloseStdin closes the process's stdin (EOF).
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed when the process exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its exit code; it fails
// the test on timeout.
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		t.Fatalf("%v still running after %v\n--- stdout ---\n%s--- stderr ---\n%s", p.Args, timeout, p.Stdout, p.Stderr)
		return -1
	}
}

// Kill kills the process and waits for it.
func (p *Proc) Kill() {
	p.cancel()
	<-p.done
}
