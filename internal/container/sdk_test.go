package container_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/server"
	containerrouter "github.com/berth-dev/berth/internal/server/router/container"
)

// sdkEnv serves the container router over HTTP in front of a service on
// fakes, and a Go SDK client pointed at it.
type sdkEnv struct {
	url string
	cli *client.Client
}

func newSDKEnv(t *testing.T) *sdkEnv {
	t.Helper()
	svc := container.FakeService(t)
	srv := httptest.NewServer(server.New("28.3.0", containerrouter.New(svc, svc.Execs())))
	t.Cleanup(srv.Close)
	cli, err := client.New(client.WithHost("tcp://"+strings.TrimPrefix(srv.URL, "http://")), client.WithAPIVersion("1.51"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &sdkEnv{url: srv.URL, cli: cli}
}

func (e *sdkEnv) create(t *testing.T, name string, cfg *containertypes.Config, hc *containertypes.HostConfig) string {
	t.Helper()
	resp, err := e.cli.ContainerCreate(context.Background(), client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatal(err)
	}
	return resp.ID
}

// TestDockerRunFlow is what `docker run busybox echo hello` does:
// create, attach, wait for the next exit, start; then read the output
// and the exit code.
func TestDockerRunFlow(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	id := e.create(t, "hello", &containertypes.Config{Image: "busybox", Cmd: []string{"echo", "hello"}, AttachStdout: true, AttachStderr: true}, nil)
	att, err := e.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	wait := e.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: containertypes.WaitConditionNextExit})
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, att.Reader); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" || errOut.Len() != 0 {
		t.Errorf("output %q / %q", out.String(), errOut.String())
	}
	select {
	case r := <-wait.Result:
		if r.StatusCode != 0 || r.Error != nil {
			t.Errorf("wait %+v", r)
		}
	case err := <-wait.Error:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return")
	}
	insp, err := e.cli.ContainerInspect(ctx, "hello", client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if insp.Container.State.Status != "exited" || insp.Container.Name != "/hello" {
		t.Errorf("inspect state %+v name %q", insp.Container.State, insp.Container.Name)
	}
}

