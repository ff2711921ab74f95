package container

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/internal/filters"
)

func TestStateStrings(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	started := now.Add(-3 * time.Second)
	finished := now.Add(-2 * time.Minute)
	cases := []struct {
		s            State
		state, human string
	}{
		{State{}, "created", "Created"},
		{State{Running: true, StartedAt: started}, "running", "Up 3 seconds"},
		{State{Running: true, Paused: true, StartedAt: now.Add(-2 * time.Minute)}, "paused", "Up 2 minutes (Paused)"},
		{State{Running: true, Restarting: true, ExitCode: 1, StartedAt: started, FinishedAt: now.Add(-5 * time.Second)}, "restarting", "Restarting (1) 5 seconds ago"},
		{State{StartedAt: started, FinishedAt: finished}, "exited", "Exited (0) 2 minutes ago"},
		{State{StartedAt: started, FinishedAt: finished, ExitCode: 137}, "exited", "Exited (137) 2 minutes ago"},
		{State{StartedAt: started, FinishedAt: finished, RemovalInProgress: true}, "removing", "Removal In Progress"},
		{State{StartedAt: started, FinishedAt: finished, Dead: true}, "dead", "Dead"},
		// A failed first start: still "created", with the error recorded.
		{State{ExitCode: 127, Error: "not found"}, "created", "Created"},
	}
	for _, c := range cases {
		if got := string(c.s.StateString()); got != c.state {
			t.Errorf("%+v: StateString %q, want %q", c.s, got, c.state)
		}
		if got := c.s.HumanString(now); got != c.human {
			t.Errorf("%+v: HumanString %q, want %q", c.s, got, c.human)
		}
	}
}

func TestStateTransitions(t *testing.T) {
	var s State
	t0 := time.Now().UTC()
	s.setRunning(100, t0)
	if !s.Running || s.Pid != 100 || s.StartedAt != t0 || s.StateString() != "running" {
		t.Fatalf("running: %+v", s)
	}
	s.setRestarting(Exit{Code: 2, ExitedAt: t0.Add(time.Second)})
	if !s.Running || !s.Restarting || s.Pid != 0 || s.ExitCode != 2 || s.StateString() != "restarting" {
		t.Fatalf("restarting: %+v", s)
	}
	s.setRunning(101, t0.Add(2*time.Second))
	if s.Restarting || s.ExitCode != 0 {
		t.Fatalf("running again: %+v", s)
	}
	s.setStopped(Exit{Code: 143, OOMKilled: true})
	if s.Running || s.ExitCode != 143 || !s.OOMKilled || s.FinishedAt.IsZero() || s.StateString() != "exited" {
		t.Fatalf("stopped: %+v", s)
	}
	s.setStartFailed("boom", 0)
	if s.ExitCode != 128 || s.Error != "boom" {
		t.Fatalf("start failure: %+v", s)
	}
	api := s.api()
	if api.Status != "exited" || api.StartedAt == "" || !strings.HasSuffix(api.StartedAt, "Z") {
		t.Errorf("api state %+v", api)
	}
	var zero State
	if zero.api().FinishedAt != "0001-01-01T00:00:00Z" {
		t.Errorf("zero time %q", zero.api().FinishedAt)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"web", "/web", "a1", "my_app.v2-x", "00"} {
		if n, err := normalizeName(ok); err != nil || n[0] != '/' {
			t.Errorf("normalizeName(%q) = %q, %v", ok, n, err)
		}
	}
	for _, bad := range []string{"a", "-web", "_x", "we b", "web/x", "/", "", "ünïcode"} {
		_, err := normalizeName(bad)
		if !errdefs.IsInvalidArgument(err) || err.Error() != "Invalid container name ("+bad+"), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" {
			t.Errorf("normalizeName(%q): %v", bad, err)
		}
	}
	for i := 0; i < 2000; i++ {
		n := randomName(0)
		if n == "boring_wozniak" || !validName.MatchString(n) || strings.Count(n, "_") != 1 {
			t.Fatalf("randomName gave %q", n)
		}
	}
	if n := randomName(1); n[len(n)-1] < '0' || n[len(n)-1] > '9' {
		t.Errorf("a retry name ends in a digit, got %q", n)
	}
}

