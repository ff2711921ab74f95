package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/busyboxtest"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// These tests hand the generated spec to the real runtimes, as root: the
// proof that runc and crun accept what Spec and ExecProcess produce, and
// that a process inside sees what a Docker user would.

const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1000:app:/home/app:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	testGroup = "root:x:0:\n" +
		"staff:x:50:app\n" +
		"app:x:1000:\n" +
		"audio:x:29:\n" +
		"nogroup:x:65534:\n"
)

// busyboxRootfs is the test busybox rootfs with users and groups for
// the user and group tests, and app's home directory.
func busyboxRootfs(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(busyboxtest.Binary); err != nil {
		t.Skip("busybox not installed")
	}
	root := t.TempDir()
	rootfs := busyboxtest.Rootfs{
		Files: map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup},
		Dirs:  []string{"home/app"},
	}
	if err := rootfs.WriteDir(root); err != nil {
		t.Fatal(err)
	}
	return root
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func needRuntime(t *testing.T, name string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// mustRun runs the spec with `<runtime> run` in the foreground and returns
// its output, which is logged if the test fails later. An error fails the
// test.
func mustRun(t *testing.T, runtime string, id string, s *specs.Spec) string {
	t.Helper()
	bundle := t.TempDir()
	state := t.TempDir()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, runtime, "--root", state, "run", "--bundle", bundle, id)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t.Cleanup(func() {
		// A failed start can leave the container behind; delete is a
		// no-op otherwise.
		_ = exec.Command(runtime, "--root", state, "delete", "--force", id).Run()
	})
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s run: %v: %s\n%s", filepath.Base(runtime), err, stderr.String(), stdout.String())
	}
	logOnFailure(t, stdout.String())
	return stdout.String()
}

// capMask is the /proc/<pid>/status bit mask of the named capabilities.
func capMask(caps []string) uint64 {
	var m uint64
	for _, c := range caps {
		for i, n := range capNames {
			if n == c {
				m |= 1 << uint(i)
			}
		}
	}
	return m
}

