package cli

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// fakeDaemon is an Engine API endpoint on a unix socket that answers
// _ping, records container creates and accepts starts. It lets the tests
// see exactly what a client sends, from berth and from docker alike.
type fakeDaemon struct {
	host string // unix://...

	mu      sync.Mutex
	creates []recordedCreate
	pulled  map[string]bool
}

type recordedCreate struct {
	Query string
	Body  []byte
}

const (
	fakeContainerID = "4f1c0d5c3e2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f"
	// fakeBadCmdID is created for a command named "nonexist"; starting it
	// fails as a runtime does for a missing executable.
	fakeBadCmdID = "badc0de0000000000000000000000000000000000000000000000000000000000"
)

// serve answers the container API. Names starting with "missing" do not
// exist; images starting with "missing" exist once pulled; the image
// "warnimage" creates with a warning.
func (d *fakeDaemon) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if i := strings.Index(path[1:], "/"); strings.HasPrefix(path, "/v") && i > 0 {
		path = path[i+1:]
	}
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	errorJSON := func(status int, msg string) {
		writeJSON(status, map[string]string{"message": msg})
	}

	switch {
	case r.Method == http.MethodPost && path == "/containers/create":
		body, _ := io.ReadAll(r.Body)
		var req container.CreateRequest
		_ = json.Unmarshal(body, &req)
		d.mu.Lock()
		d.creates = append(d.creates, recordedCreate{Query: r.URL.RawQuery, Body: body})
		pulled := d.pulled[req.Image]
		d.mu.Unlock()
		resp := container.CreateResponse{ID: fakeContainerID, Warnings: []string{}}
		switch {
		case strings.HasPrefix(req.Image, "missing") && !pulled:
			errorJSON(http.StatusNotFound, "No such image: "+req.Image+":latest")
			return
		case req.Image == "warnimage":
			resp.Warnings = []string{"Your kernel does not support swap limit capabilities."}
		case len(req.Cmd) > 0 && req.Cmd[0] == "nonexist":
			resp.ID = fakeBadCmdID
		}
		writeJSON(http.StatusCreated, resp)
		return
	case r.Method == http.MethodPost && path == "/images/create":
		img := strings.TrimPrefix(r.URL.Query().Get("fromImage"), "docker.io/library/")
		d.mu.Lock()
		d.pulled[img] = true
		d.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		for _, m := range []string{
			`{"status":"Pulling from library/` + img + `","id":"latest"}`,
			`{"status":"Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000"}`,
			`{"status":"Status: Downloaded newer image for ` + img + `:latest"}`,
		} {
			_, _ = io.WriteString(w, m+"\n")
		}
		return
	}

	// /containers/{name}[/{op}]
	rest, ok := strings.CutPrefix(path, "/containers/")
	if !ok {
		errorJSON(http.StatusNotFound, "page not found")
		return
	}
	name, op, _ := strings.Cut(rest, "/")
	if strings.HasPrefix(name, "missing") {
		errorJSON(http.StatusNotFound, "No such container: "+name)
		return
	}
	switch {
	case op == "start" && name == fakeBadCmdID:
		errorJSON(http.StatusBadRequest, `failed to create task for container: exec: "nonexist": executable file not found in $PATH: unknown`)
	case op == "wait":
		writeJSON(http.StatusOK, container.WaitResponse{StatusCode: 0})
	case op == "update":
		writeJSON(http.StatusOK, container.UpdateResponse{})
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func newFakeDaemon(t *testing.T, apiVersion string) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{pulled: map[string]bool{}}
	d.host = startFakeEngine(t, apiVersion, http.HandlerFunc(d.serve))
	return d
}

func (d *fakeDaemon) take(t *testing.T) recordedCreate {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.creates) != 1 {
		t.Fatalf("expected one create request, got %d", len(d.creates))
	}
	rc := d.creates[0]
	d.creates = nil
	return rc
}

// runBerth runs the berth CLI in-process and returns its exit code,
// stdout and stderr.
func runBerth(t *testing.T, host string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	c := &CLI{In: io.NopCloser(strings.NewReader("")), Out: &out, Err: &errOut}
	code := c.execute(context.Background(), append([]string{"-H", host}, args...))
	return code, out.String(), errOut.String()
}

// decodeCreate decodes a create body into the API types and puts the
// fields docker fills from Go map iteration (so in random order) in order.
func decodeCreate(t *testing.T, body []byte) container.CreateRequest {
	t.Helper()
	var req container.CreateRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	if req.Config != nil {
		slices.Sort(req.Config.Env)
	}
	if req.HostConfig != nil {
		slices.Sort(req.HostConfig.Binds)
	}
	return req
}

