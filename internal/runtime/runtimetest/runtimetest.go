// Package runtimetest builds OCI bundles for tests: a rootfs made of the
// host's static busybox with its applet links, and a config.json from
// `runc spec`, edited.
package runtimetest

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Busybox is the static busybox the rootfs is made of.
const Busybox = "/bin/busybox"

// Runtimes lists the OCI runtimes installed here, by binary name.
func Runtimes() []string {
	var rs []string
	for _, r := range []string{"runc", "crun"} {
		if _, err := exec.LookPath(r); err == nil {
			rs = append(rs, r)
		}
	}
	return rs
}

// Usable says why runtime cannot run containers on this host, or nil.
// crun refuses a hybrid cgroup layout whose cgroup2 hierarchy has
// controllers (here: hugetlb, when no v1 hierarchy binds it).
func Usable(runtime string) error {
	if runtime != "crun" {
		return nil
	}
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup/unified", &st) != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers")
	if err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return fmt.Errorf("crun refuses hybrid cgroups with controllers in cgroup2 (%s); bind them to v1, e.g. mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb", strings.TrimSpace(string(b)))
	}
	return nil
}

// RequireRoot skips t unless it runs as root with busybox and a runtime.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat(Busybox); err != nil {
		t.Skip("needs " + Busybox)
	}
	if len(Runtimes()) == 0 {
		t.Skip("needs runc or crun")
	}
}

var bundleSeq atomic.Int64

// Bundle writes a bundle into dir (created if needed) whose process runs
// args, with a terminal if tty. edit, if set, adjusts the spec. It returns
// dir.
func Bundle(t testing.TB, dir string, args []string, tty bool, edit func(*specs.Spec)) string {
	t.Helper()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "sys", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(Busybox, filepath.Join(rootfs, "bin", "busybox")); err != nil {
		t.Fatal(err)
	}
	// Relative links: `busybox --install -s` would point them at the
	// host's path of busybox (/usr/bin/busybox on merged-/usr hosts).
	list, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(rootfs, "bin", applet)); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)

	os.Remove(filepath.Join(dir, "config.json"))
	cmd := exec.Command("runc", "spec", "--bundle", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec.Root.Path = rootfs
	spec.Root.Readonly = false
	spec.Process.Args = args
	spec.Process.Terminal = tty
	spec.Process.Env = []string{"PATH=/bin", "TERM=xterm", "HOME=/root"}
	spec.Hostname = "bundle"
	spec.Linux.CgroupsPath = fmt.Sprintf("/berth-test/%d-%d", os.Getpid(), bundleSeq.Add(1))
	if edit != nil {
		edit(&spec)
	}
	WriteSpec(t, dir, &spec)
	return dir
}

// WriteSpec writes spec as dir/config.json.
func WriteSpec(t testing.TB, dir string, spec *specs.Spec) {
	t.Helper()
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ID returns a container ID unique to t and the runtime, valid for runc
// and crun.
func ID(t testing.TB, runtime string) string {
	name := strings.NewReplacer("/", "-", " ", "-", "#", "-").Replace(t.Name())
	return fmt.Sprintf("berth-%s-%s-%d", name, runtime, os.Getpid())
}
