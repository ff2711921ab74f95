package core

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestCLIForms: `container <verb>` and top-level forms, table formats, and
// how the CLI finds the engine.
func TestCLIForms(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		if r := c.Run(t, "container", "run", "--rm", "busybox", "echo", "x").OK(t); r.Stdout != "x\n" {
			t.Fatalf("container run: %q", r.Stdout)
		}
		c.Run(t, "container", "create", "--name", name, "busybox", "sh", "-c", "echo started").OK(t)
		c.Run(t, "container", "start", "-a", name).Assert(t, 0, "started")
		c.Run(t, "container", "logs", name).Assert(t, 0, "started")
		r := c.Run(t, "container", "ls", "-a", "--filter", "name="+name, "--format", "table {{.Names}}\t{{.Status}}").OK(t)
		lines := r.Lines()
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAMES") || !strings.Contains(lines[0], "STATUS") ||
			!strings.HasPrefix(lines[1], name) || !strings.Contains(lines[1], "Exited (0)") {
			t.Fatalf("ls with a table format:\n%s", r.Stdout)
		}
		c.Run(t, "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).Assert(t, 0, "exited 0")
		c.Run(t, "container", "rm", name).Assert(t, 0, name)

		// The engine from -H instead of the environment.
		c.WithEnv("DOCKER_HOST", "BERTH_HOST").Run(t, "-H", e.Host, "version", "--format", "{{.Server.APIVersion}}").OK(t)
		if c.Name == "berth" {
			// berth reads BERTH_HOST before DOCKER_HOST.
			c.WithEnv("DOCKER_HOST=unix:///nonexistent.sock").Run(t, "ps").OK(t)
			c.WithEnv("DOCKER_HOST").Run(t, "ps").OK(t)
		}
		// No engine there: a clear error, not a hang.
		c.WithEnv("DOCKER_HOST", "BERTH_HOST").Run(t, "-H", "unix:///nonexistent-e2e.sock", "ps").Assert(t, 1, "nonexistent-e2e.sock")
	})
}

func TestLogDrivers(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		t.Parallel()
		t.Run("none", func(t *testing.T) {
			t.Parallel()
			name := e.Name(t)
			c.Run(t, "run", "--name", name, "--log-driver", "none", "busybox", "echo", "hi").Assert(t, 0, "hi")
			c.Run(t, "logs", name).Assert(t, 1, "configured logging driver does not support reading")
		})
		t.Run("local", func(t *testing.T) {
			t.Parallel()
			name := e.Name(t)
			c.Run(t, "run", "--name", name, "--log-driver", "local", "busybox", "sh", "-c", "echo one; sleep 0.2; echo two >&2").OK(t)
			r := c.Run(t, "logs", name).OK(t)
			if r.Stdout != "one\n" || r.Stderr != "two\n" {
				t.Fatalf("local driver logs: %q %q", r.Stdout, r.Stderr)
			}
			// (The pause above orders the two streams in the log.)
			if r := c.Run(t, "logs", "--tail", "1", name).OK(t); r.Stdout != "" || r.Stderr != "two\n" {
				t.Fatalf("local driver logs --tail 1: %q %q", r.Stdout, r.Stderr)
			}
			c.Run(t, "inspect", "--format", "{{.HostConfig.LogConfig.Type}}", name).Assert(t, 0, "local")
		})
		t.Run("json-file-rotation", func(t *testing.T) {
			t.Parallel()
			name := e.Name(t)
			// 200 lines of ~100 bytes: about 20 KiB through a 2 KiB x 2 window.
			c.Run(t, "run", "--name", name, "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox", "sh", "-c",
				`i=0; while [ $i -lt 200 ]; do i=$((i+1)); printf "line %03d %090d\n" $i 0; done`).OK(t)
			got := e.Inspect(t, name)
			if got.HostConfig.LogConfig.Type != "json-file" {
				t.Fatalf("log driver %q", got.HostConfig.LogConfig.Type)
			}
			r := c.Run(t, "logs", name).OK(t)
			lines := r.Lines()
			if len(lines) == 0 || len(lines) >= 200 || !strings.HasPrefix(lines[len(lines)-1], "line 200 ") {
				t.Fatalf("rotated logs: %d lines, last %q", len(lines), lines[len(lines)-1:])
			}
			if strings.Contains(r.Stdout, "line 001 ") {
				t.Fatal("rotated logs still hold the first line")
			}
			// Lines come in order, none lost inside the window.
			var prev int
			for i, l := range lines {
				var n int
				fmt.Sscanf(l, "line %d ", &n)
				if i > 0 && n != prev+1 {
					t.Fatalf("rotated logs skip from line %d to %d", prev, n)
				}
				prev = n
			}
			// Two files at most, as max-file says, each near max-size.
			if e.Private() {
				files, _ := filepath.Glob(got.LogPath + "*")
				if len(files) == 0 || len(files) > 2 {
					t.Errorf("log files %v, want at most 2", files)
				}
			}
		})
	})
}