var createRequestCmpOpts = []cmp.Option{
	cmpopts.EquateEmpty(),
	cmpopts.EquateComparable(netip.Addr{}, network.Port{}),
}

// createCases are create (and run -d) invocations whose request must be
// the one docker 28 sends.
var createCases = [][]string{
	{"busybox"},
	{"busybox", "sh", "-c", "echo hi; exit 3"},
	{"-i", "-t", "busybox", "sh"},
	{"-i", "busybox"},
	{"-a", "stdin", "-a", "STDOUT", "busybox"},
	{"--name", "web", "busybox"},
	{"-e", "A=1", "-e", "B", "-e", "HOME", "-e", "A=2", "-e", "C=", "--env-file", "testdata/lifecycle.env", "busybox"},
	{"-p", "80", "-p", "8080:80", "-p", "127.0.0.1:8081:81/udp", "-p", "[::1]:8082:82", "-p", "9000-9002:9000-9002", "-p", "7000-7010:7000", "-p", "published=6000,target=60,protocol=sctp", "busybox"},
	{"-P", "--expose", "5000-5002", "--expose", "6000/udp", "--expose", "80", "busybox"},
	{"-v", "/tmp:/tmp:ro", "-v", "named:/data", "-v", "/anon", "-v", "./rel:/rel", "-v", "../up:/up", "-v", "/tmp:/tmp2:rw,z", "-v", "/tmp:/tmp:ro", "busybox"},
	{"--mount", "type=bind,src=/tmp,dst=/m,readonly", "--mount", "type=volume,dst=/v,volume-nocopy,volume-label=a=b,volume-opt=o=p,volume-driver=local", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777", "--mount", "type=bind,source=.,target=/dot,bind-propagation=rslave,consistency=cached", "busybox"},
	{"--mount", "type=bind,src=/tmp,dst=/r,ro,bind-recursive=readonly,bind-propagation=rprivate", "--mount", "type=bind,src=/tmp,dst=/n,bind-nonrecursive", "--mount", "type=volume,src=v,dst=/s,volume-subpath=sub", "busybox"},
	{"--tmpfs", "/run:rw,size=1m", "--tmpfs", "/tmp", "busybox"},
	{"--restart", "on-failure:3", "busybox"},
	{"--restart", "unless-stopped", "busybox"},
	{"--restart", "always", "busybox"},
	{"--rm", "busybox"},
	{"--restart", "no", "--rm", "busybox"},
	{"-w", "/tmp", "-u", "1000:1000", "--entrypoint", "", "busybox"},
	{"--entrypoint", "/bin/sh", "busybox", "-c", "true"},
	{"-l", "a=b", "-l", "c", "--label", "d=e=f", "--label-file", "testdata/lifecycle.labels", "busybox"},
	{"--network", "host", "busybox"},
	{"--network", "none", "busybox"},
	{"--net=bridge", "busybox"},
	{"--network", "mynet", "--network-alias", "foo", "--ip", "10.0.0.5", "--ip6", "2001:db8::33", "--mac-address", "02:42:ac:11:00:02", "--link", "other:alias", "busybox"},
	{"--network", "name=mynet,alias=x,driver-opt=a=b,gw-priority=10", "--network", "other", "busybox"},
	{"--link", "other:alias", "--mac-address", "02:42:ac:11:00:02", "busybox"},
	{"--network", "container:other", "busybox"},
	{"--hostname", "h", "--domainname", "d.example", "busybox"},
	{"--dns", "8.8.8.8", "--dns", "2001:4860:4860::8888", "--dns-search", "example.com", "--dns-search", ".", "--dns-option", "ndots:2", "--dns-opt", "timeout:1", "busybox"},
	{"--add-host", "h:1.2.3.4", "--add-host", "h6=[::1]", "--add-host", "gw:host-gateway", "busybox"},
	{"--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2", "busybox"},
	{"--cap-add", "NET_ADMIN", "--cap-add", "sys_time", "--cap-drop", "ALL", "--privileged", "--read-only", "busybox"},
	{"--security-opt", "no-new-privileges", "--security-opt", "label=disable", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor:unconfined", "busybox"},
	{"--security-opt", "systempaths=unconfined", "busybox"},
	{"-m", "512m", "--memory-swap", "1g", "--memory-reservation", "256m", "--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0-1", "--cpuset-mems", "0", "--cpu-period", "100000", "--cpu-quota", "50000", "busybox"},
	{"--memory-swap", "-1", "--memory-swappiness", "10", "--oom-kill-disable", "--oom-score-adj", "100", "--pids-limit", "100", "--shm-size", "64m", "busybox"},
	{"--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100", "--ulimit", "core=-1", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=1000", "busybox"},
	{"--pid", "host", "--ipc", "host", "--uts", "host", "--userns", "host", "--cgroupns", "private", "--cgroup-parent", "foo", "busybox"},
	{"--ipc", "shareable", "--pid", "container:other", "busybox"},
	{"--group-add", "audio", "--group-add", "1000", "busybox"},
	{"--stop-signal", "SIGINT", "--stop-timeout", "5", "busybox"},
	{"--stop-timeout", "0", "busybox"},
	{"--health-cmd", "true", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3", "--health-start-period", "1s", "--health-start-interval", "500ms", "busybox"},
	{"--health-interval", "5s", "busybox"},
	{"--no-healthcheck", "busybox"},
	{"--init", "busybox"},
	{"--init=false", "--runtime", "crun", "busybox"},
	{"--device", "/dev/null", "--device", "/dev/zero:/dev/myzero:r", "--device", "/dev/null:rw", "--device", "vendor.com/class=name", "busybox"},
	{"--device-cgroup-rule", "c 1:3 mr", "--device-cgroup-rule", "a *:* rwm", "busybox"},
	{"--annotation", "a=b", "--annotation", "c=", "busybox"},
	{"--blkio-weight", "300", "--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb", "--device-write-bps", "/dev/sda:2mb", "--device-read-iops", "/dev/sda:10", "--device-write-iops", "/dev/sda:100", "busybox"},
	{"--cpu-rt-runtime", "950000", "--cpu-rt-period", "1000000", "busybox"},
	{"--gpus", "all", "busybox"},
	{"--gpus", `"device=0,1",capabilities=compute`, "busybox"},
	{"--storage-opt", "size=10G", "--volumes-from", "other:ro", "--volume-driver", "local", "--isolation", "default", "busybox"},
	{"--platform", "linux/amd64", "busybox"},
	{"--platform", "linux/arm64/v8", "--name", "x", "busybox"},
	{"--kernel-memory", "10m", "busybox"},
	{"--pull", "never", "-q", "busybox"},
	{"--disable-content-trust", "busybox"},
	{"busybox", "--rm", "-p", "80"},
	{"-it", "--rm", "-a", "stdout", "busybox"},
}

// runOnlyCases use flags that only run has.
var runOnlyCases = [][]string{
	{"--detach-keys", "ctrl-a,a", "--sig-proxy=false", "busybox"},
	{"-t", "--rm", "busybox"},
}

// TestCreateRequestMatchesDocker runs the stock docker CLI and berth with
// the same arguments against a fake daemon and compares the create
// requests. It needs docker on PATH and is skipped without it.
func TestCreateRequestMatchesDocker(t *testing.T) {
	dockerBin, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker CLI not installed")
	}
	d := newFakeDaemon(t, "1.50")
	cfgDir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("DOCKER_DEFAULT_PLATFORM", "")

	for _, verb := range []string{"create", "run"} {
		cases := createCases
		if verb == "run" {
			cases = append(slices.Clone(createCases), runOnlyCases...)
		}
		for _, args := range cases {
			if verb == "run" && (slices.Contains(args, "-i") || slices.Contains(args, "-a")) {
				continue // run -i reads stdin, -a conflicts with -d; covered by create
			}
			full := append([]string{verb}, args...)
			if verb == "run" {
				full = append([]string{"run", "-d"}, args...)
			}
			t.Run(strings.Join(full, " "), func(t *testing.T) {
				cmd := exec.Command(dockerBin, full...)
				cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+cfgDir)
				var dockerErr strings.Builder
				cmd.Stderr = &dockerErr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("docker %v: %v\n%s%s", full, err, out, dockerErr.String())
				}
				want := d.take(t)

				code, stdout, stderr := runBerth(t, d.host, full...)
				if code != 0 {
					t.Fatalf("berth %v: exit %d\n%s%s", full, code, stdout, stderr)
				}
				if strings.TrimSpace(stdout) != fakeContainerID || strings.TrimSpace(string(out)) != fakeContainerID {
					t.Errorf("printed %q, docker printed %q", stdout, out)
				}
				got := d.take(t)

				if got.Query != want.Query {
					t.Errorf("query: got %q, docker sent %q", got.Query, want.Query)
				}
				if diff := cmp.Diff(decodeCreate(t, want.Body), decodeCreate(t, got.Body), createRequestCmpOpts...); diff != "" {
					t.Errorf("create request differs from docker's (-docker +berth):\n%s\ndocker: %s\nberth:  %s", diff, want.Body, got.Body)
				}
			})
		}
	}
}