func TestIndex(t *testing.T) {
	x := newIndex()
	mk := func(id, name string) {
		c := newContainer(record{ID: id, Name: name, Created: time.Now()}, "")
		if err := x.reserveName(name, id); err != nil {
			t.Fatal(err)
		}
		x.add(c)
	}
	mk("abc123"+strings.Repeat("0", 58), "/web")
	mk("abd456"+strings.Repeat("0", 58), "/db")
	get := func(ref string) (string, error) {
		c, err := x.get(ref)
		if err != nil {
			return "", err
		}
		return c.Name, nil
	}
	for ref, want := range map[string]string{"web": "/web", "/web": "/web", "abc": "/web", "abd4": "/db", "abc123" + strings.Repeat("0", 58): "/web"} {
		if got, err := get(ref); err != nil || got != want {
			t.Errorf("get(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	if _, err := get("ab"); !errdefs.IsInvalidArgument(err) || err.Error() != "multiple IDs found with provided prefix: ab" {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := get("nosuch"); !errdefs.IsNotFound(err) || err.Error() != "No such container: nosuch" {
		t.Errorf("not found: %v", err)
	}
	if _, err := get(""); !errdefs.IsInvalidArgument(err) {
		t.Errorf("empty ref: %v", err)
	}
	err := x.reserveName("/web", "other")
	want := `Conflict. The container name "/web" is already in use by container "abc123` + strings.Repeat("0", 58) + `". You have to remove (or rename) that container to be able to reuse that name.`
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Errorf("conflict: %v", err)
	}
	// A name matching another container's ID prefix resolves by name.
	mk("fff"+strings.Repeat("1", 61), "/abc")
	if got, _ := get("abc"); got != "/abc" {
		t.Errorf("name beats prefix: got %q", got)
	}
	x.remove("abd456"+strings.Repeat("0", 58), "/db")
	if _, err := get("db"); !errdefs.IsNotFound(err) {
		t.Errorf("removed container still found: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	var d time.Duration
	var got []time.Duration
	for i := 0; i < 12; i++ {
		d = nextBackoff(d, time.Second)
		got = append(got, d)
	}
	want := []time.Duration{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("back-off sequence %v", got)
		}
	}
	if d := nextBackoff(51200*time.Millisecond, 10*time.Second); d != 100*time.Millisecond {
		t.Errorf("a 10s run resets the back-off, got %v", d)
	}
}

func TestPolicyRestarts(t *testing.T) {
	p := func(name string, max int) containertypes.RestartPolicy {
		return containertypes.RestartPolicy{Name: containertypes.RestartPolicyMode(name), MaximumRetryCount: max}
	}
	cases := []struct {
		policy   containertypes.RestartPolicy
		code     int
		manual   bool
		restarts int
		want     bool
	}{
		{p("no", 0), 1, false, 0, false},
		{p("always", 0), 0, false, 5, true},
		{p("always", 0), 0, true, 0, true},
		{p("unless-stopped", 0), 0, false, 0, true},
		{p("unless-stopped", 0), 1, true, 0, false},
		{p("on-failure", 0), 0, false, 0, false},
		{p("on-failure", 0), 1, false, 100, true},
		{p("on-failure", 3), 1, false, 2, true},
		{p("on-failure", 3), 1, false, 3, false},
	}
	for _, c := range cases {
		if got := policyRestarts(c.policy, c.code, c.manual, c.restarts); got != c.want {
			t.Errorf("%+v code %d manual %v restarts %d: %v, want %v", c.policy, c.code, c.manual, c.restarts, got, c.want)
		}
	}
}

func imageCfg(f func(*dockerspec.DockerOCIImageConfig)) *dockerspec.DockerOCIImageConfig {
	c := &dockerspec.DockerOCIImageConfig{}
	f(c)
	return c
}

func TestMergeImageConfig(t *testing.T) {
	img := imageCfg(func(c *dockerspec.DockerOCIImageConfig) {
		c.ImageConfig = ocispec.ImageConfig{
			User: "nobody", Env: []string{"PATH=/usr/bin", "LANG=C"}, Entrypoint: []string{"/entry"}, Cmd: []string{"serve"},
			WorkingDir: "/app", Labels: map[string]string{"a": "image", "b": "image"}, StopSignal: "SIGQUIT",
			ExposedPorts: map[string]struct{}{"80/tcp": {}}, Volumes: map[string]struct{}{"/data": {}},
		}
		c.Healthcheck = &dockerspec.HealthcheckConfig{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 3}
	})

	cfg := &containertypes.Config{Env: []string{"LANG=en"}, Labels: map[string]string{"a": "user"}}
	if err := mergeImageConfig(cfg, img); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Env, ",") != "LANG=en,PATH=/usr/bin" {
		t.Errorf("env %v", cfg.Env)
	}
	if cfg.User != "nobody" || cfg.WorkingDir != "/app" || cfg.StopSignal != "SIGQUIT" || cfg.Labels["a"] != "user" || cfg.Labels["b"] != "image" {
		t.Errorf("merged %+v", cfg)
	}
	if strings.Join(cfg.Entrypoint, " ") != "/entry" || strings.Join(cfg.Cmd, " ") != "serve" {
		t.Errorf("entrypoint %v cmd %v", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.ExposedPorts[network.MustParsePort("80/tcp")]; !ok || cfg.Volumes["/data"] != struct{}{} {
		t.Errorf("ports %v volumes %v", cfg.ExposedPorts, cfg.Volumes)
	}
	if cfg.Healthcheck == nil || cfg.Healthcheck.Retries != 3 {
		t.Errorf("healthcheck %+v", cfg.Healthcheck)
	}

	// A user command replaces the image's, keeping its entrypoint.
	cfg = &containertypes.Config{Cmd: []string{"ls"}}
	mergeImageConfig(cfg, img)
	if p, a := entrypointAndArgs(cfg.Entrypoint, cfg.Cmd); p != "/entry" || strings.Join(a, " ") != "ls" {
		t.Errorf("cmd override: %q %v", p, a)
	}
	// A user entrypoint drops the image's command too.
	cfg = &containertypes.Config{Entrypoint: []string{"/bin/sh"}}
	mergeImageConfig(cfg, img)
	if len(cfg.Cmd) != 0 || strings.Join(cfg.Entrypoint, " ") != "/bin/sh" {
		t.Errorf("entrypoint override: %v %v", cfg.Entrypoint, cfg.Cmd)
	}
	// --entrypoint "" with a command: the image's entrypoint is dropped.
	cfg = &containertypes.Config{Entrypoint: []string{""}, Cmd: []string{"echo", "hi"}}
	mergeImageConfig(cfg, img)
	if p, a := entrypointAndArgs(cfg.Entrypoint, cfg.Cmd); p != "echo" || strings.Join(a, " ") != "hi" {
		t.Errorf("empty entrypoint: %q %v", p, a)
	}
	// Nothing to run.
	empty := imageCfg(func(*dockerspec.DockerOCIImageConfig) {})
	if err := mergeImageConfig(&containertypes.Config{}, empty); err == nil || err.Error() != "no command specified" {
		t.Errorf("no command: %v", err)
	}
}

func TestCommandString(t *testing.T) {
	if got := commandString("sh", []string{"-c", "echo hi"}); got != "sh -c 'echo hi'" {
		t.Errorf("got %q", got)
	}
	if got := commandString("true", nil); got != "true" {
		t.Errorf("got %q", got)
	}
}

func TestParsePS(t *testing.T) {
	out := []byte(`UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init
root         100       1  0 10:01 ?        00:00:00 sh -c sleep 1000
root         101     100  0 10:01 ?        00:00:00 sleep 1000
`)
	resp, err := parsePS(out, []int{100, 101})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Titles) != 8 || len(resp.Processes) != 2 || resp.Processes[0][7] != "sh -c sleep 1000" || resp.Processes[1][1] != "101" {
		t.Errorf("parsed %+v", resp)
	}
	if _, err := parsePS([]byte("USER CMD\nroot x\n"), nil); err == nil {
		t.Error("no PID column accepted")
	}
}

func TestStartFailureCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{runtimeError(errors.New(`exec: "nope": executable file not found in $PATH`)), 127},
		{runtimeError(errors.New(`exec: "/bin/x": permission denied`)), 126},
		{runtimeError(errors.New("no such file or directory")), 127},
		{runtimeError(errors.New("cgroup trouble")), 128},
		{errors.New("network: port is already allocated"), 128},
	}
	for _, c := range cases {
		if _, code := startFailure(c.err); code != c.code {
			t.Errorf("%v: code %d, want %d", c.err, code, c.code)
		}
	}
	if err := startError(cases[0].err); !errdefs.IsInvalidArgument(err) || !strings.HasPrefix(err.Error(), "failed to create task for container: ") {
		t.Errorf("startError: %v", err)
	}
}