// statusField returns a field of /proc/self/status as printed by the
// container ("CapBnd:\t00000000a80425fb").
func statusField(t *testing.T, out, field string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == field {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in output:\n%s", field, out)
	return ""
}

func hexMask(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return v
}

func testID(t *testing.T, runtime string) string {
	name := strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
	return fmt.Sprintf("berth-oci-%s-%s-%d", name, filepath.Base(runtime), os.Getpid())
}

func TestRuntimeAcceptsSpec(t *testing.T) {
	for _, rt := range []string{"runc", "crun"} {
		t.Run(rt, func(t *testing.T) {
			runtime := needRuntime(t, rt)
			rootfs := busyboxRootfs(t)
			host, err := CurrentHost()
			if err != nil {
				t.Fatal(err)
			}

			t.Run("default", func(t *testing.T) {
				out := runInput(t, runtime, rootfs, Input{
					Hostname:   "berth-test",
					Config:     &container.Config{Env: []string{"FOO=bar"}, WorkingDir: "/tmp"},
					HostConfig: &container.HostConfig{},
					Args: []string{"sh", "-c", "id; hostname; pwd; cat /proc/self/status; env; " +
						"cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ls /sys/fs/cgroup; ulimit -n; " +
						"touch /probe && echo rootfs-rw; test -c /proc/keys && echo keys-masked; " +
						"grep -E ' /proc/sys | /sys | /dev/shm ' /proc/mounts"},
				})
				mustContain(t, out, "uid=0(root) gid=0(root) groups=0(root)")
				mustContain(t, out, "\nberth-test\n")
				mustContain(t, out, "\n/tmp\n")
				want := capMask(DefaultCapabilities())
				for _, f := range []string{"CapBnd", "CapEff", "CapPrm"} {
					if got := hexMask(t, statusField(t, out, f)); got != want {
						t.Errorf("%s = %x, want Docker's defaults %x", f, got, want)
					}
				}
				if got := statusField(t, out, "Seccomp"); got != "2" {
					t.Errorf("Seccomp = %s, want 2 (filter)", got)
				}
				if got := statusField(t, out, "NoNewPrivs"); got != "0" {
					t.Errorf("NoNewPrivs = %s, want 0", got)
				}
				for _, e := range []string{"FOO=bar", "HOSTNAME=berth-test", "HOME=/root", "PATH=" + DefaultPathEnv} {
					mustContain(t, out, "\n"+e+"\n")
				}
				if strings.Contains(out, "TERM=") {
					t.Errorf("TERM set without a tty")
				}
				mustContain(t, out, "rootfs-rw")
				mustContain(t, out, "keys-masked")
				mustContain(t, out, "/proc/sys proc ro,")
				mustContain(t, out, "/sys sysfs ro,")
				mustContain(t, out, "/dev/shm tmpfs rw,nosuid,nodev,noexec,relatime,size=65536k")
			})

			t.Run("user-caps-limits", func(t *testing.T) {
				out := runInput(t, runtime, rootfs, Input{
					Hostname: "berth-user",
					Config:   &container.Config{User: "app", Env: []string{"A=1"}},
					HostConfig: &container.HostConfig{
						CapAdd:         []string{"net_admin"},
						CapDrop:        []string{"CAP_MKNOD"},
						GroupAdd:       []string{"audio"},
						ReadonlyRootfs: true,
						SecurityOpt:    []string{"no-new-privileges"},
						Resources: container.Resources{
							Ulimits:   []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}},
							Memory:    64 << 20,
							PidsLimit: ptr(int64(100)),
						},
					},
					Args: []string{"sh", "-c", "id; cat /proc/self/status; env; ulimit -n; ulimit -Hn; touch /probe 2>&1 || echo rootfs-ro; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"},
				})
				mustContain(t, out, "uid=1000(app) gid=1000(app) groups=29(audio),50(staff),1000(app)")
				caps := append(without(DefaultCapabilities(), "CAP_MKNOD"), "CAP_NET_ADMIN")
				if got, want := hexMask(t, statusField(t, out, "CapBnd")), capMask(caps); got != want {
					t.Errorf("CapBnd = %x, want %x", got, want)
				}
				// A non-root user keeps the bounding set but, as in Docker,
				// has no effective capabilities after execve.
				if got := statusField(t, out, "CapEff"); hexMask(t, got) != 0 {
					t.Errorf("CapEff = %s for uid 1000, want 0", got)
				}
				if got := statusField(t, out, "NoNewPrivs"); got != "1" {
					t.Errorf("NoNewPrivs = %s, want 1", got)
				}
				mustContain(t, out, "\nHOME=/home/app\n")
				mustContain(t, out, "\n1024\n2048\n")
				mustContain(t, out, "rootfs-ro")
				mustContain(t, out, "\n100\n")
			})

			t.Run("privileged", func(t *testing.T) {
				out := runInput(t, runtime, rootfs, Input{
					Config:     &container.Config{},
					HostConfig: &container.HostConfig{Privileged: true},
					Args:       []string{"sh", "-c", "cat /proc/self/status; mount | grep ' /sys '"},
				})
				if got, want := hexMask(t, statusField(t, out, "CapBnd")), capMask(host.Caps); got != want {
					t.Errorf("CapBnd = %x, want the daemon's own %x", got, want)
				}
				if got := statusField(t, out, "Seccomp"); got != "0" {
					t.Errorf("Seccomp = %s, want 0 for a privileged container", got)
				}
				mustContain(t, out, "(rw,")
			})

			t.Run("namespaces-mounts-sysctls", func(t *testing.T) {
				hostsFile := filepath.Join(t.TempDir(), "hosts")
				writeFile(t, hostsFile, "127.0.0.1 localhost berth-ns\n")
				out := runInput(t, runtime, rootfs, Input{
					Hostname:   "berth-ns",
					Domainname: "example.com",
					Config:     &container.Config{},
					HostConfig: &container.HostConfig{
						CgroupnsMode: container.CgroupnsModePrivate,
						IpcMode:      container.IPCModeNone,
						ShmSize:      8 << 20,
						Tmpfs:        map[string]string{"/run": "size=1m,mode=700"},
						Sysctls:      map[string]string{"net.ipv4.ip_forward": "1"},
						MaskedPaths:  []string{},
					},
					Args: []string{"sh", "-c", "cat /proc/self/cgroup; grep -E ' /run | /etc/hosts | /dev/shm ' /proc/mounts; " +
						"cat /etc/hosts; cat /proc/sys/kernel/domainname; cat /proc/sys/net/ipv4/ip_forward; test -c /proc/keys || echo keys-unmasked"},
					ExtraMounts: []specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: hostsFile, Options: []string{"rbind", "ro"}}},
				})
				// A private cgroup namespace: the container's cgroup is its root.
				mustContain(t, out, "memory:/\n")
				mustContain(t, out, "tmpfs /run tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700")
				mustContain(t, out, "/etc/hosts ")
				mustContain(t, out, "127.0.0.1 localhost berth-ns")
				mustContain(t, out, "\nexample.com\n")
				mustContain(t, out, "\n1\n")
				mustContain(t, out, "keys-unmasked")
				if strings.Contains(out, " /dev/shm ") {
					t.Errorf("/dev/shm mounted with --ipc none")
				}
			})

			t.Run("exec", func(t *testing.T) {
				// ExecProcess's output as the init process of a container
				// with the base spec: what runc exec would run.
				id, base := testSpec(t, runtime, rootfs, Input{
					Hostname:   "berth-exec",
					Config:     &container.Config{Tty: false, Env: []string{"FROM_IMAGE=1"}},
					HostConfig: &container.HostConfig{GroupAdd: []string{"audio"}},
					Args:       []string{"true"},
				})
				p, err := ExecProcess(base, rootfs, ExecInput{
					Cmd: []string{"sh", "-c", "id; pwd; env"}, Env: []string{"X=y"},
					User: "nobody", WorkingDir: "/tmp", GroupAdd: []string{"audio"},
				})
				if err != nil {
					t.Fatal(err)
				}
				base.Process = p
				out := mustRun(t, runtime, id, base)
				mustContain(t, out, "uid=65534(nobody) gid=65534(nogroup) groups=29(audio),65534(nogroup)")
				mustContain(t, out, "\n/tmp\n")
				for _, e := range []string{"X=y", "FROM_IMAGE=1", "HOME=/nonexistent", "HOSTNAME=berth-exec"} {
					mustContain(t, out, "\n"+e+"\n")
				}
			})
		})
	}
}

// runInput runs the spec of in (see testSpec) and returns its output.
func runInput(t *testing.T, runtime, rootfs string, in Input) string {
	t.Helper()
	id, s := testSpec(t, runtime, rootfs, in)
	return mustRun(t, runtime, id, s)
}

// testSpec is the spec of in for a container of the test's own (ID and
// cgroup) on rootfs.
func testSpec(t *testing.T, runtime, rootfs string, in Input) (id string, s *specs.Spec) {
	t.Helper()
	id = testID(t, runtime)
	in.ID, in.Rootfs, in.CgroupsPath = id, rootfs, "/"+id
	s, err := Spec(in)
	if err != nil {
		t.Fatal(err)
	}
	return id, s
}

func logOnFailure(t *testing.T, out string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("container output:\n%s", out)
		}
	})
}

func mustContain(t *testing.T, out, want string) {
	t.Helper()
	if !strings.Contains("\n"+out, want) {
		t.Errorf("output lacks %q", want)
	}
}
