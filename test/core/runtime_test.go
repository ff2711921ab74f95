package core

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// crunUsable: crun refuses hybrid cgroup hosts whose cgroup2 tree still
// holds controllers (scripts/install-deps.sh fixes that on CI machines).
func crunUsable() (bool, string) {
	if _, err := exec.LookPath("crun"); err != nil {
		return false, "crun is not installed"
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil && strings.TrimSpace(string(b)) != "" {
		return false, "hybrid cgroups with controllers on cgroup2: crun refuses them"
	}
	return true, ""
}

// TestRuntimes: --runtime picks the OCI runtime of one container (runc
// stays the default), info lists the runtimes, and an unknown name is
// refused before anything is created.
func TestRuntimes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	if ok, why := crunUsable(); !ok {
		t.Skip(why)
	}
	info := e.Docker().Run(t, "info", "--format", "{{.DefaultRuntime}} {{json .Runtimes}}").OK(t).Out()
	if !strings.HasPrefix(info, "runc ") || !strings.Contains(info, `"crun"`) || !strings.Contains(info, `"runc"`) {
		t.Errorf("info: %s", info)
	}
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "--runtime", "crun", "busybox", "sleep", "1000").OK(t)
		t.Cleanup(func() { c.Run(t, "rm", "-f", name) })
		c.Run(t, "inspect", "--format", "{{.HostConfig.Runtime}}", name).Assert(t, 0, "crun")
		c.Run(t, "exec", name, "echo", "inside crun").Assert(t, 0, "inside crun")
		if e.Kind == e2e.KindBerth {
			// crun, not runc, holds the container's state.
			id := c.Run(t, "inspect", "--format", "{{.Id}}", name).OK(t).Out()
			matches, _ := filepath.Glob(filepath.Join(e.Daemon.ExecRoot, "*", id, "status"))
			if len(matches) == 0 {
				t.Errorf("no crun state for %s under %s", id, e.Daemon.ExecRoot)
			}
		}
		c.Run(t, "stop", "-t", "1", name).OK(t)
		c.Run(t, "inspect", "--format", "{{.State.ExitCode}}", name).Assert(t, 0, "137")

		refused := e.Name(t, "nope")
		c.Run(t, "run", "--rm", "--name", refused, "--runtime", "nope", "busybox", "true").
			AssertAny(t, 125, "Unknown runtime specified nope", "unknown or invalid runtime name: nope")
		c.Run(t, "inspect", refused).Assert(t, 1, "No such object")
	})
}
