package core

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestUnknownImage(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		img := "e2e-no-such-image"
		// The CLI tries to pull what is not there; no registry is reachable.
		c.Run(t, "run", "--name", name, img).Assert(t, 125, "Unable to find image '"+img+":latest' locally")
		c.Run(t, "run", "--pull", "never", "--name", name, img).Assert(t, 125, "No such image: "+img+":latest")
		// create reports daemon errors with exit code 1, run with 125.
		c.Run(t, "create", "--pull", "never", "--name", name, img+":v9").Assert(t, 1, "No such image: "+img+":v9")
		if e.Exists(t, name) {
			t.Fatal("a container was created for an unknown image")
		}
	})
	_, err := e.Client(t).ContainerCreate(context.Background(), client.ContainerCreateOptions{Image: "e2e-no-such-image"})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such image: e2e-no-such-image:latest") {
		t.Fatalf("SDK create with an unknown image: %v, want 404 No such image", err)
	}
}

func TestUnknownContainer(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	const x = "e2e-no-such-container"
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		for _, args := range [][]string{
			{"stop", x}, {"start", x}, {"restart", x}, {"kill", x}, {"rm", x}, {"rm", "-f", x},
			{"logs", x}, {"pause", x}, {"unpause", x}, {"wait", x}, {"port", x}, {"top", x},
			{"attach", x}, {"exec", x, "true"}, {"rename", x, x + "2"}, {"update", "--restart", "always", x},
			{"container", "inspect", x},
		} {
			r := c.Run(t, args...)
			code := 1
			if args[0] == "rm" && args[1] == "-f" {
				code = 0 // rm -f says so, but it is not an error
			}
			if r.Code != code || !strings.Contains(r.Stderr, "No such container: "+x) {
				t.Errorf("want exit %d and %q:\n%s", code, "No such container: "+x, r)
			}
		}
		c.Run(t, "inspect", x).Assert(t, 1, "No such object: "+x)
	})
	_, err := e.Client(t).ContainerInspect(context.Background(), x, client.ContainerInspectOptions{})
	if !cerrdefs.IsNotFound(err) {
		t.Fatalf("SDK inspect: %v, want 404", err)
	}
}

func TestNameConflict(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		id := c.Run(t, "create", "--name", name, "busybox", "true").OK(t).Out()
		want := `Conflict. The container name "/` + name + `" is already in use by container "` + id +
			`". You have to remove (or rename) that container to be able to reuse that name.`
		c.Run(t, "run", "--name", name, "busybox", "true").Assert(t, 125, want)
		c.Run(t, "create", "--name", name, "busybox", "true").Assert(t, 1, want)
		r := c.Run(t, "ps", "-a", "-q", "--no-trunc", "--filter", "name="+name).OK(t)
		if r.Out() != id {
			t.Fatalf("after the conflicts: %q, want only %s", r.Stdout, id)
		}
	})
	sdkName := e.Name(t, "sdk")
	_, err := e.Client(t).ContainerCreate(context.Background(), client.ContainerCreateOptions{
		Image: "busybox", Name: sdkName, Config: &container.Config{Cmd: []string{"true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Client(t).ContainerCreate(context.Background(), client.ContainerCreateOptions{
		Image: "busybox", Name: sdkName, Config: &container.Config{Cmd: []string{"true"}},
	})
	if !cerrdefs.IsConflict(err) {
		t.Fatalf("SDK create with a taken name: %v, want 409", err)
	}
}

func TestInvalidFlags(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		for _, tc := range []struct {
			args []string
			code int
			want string
		}{
			// Refused by the daemon.
			{[]string{"run", "--name", name, "--restart", "bogus", "busybox", "true"}, 125, "invalid restart policy"},
			{[]string{"run", "--name", name, "--stop-signal", "BOGUS", "busybox", "true"}, 125, "Invalid signal: BOGUS"},
			{[]string{"run", "--name", name, "--log-opt", "bogus=1", "busybox", "true"}, 125, "unknown log opt 'bogus'"},
			// Docker looks for a logging plugin of that name; berth has none.
			{[]string{"run", "--name", name, "--log-driver", "bogus", "busybox", "true"}, 125, "bogus"},
			// Refused by the client.
			{[]string{"run", "--name", name, "--memory", "lots", "busybox", "true"}, 125, "invalid argument"},
			{[]string{"run", "--name", name, "-p", "99999:80", "busybox", "true"}, 125, "99999"},
			{[]string{"run", "--name", name, "--no-such-flag", "busybox", "true"}, 125, "unknown flag: --no-such-flag"},
			{[]string{"run"}, 1, "requires at least 1 argument"},
		} {
			r := c.Run(t, tc.args...)
			if r.Code != tc.code || !strings.Contains(r.Combined(), tc.want) {
				t.Errorf("want exit %d and %q:\n%s", tc.code, tc.want, r)
			}
			if e.Exists(t, name) {
				t.Fatalf("%v left a container", tc.args)
			}
		}
		running := e.Name(t, "running")
		c.Run(t, "run", "-d", "--name", running, "busybox", "sleep", "1000").OK(t)
		c.Run(t, "kill", "-s", "BOGUS", running).Assert(t, 1, "Invalid signal: BOGUS")
		c.Run(t, "stop", "-t", "notanumber", running).Assert(t, 125, "invalid argument")
		if !e.Inspect(t, running).State.Running {
			t.Fatal("bad kill/stop hurt the container")
		}
	})
	_, err := e.Client(t).ContainerCreate(context.Background(), client.ContainerCreateOptions{
		Image: "busybox", Config: &container.Config{Cmd: []string{"true"}},
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "bogus"}},
	})
	if !cerrdefs.IsInvalidArgument(err) {
		t.Fatalf("SDK create with restart policy bogus: %v, want 400", err)
	}
}