func TestListFilters(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	web := h.createWith(CreateOptions{Name: "web", Config: &containertypes.Config{Image: "busybox", Cmd: []string{"sleep"},
		Labels: map[string]string{"app": "web"}, ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}}},
		HostConfig: &containertypes.HostConfig{PortBindings: network.PortMap{network.MustParsePort("80/tcp"): {{HostPort: "8080"}}}}})
	h.start(web)
	time.Sleep(2 * time.Millisecond) // distinct creation times order the list
	failed := h.create("failed", "false")
	h.start(failed)
	recvResult(t, h.waitExit(failed, "not-running"))
	time.Sleep(2 * time.Millisecond)
	created := h.createWith(CreateOptions{Name: "created", Config: &containertypes.Config{Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"app": "db"}}})

	names := func(f map[string][]string, all bool, limit int) string {
		args := filters.Args{}
		for k, vs := range f {
			for _, v := range vs {
				args.Add(k, v)
			}
		}
		list, err := h.s.List(ctx, ListOptions{All: all, Limit: limit, Filters: args})
		if err != nil {
			return "error: " + err.Error()
		}
		var out []string
		for _, s := range list {
			out = append(out, strings.TrimPrefix(s.Names[0], "/"))
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		f     map[string][]string
		all   bool
		limit int
		want  string
	}{
		{nil, false, 0, "web"},
		{nil, true, 0, "created,failed,web"},
		{nil, false, 2, "created,failed"},
		{map[string][]string{"status": {"exited"}}, false, 0, "failed"},
		{map[string][]string{"status": {"created"}}, false, 0, "created"},
		{map[string][]string{"exited": {"1"}}, true, 0, "failed"},
		{map[string][]string{"exited": {"0"}}, true, 0, ""},
		{map[string][]string{"label": {"app"}}, true, 0, "created,web"},
		{map[string][]string{"label": {"app=db"}}, true, 0, "created"},
		{map[string][]string{"name": {"^web$"}}, true, 0, "web"},
		{map[string][]string{"name": {"e"}}, true, 0, "created,failed,web"},
		{map[string][]string{"id": {web[:6]}}, true, 0, "web"},
		{map[string][]string{"ancestor": {"busybox"}}, true, 0, "created,failed,web"},
		{map[string][]string{"ancestor": {"nosuch"}}, true, 0, ""},
		{map[string][]string{"before": {"created"}}, true, 0, "failed,web"},
		{map[string][]string{"since": {"web"}}, true, 0, "created,failed"},
		{map[string][]string{"publish": {"8080"}}, true, 0, "web"},
		{map[string][]string{"expose": {"80/tcp"}}, true, 0, "web"},
		{map[string][]string{"expose": {"79-81"}}, true, 0, "web"},
		{map[string][]string{"network": {"bridge"}}, true, 0, "created,failed,web"},
		{map[string][]string{"network": {"host"}}, true, 0, ""},
		{map[string][]string{"health": {"none"}}, true, 0, "created,failed,web"},
		{map[string][]string{"is-task": {"true"}}, true, 0, ""},
		{map[string][]string{"status": {"sleeping"}}, true, 0, "error: invalid filter 'status=sleeping': invalid value for state (sleeping): must be one of created, running, paused, restarting, removing, exited, dead"},
		{map[string][]string{"exited": {"x"}}, true, 0, "error: invalid filter 'exited=x'"},
		{map[string][]string{"colour": {"red"}}, true, 0, "error: invalid filter 'colour'"},
		{map[string][]string{"since": {"nosuch"}}, true, 0, "error: No such container: nosuch"},
	}
	for _, c := range cases {
		if got := names(c.f, c.all, c.limit); got != c.want {
			t.Errorf("filters %v all=%v limit=%d: got %q, want %q", c.f, c.all, c.limit, got, c.want)
		}
	}

	list, _ := h.s.List(ctx, ListOptions{All: true, Size: true})
	byName := map[string]containertypes.Summary{}
	for _, s := range list {
		byName[s.Names[0]] = s
	}
	w := byName["/web"]
	if w.Image != "busybox" || w.Command != "sleep" || w.State != "running" || !strings.HasPrefix(w.Status, "Up ") || w.SizeRw != 42 {
		t.Errorf("web summary %+v", w)
	}
	if len(w.Ports) != 1 || w.Ports[0].PrivatePort != 80 || w.Ports[0].PublicPort != 8080 || w.Ports[0].Type != "tcp" {
		t.Errorf("web ports %+v", w.Ports)
	}
	if ep := w.NetworkSettings.Networks["bridge"]; ep == nil || !ep.IPAddress.IsValid() {
		t.Errorf("web networks %+v", w.NetworkSettings.Networks)
	}
	if f := byName["/failed"]; f.State != "exited" || !strings.HasPrefix(f.Status, "Exited (1) ") || len(f.Ports) != 0 {
		t.Errorf("failed summary %+v", f)
	}
	if c := byName["/created"]; c.Status != "Created" || c.ID != created {
		t.Errorf("created summary %+v", c)
	}
}

// Prune keeps a container only when it carries every label! term, as
// Docker's prune does (and as image prune does here).
func TestPruneNegatedLabels(t *testing.T) {
	f, err := filters.Parse(`{"label!":{"keep":true,"tier=db":true}}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		labels map[string]string
		prune  bool
	}{
		{map[string]string{"keep": "", "tier": "db"}, false},
		{map[string]string{"keep": ""}, true},
		{map[string]string{"tier": "web"}, true},
		{nil, true},
	} {
		if got := matchNegatedLabels(f, c.labels); got != c.prune {
			t.Errorf("labels %v: prune = %v, want %v", c.labels, got, c.prune)
		}
	}
}
