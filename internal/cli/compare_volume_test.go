package cli

import "testing"

// volume create, ls, inspect, rm and prune against a reference engine,
// with both CLIs (see compare_test.go).
func TestCompareVolumes(t *testing.T) {
	r := newReferenceEngine(t)
	names := []string{"berthcli-vol-a", "berthcli-vol-b10", "berthcli-vol-b9"}
	cleanup := func() {
		for _, n := range append(names, "berthcli-vol-new", "berthcli-vol-opt") {
			r.docker(nil, "volume", "rm", "-f", n)
		}
	}
	cleanup()
	t.Cleanup(cleanup)
	r.mustDocker("volume", "create", "--label", "berthcli=1", "--label", "team=a", names[0])
	r.mustDocker("volume", "create", "--label", "berthcli=1", names[1])
	r.mustDocker("volume", "create", "--label", "berthcli=1", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", names[2])

	only := "label=berthcli=1"
	for _, args := range [][]string{
		{"volume", "ls", "-f", only},
		{"volume", "ls", "-q", "-f", only},
		{"volume", "ls", "-f", only, "-f", "name=b"},
		{"volume", "ls", "-f", only, "-f", "driver=local", "-f", "label=team=a"},
		{"volume", "ls", "-f", only, "-f", "dangling=true", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Label \"team\"}}"},
		{"volume", "ls", "-f", only, "--format", "json"},
		{"volume", "ls", "-f", only, "--format", "raw"},
		{"volume", "ls", "-f", only, "-q", "--format", "raw"},
		{"volume", "ls", "-f", only, "--format", "table {{.Name}}\t{{.Mountpoint}}\t{{.Scope}}\t{{.Links}}\t{{.Size}}"},
		{"volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{.Scope}}", names[0], names[2]},
		{"volume", "inspect", "-f", "{{json .Labels}}", names[0]},
	} {
		r.compare(false, args...)
	}
	for _, args := range [][]string{
		{"volume", "inspect", "berthcli-vol-nope"},
		{"volume", "inspect", names[1], "berthcli-vol-nope"},
		{"volume", "inspect"},
		{"volume", "ls", "x"},
		{"volume", "ls", "--format", "{{.Nope}}"},
		{"volume", "ls", "-f", "nope"},
		{"volume", "create", "a", "b"},
		{"volume", "create", "--name", "a", "b"},
		{"volume", "create", "a/b"},
		{"volume", "create", "x"},
		{"volume", "create", "-d", "nope", "berthcli-vol-new"},
		{"volume", "create", "-o", "foo=bar", "berthcli-vol-opt"},
		{"volume", "create", "-o", "type=tmpfs", "berthcli-vol-opt"},
		{"volume", "rm"},
		{"volume", "rm", "-f", "berthcli-vol-nope"},
		{"volume", "prune", "x"},
		{"volume", "nope"},
	} {
		r.compare(false, args...)
	}
	r.compareWithInput([]byte("n\n"), false, "volume", "prune")
	r.compareWithInput([]byte("n\n"), false, "volume", "prune", "--filter", "label=berthcli=1")
	// Commands that change the engine run once with each CLI.
	for _, cli := range []func([]byte, ...string) (string, string, int){r.docker, r.berth} {
		out, errOut, code := cli(nil, "volume", "create", "--label", "x=y", "berthcli-vol-new")
		if out != "berthcli-vol-new\n" || errOut != "" || code != 0 {
			t.Errorf("volume create: %q %q %d", out, errOut, code)
		}
		out, errOut, code = cli(nil, "volume", "rm", "berthcli-vol-nope", "berthcli-vol-new")
		if out != "berthcli-vol-new\n" || errOut != "Error response from daemon: get berthcli-vol-nope: no such volume\n" || code != 1 {
			t.Errorf("volume rm: %q %q %d", out, errOut, code)
		}
	}
}
