package core

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// TestSDKLifecycle is the web scenario as a Go program using the
// SDK does it (as Testcontainers and compose do): create with a published
// port, start, list, logs, exec, top, stop, start, restart, kill, pause,
// rename, update, remove.
func TestSDKLifecycle(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	cli := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name, renamed := e.Name(t), e.Name(t, "renamed")
	port := e2e.FreePort(t)

	cr, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:  name,
		Image: "busybox",
		Config: &container.Config{
			Cmd:          []string{"sh", "-c", "echo started; exec httpd -f -p 80 -h /var/www"},
			ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}},
			Labels:       map[string]string{"e2e": name},
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{network.MustParsePort("80/tcp"): {{HostPort: fmt.Sprint(port)}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := cr.ID
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second); r.Body != e2e.IndexHTML {
		t.Fatalf("GET: %d %q", r.Status, r.Body)
	}

	list, err := cli.ContainerList(ctx, client.ContainerListOptions{Filters: client.Filters{}.Add("label", "e2e="+name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("list by label: %d containers", len(list.Items))
	}
	s := list.Items[0]
	// (Docker adds a [::] binding on a host with IPv6; berth binds IPv4.)
	published := slices.ContainsFunc(s.Ports, func(p container.PortSummary) bool {
		return p.IP.String() == "0.0.0.0" && p.PublicPort == uint16(port) && p.PrivatePort == 80 && p.Type == "tcp"
	})
	if s.ID != id || !slices.Contains(s.Names, "/"+name) || s.State != container.StateRunning || s.Image != "busybox" || !published {
		t.Errorf("list: %+v", s)
	}

	e.WaitLog(t, name, "started", 20*time.Second)
	logs, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if _, err := stdcopy.StdCopy(&stdout, &stderr, logs); err != nil {
		t.Fatalf("logs are not multiplexed: %v", err)
	}
	logs.Close()
	if !strings.HasSuffix(stdout.String(), " started\n") || stderr.Len() != 0 {
		t.Errorf("logs: %q %q", stdout.String(), stderr.String())
	}

	ex, err := cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"sh", "-c", "echo in; echo err >&2; exit 3"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	stdcopy.StdCopy(&stdout, &stderr, att.Reader)
	att.Close()
	if stdout.String() != "in\n" || stderr.String() != "err\n" {
		t.Errorf("exec output %q %q", stdout.String(), stderr.String())
	}
	if got, err := cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{}); err != nil || got.ExitCode != 3 || got.Running {
		t.Errorf("exec inspect: %+v %v", got, err)
	}

	top, err := cli.ContainerTop(ctx, id, client.ContainerTopOptions{})
	if err != nil || !slices.Contains(top.Titles, "PID") || len(top.Processes) == 0 {
		t.Errorf("top: %+v %v", top, err)
	}

	timeout := 1
	if _, err := cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	if st := e.Inspect(t, id).State; st.Running || st.Status != container.StateExited {
		t.Errorf("after stop: %+v", st)
	}
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &timeout}); err != nil {
		t.Fatal(err)
	}
	e2e.HTTPGet(t, fmt.Sprintf("http://127.0.0.1:%d/", port), 20*time.Second)
	if _, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{}); !cerrdefs.IsConflict(err) {
		t.Errorf("pause of a paused container: %v, want 409", err)
	}
	if _, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: renamed}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerUpdate(ctx, renamed, client.ContainerUpdateOptions{RestartPolicy: &container.RestartPolicy{Name: "unless-stopped"}}); err != nil {
		t.Fatal(err)
	}
	if got := e.Inspect(t, id); got.Name != "/"+renamed || got.HostConfig.RestartPolicy.Name != "unless-stopped" {
		t.Errorf("after rename and update: %s %+v", got.Name, got.HostConfig.RestartPolicy)
	}
	if _, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		t.Fatal(err)
	}
	if code := e.WaitExit(t, id, 20*time.Second); code != 137 {
		t.Errorf("exit code after kill: %d", code)
	}
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("inspect after remove: %v, want 404", err)
	}
	if _, err := e2e.TryHTTPGet(fmt.Sprintf("http://127.0.0.1:%d/", port), 300*time.Millisecond); err == nil {
		t.Error("the published port still answers after the container is gone")
	}
}
