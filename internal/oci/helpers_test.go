package oci

import (
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// thisMachineCaps is this machine's bounding set: every capability up to
// CAP_CHECKPOINT_RESTORE except CAP_SYS_RESOURCE.
const thisMachineCaps = 0x000001fffeffffff

// testHost is a cgroup v1 host like this one: no CAP_SYS_RESOURCE, a hard
// RLIMIT_NOFILE of 20000.
func testHost() *Host {
	return &Host{
		Caps:       capsFromMask(thisMachineCaps),
		HardLimits: map[string]uint64{"RLIMIT_NOFILE": 20000, "RLIMIT_NPROC": 96365, "RLIMIT_CORE": ^uint64(0)},
		NrOpen:     1 << 20,
		SwapLimit:  true,
		Seccomp:    true,
		NumCPU:     2,
		OnlineCPUs: "0-1",
		OnlineMems: "0",
	}
}

func testHostV2() *Host {
	h := testHost()
	h.CgroupV2 = true
	return h
}

// testRootfs is a rootfs with only /etc/passwd and /etc/group: enough for
// Spec, which does not run anything.
func testRootfs(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "etc/passwd"), testPasswd)
	writeFile(t, filepath.Join(root, "etc/group"), testGroup)
	return root
}

func testInput(t *testing.T) Input {
	return Input{
		ID:          "0123456789ab",
		Hostname:    "0123456789ab",
		Config:      &container.Config{},
		HostConfig:  &container.HostConfig{},
		Args:        []string{"sh", "-c", "true"},
		Rootfs:      testRootfs(t),
		CgroupsPath: "/berth/0123456789ab",
		Host:        testHost(),
	}
}

// wantInvalidArgument fails the test unless err is an InvalidArgument
// error whose text is exactly msg, the Docker message clients show.
func wantInvalidArgument(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil || err.Error() != msg {
		t.Fatalf("error %v, want %q", err, msg)
	}
	if !errdefs.IsInvalidArgument(err) {
		t.Errorf("error %q is not InvalidArgument", err)
	}
}

func mountAt(s *specs.Spec, dest string) *specs.Mount {
	for i := range s.Mounts {
		if s.Mounts[i].Destination == dest {
			return &s.Mounts[i]
		}
	}
	return nil
}

func destinations(s *specs.Spec) []string {
	var out []string
	for _, m := range s.Mounts {
		out = append(out, m.Destination)
	}
	return out
}

func namespaceTypes(s *specs.Spec) []specs.LinuxNamespaceType {
	var out []specs.LinuxNamespaceType
	for _, n := range s.Linux.Namespaces {
		out = append(out, n.Type)
	}
	return out
}

func namespace(s *specs.Spec, typ specs.LinuxNamespaceType) *specs.LinuxNamespace {
	for i := range s.Linux.Namespaces {
		if s.Linux.Namespaces[i].Type == typ {
			return &s.Linux.Namespaces[i]
		}
	}
	return nil
}