// TestMalformedJSON sends bodies the SDK never would.
func TestMalformedJSON(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	name := e.Name(t)
	e.Docker().Run(t, "run", "-d", "--name", name, "busybox", "sleep", "1000").OK(t)
	hc := e2e.HTTPClient(e.Host)
	// Docker before 23 answered 500 to undecodable JSON; 400 since.
	old := e.DockerOlderThan(t, 23)
	for _, tc := range []struct {
		path, body string
		want       int
		old        int // status on Docker < 23, when it differs
	}{
		{"/containers/create", `{"Image":`, 400, 500},
		{"/containers/create", `{bad`, 400, 500},
		{"/containers/create", `[1,2]`, 400, 500},
		{"/containers/create", `{"Image": 5}`, 400, 500},
		{"/containers/create", `{}`, 400, 0},
		{"/containers/create", `{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"notaport"}]}}}`, 400, 0},
		{"/containers/create", `{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"bogus"}}}`, 400, 0},
		{"/containers/" + name + "/exec", `{"Cmd":`, 400, 0},
		{"/containers/" + name + "/update", `{"RestartPolicy":`, 400, 500},
		{"/v1.41/containers/create", `{bad`, 400, 500},
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://engine"+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", tc.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := tc.want
		if old && tc.old != 0 {
			want = tc.old
		}
		if resp.StatusCode != want {
			t.Errorf("POST %s %s: %d %s, want %d", tc.path, tc.body, resp.StatusCode, b, want)
			continue
		}
		var msg struct{ Message string }
		if err := json.Unmarshal(b, &msg); err != nil || msg.Message == "" {
			t.Errorf("POST %s %s: error body %q is not {\"message\": ...}", tc.path, tc.body, b)
		}
	}
	// Nothing was created, the daemon is fine, the container unharmed.
	r := e.Docker().Run(t, "ps", "-a", "--filter", "status=created", "--format", "{{.Names}} {{.Command}}").OK(t)
	for _, l := range r.Lines() {
		if strings.Contains(l, "bogus") || strings.Contains(l, "notaport") {
			t.Errorf("a malformed request left a container: %s", l)
		}
	}
	e.Docker().Run(t, "version").OK(t)
	if !e.Inspect(t, name).State.Running {
		t.Fatal("container stopped")
	}
}

// TestCommandNotFound: a command missing from the image fails with 127 and
// leaves nothing running or mounted: no shim, no veth, no rw layer once
// removed. Not parallel: it compares the engine's resources before/after.
func TestCommandNotFound(t *testing.T) {
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		c.Run(t, "run", "--rm", "busybox", "true").OK(t) // the engine is warm: see TakeSnapshot
		before := e.TakeSnapshot(t)
		since := time.Now().Add(-time.Second)

		rm := e.Name(t, "rm")
		c.Run(t, "run", "--rm", "--name", rm, "busybox", "nosuchcmd").Assert(t, 127, "nosuchcmd")
		rmID := e.IDFromEvents(t, rm, since)
		if e.Exists(t, rm) {
			t.Fatal("run --rm left the container")
		}

		kept := e.Name(t, "kept")
		c.Run(t, "run", "--name", kept, "-p", strconv.Itoa(e2e.FreePort(t))+":80", "busybox", "/nosuch/cmd").Assert(t, 127, "/nosuch/cmd")
		got := e.Inspect(t, kept)
		if got.State.Running || got.State.Pid != 0 {
			t.Fatalf("failed container: %+v", got.State)
		}
		if got.State.ExitCode != 127 {
			t.Errorf("failed container's exit code %d, want 127", got.State.ExitCode)
		}
		if !strings.Contains(got.State.Error, "/nosuch/cmd") {
			t.Errorf("State.Error %q does not say what failed", got.State.Error)
		}
		// Starting it again fails the same way.
		c.Run(t, "start", kept).Assert(t, 1, "/nosuch/cmd")
		c.Run(t, "rm", kept).OK(t)
		e.AssertNoLeaks(t, before, 10*time.Second, rmID, got.ID)
	})
}