func TestSDKErrors(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	_, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &containertypes.Config{Image: "nosuch"}})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such image: nosuch:latest") {
		t.Errorf("create from a missing image: %v", err)
	}
	id := e.create(t, "web", &containertypes.Config{Image: "busybox", Cmd: []string{"sleep"}}, nil)
	_, err = e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: "web", Config: &containertypes.Config{Image: "busybox"}})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `The container name "/web" is already in use by container "`+id+`"`) {
		t.Errorf("name conflict: %v", err)
	}
	_, err = e.cli.ContainerKill(ctx, "web", client.ContainerKillOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "Container "+id+" is not running") {
		t.Errorf("kill of a created container: %v", err)
	}
	_, err = e.cli.ContainerInspect(ctx, "nosuch", client.ContainerInspectOptions{})
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such container: nosuch") {
		t.Errorf("inspect missing: %v", err)
	}
	bad := e.create(t, "bad", &containertypes.Config{Image: "busybox", Cmd: []string{"nope"}}, nil)
	_, err = e.cli.ContainerStart(ctx, bad, client.ContainerStartOptions{})
	if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), `exec: "nope": executable file not found in $PATH`) {
		t.Errorf("start of a missing command: %v", err)
	}
	if _, err := e.cli.ContainerStart(ctx, "web", client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = e.cli.ContainerRemove(ctx, "web", client.ContainerRemoveOptions{})
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), `cannot remove container "/web": container is running: stop the container before removing or force remove`) {
		t.Errorf("rm of a running container: %v", err)
	}
	if _, err := e.cli.ContainerRemove(ctx, "web", client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

// raw sends a request and returns the status and body.
func (e *sdkEnv) raw(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBadInput(t *testing.T) {
	e := newSDKEnv(t)
	cases := []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/v1.51/containers/create", `{"Image":`, 400, "invalid JSON"},
		{"POST", "/v1.51/containers/create", ``, 400, "invalid JSON: got EOF while reading request body"},
		{"POST", "/v1.51/containers/create?name=a", `{"Image":"busybox"}`, 400, "Invalid container name (a)"},
		{"POST", "/v1.51/containers/create", `{"Image":"busybox","HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":-1}}}`, 400, "maximum retry count cannot be negative"},
		{"POST", "/v1.51/containers/create?platform=windows", `{"Image":"busybox"}`, 400, "operating system is not supported"},
		{"GET", "/v1.51/containers/json?filters=%7Bbad", "", 400, "invalid filter"},
		{"GET", "/v1.51/containers/json?limit=x", "", 400, "invalid value for limit"},
		{"POST", "/v1.51/containers/nosuch/start", "", 404, "No such container: nosuch"},
		{"POST", "/v1.51/containers/nosuch/wait?condition=sometimes", "", 400, `invalid condition: "sometimes"`},
		{"POST", "/v1.51/containers/nosuch/stop?t=soon", "", 400, `invalid value for t: "soon"`},
		{"POST", "/v1.51/containers/nosuch/resize?h=-1", "", 400, "invalid resize height"},
		{"POST", "/v1.51/containers/nosuch/kill?signal=SIGFOO", "", 400, "Invalid signal: SIGFOO"},
		{"GET", "/v1.51/containers/nosuch/logs", "", 400, "Bad parameters: you must choose at least one stream"},
		{"POST", "/v1.51/containers/nosuch/exec", `{"Cmd":[]}`, 400, "No exec command specified"},
		{"GET", "/v1.51/exec/nosuch/json", "", 404, "No such exec instance: nosuch"},
		{"GET", "/v1.51/containers/nosuch/export", "", 501, "container filesystems cannot be read by this engine"},
	}
	for _, c := range cases {
		status, body := e.raw(t, c.method, c.path, c.body)
		var msg struct{ Message string }
		if json.Unmarshal([]byte(body), &msg) == nil {
			body = msg.Message
		}
		if status != c.status || !strings.Contains(body, c.msg) {
			t.Errorf("%s %s %s: %d %s, want %d %q", c.method, c.path, c.body, status, body, c.status, c.msg)
		}
	}
}

// TestInspectLegacyNetworkSettings: before API 1.52, NetworkSettings has
// the top-level IPAddress, Gateway, MacAddress... that the docker CLI's
// templates read.
func TestInspectLegacyNetworkSettings(t *testing.T) {
	e := newSDKEnv(t)
	id := e.create(t, "net", &containertypes.Config{Image: "busybox", Cmd: []string{"sleep"}}, nil)
	if _, err := e.cli.ContainerStart(context.Background(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	status, body := e.raw(t, "GET", "/v1.51/containers/net/json", "")
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var got struct {
		State           map[string]any
		NetworkSettings map[string]any
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	ns := got.NetworkSettings
	if ns["IPAddress"] != "172.17.0.2" || ns["Gateway"] != "172.17.0.1" || ns["MacAddress"] != "02:42:ac:11:00:02" || ns["IPPrefixLen"] != float64(16) {
		t.Errorf("legacy fields: %v", ns)
	}
	nets, _ := ns["Networks"].(map[string]any)
	bridge, _ := nets["bridge"].(map[string]any)
	if bridge["IPAddress"] != "172.17.0.2" || bridge["NetworkID"] == "" {
		t.Errorf("Networks.bridge %v", bridge)
	}
	if got.State["Status"] != "running" || got.State["StartedAt"] == "0001-01-01T00:00:00Z" {
		t.Errorf("state %v", got.State)
	}
}

func TestWaitBody(t *testing.T) {
	e := newSDKEnv(t)
	id := e.create(t, "quick", &containertypes.Config{Image: "busybox", Cmd: []string{"false"}}, nil)
	if _, err := e.cli.ContainerStart(context.Background(), id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	status, body := e.raw(t, "POST", "/v1.51/containers/quick/wait", "")
	// The container may still be running when the wait arrives.
	if status != 200 || strings.TrimSpace(body) != `{"Error":null,"StatusCode":1}` {
		t.Errorf("%d %s", status, body)
	}
}

func TestExecThroughSDK(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	id := e.create(t, "box", &containertypes.Config{Image: "busybox", Cmd: []string{"sleep"}}, nil)
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	ex, err := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"echo", "inside"}, AttachStdout: true, AttachStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	att, err := e.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	stdcopy.StdCopy(&out, io.Discard, att.Reader)
	att.Close()
	if out.String() != "inside\n" {
		t.Errorf("exec output %q", out.String())
	}
	insp, err := e.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil || insp.Running || insp.ExitCode != 0 || insp.ContainerID != id {
		t.Errorf("exec inspect %+v %v", insp, err)
	}
	ex2, _ := e.cli.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: []string{"false"}})
	if _, err := e.cli.ExecStart(ctx, ex2.ID, client.ExecStartOptions{Detach: true}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		insp, err := e.cli.ExecInspect(ctx, ex2.ID, client.ExecInspectOptions{})
		if err == nil && !insp.Running && insp.ExitCode == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("detached exec: %+v %v", insp, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestListAndLogsThroughSDK(t *testing.T) {
	e := newSDKEnv(t)
	ctx := context.Background()
	id := e.create(t, "lister", &containertypes.Config{Image: "busybox", Cmd: []string{"sleep"}, Labels: map[string]string{"k": "v"}}, nil)
	e.create(t, "other", &containertypes.Config{Image: "busybox", Cmd: []string{"true"}}, nil)
	if _, err := e.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{Filters: make(client.Filters).Add("label", "k=v")})
	if err != nil || len(list.Items) != 1 || list.Items[0].ID != id || list.Items[0].State != "running" {
		t.Fatalf("list %+v %v", list, err)
	}
	all, _ := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if len(all.Items) != 2 {
		t.Errorf("list -a: %d", len(all.Items))
	}
	logs, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, logs)
	logs.Close()
}
