package oci

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpec(t *testing.T) {
	dockerDefaultMounts := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}

	runSpecCases(t, []specCase{
		{
			name: "docker defaults",
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "ociVersion", s.Version, "1.1.0")
				eq(t, "mounts", destinations(s), dockerDefaultMounts)
				eq(t, "devpts options", mountAt(s, "/dev/pts").Options,
					[]string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"})
				eq(t, "/dev options", mountAt(s, "/dev").Options, []string{"nosuid", "strictatime", "mode=755", "size=65536k"})
				eq(t, "shm options", mountAt(s, "/dev/shm").Options, []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"})
				eq(t, "sys options", mountAt(s, "/sys").Options, []string{"nosuid", "noexec", "nodev", "ro"})
				eq(t, "cgroup mount", *mountAt(s, "/sys/fs/cgroup"), specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}})
				eq(t, "namespaces", namespaceTypes(s), []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc"})
				eq(t, "bounding", s.Process.Capabilities.Bounding, DefaultCapabilities())
				eq(t, "effective", s.Process.Capabilities.Effective, DefaultCapabilities())
				eq(t, "permitted", s.Process.Capabilities.Permitted, DefaultCapabilities())
				eq(t, "masked", s.Linux.MaskedPaths, DefaultMaskedPaths())
				eq(t, "readonly", s.Linux.ReadonlyPaths, []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"})
				eq(t, "env", s.Process.Env, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "HOME=/root"})
				eq(t, "cwd", s.Process.Cwd, "/")
				eq(t, "user", s.Process.User, specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{0}})
				eq(t, "terminal", s.Process.Terminal, false)
				eq(t, "hostname", s.Hostname, "0123456789ab")
				eq(t, "root", *s.Root, specs.Root{Path: s.Root.Path, Readonly: false})
				eq(t, "cgroupsPath", s.Linux.CgroupsPath, "/berth/0123456789ab")
				eq(t, "oomScoreAdj", *s.Process.OOMScoreAdj, 0)
				eq(t, "rlimits", len(s.Process.Rlimits), 0)
				eq(t, "noNewPrivileges", s.Process.NoNewPrivileges, false)
				eq(t, "devices", len(s.Linux.Devices), 0)
				eq(t, "device rules", s.Linux.Resources.Devices, defaultDeviceRules())
				eq(t, "oom killer", *s.Linux.Resources.Memory.DisableOOMKiller, false)
				if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) == 0 {
					t.Errorf("seccomp = %+v, want Docker's default profile", s.Linux.Seccomp)
				}
				if sysctlExists("net.ipv4.ip_unprivileged_port_start") {
					eq(t, "unprivileged ports", s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"], "0")
				}
				if sysctlExists("net.ipv4.ping_group_range") {
					eq(t, "ping", s.Linux.Sysctl["net.ipv4.ping_group_range"], "0 2147483647")
				}
			},
		},
		{
			name: "default profile follows the capabilities",
			mod:  func(in *Input) { in.HostConfig.CapAdd = []string{"SYS_ADMIN"} },
			check: func(t *testing.T, s *specs.Spec) {
				// The default profile allows mount(2) only with CAP_SYS_ADMIN.
				if !seccompAllows(s.Linux.Seccomp, "mount") {
					t.Errorf("seccomp does not allow mount with CAP_SYS_ADMIN")
				}
			},
		},
		{
			name: "default profile without SYS_ADMIN denies mount",
			check: func(t *testing.T, s *specs.Spec) {
				if seccompAllows(s.Linux.Seccomp, "mount") {
					t.Errorf("seccomp allows mount without CAP_SYS_ADMIN")
				}
			},
		},
		{
			name: "cgroup v2 gets a private cgroup namespace",
			mod:  func(in *Input) { in.Host = testHostV2() },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "namespaces", namespaceTypes(s), []specs.LinuxNamespaceType{"mount", "network", "uts", "pid", "ipc", "cgroup"})
				if s.Linux.Resources.Memory != nil && s.Linux.Resources.Memory.DisableOOMKiller != nil {
					t.Errorf("DisableOOMKiller set on cgroup v2")
				}
			},
		},
		{
			name: "cgroupns private on v1",
			mod:  func(in *Input) { in.HostConfig.CgroupnsMode = container.CgroupnsModePrivate },
			check: func(t *testing.T, s *specs.Spec) {
				if namespace(s, specs.CgroupNamespace) == nil {
					t.Errorf("no cgroup namespace")
				}
			},
		},
		{
			name: "cgroupns host on v2",
			mod: func(in *Input) {
				in.Host = testHostV2()
				in.HostConfig.CgroupnsMode = container.CgroupnsModeHost
			},
			check: func(t *testing.T, s *specs.Spec) {
				if namespace(s, specs.CgroupNamespace) != nil {
					t.Errorf("cgroup namespace with --cgroupns host")
				}
			},
		},
		{
			name:    "invalid cgroupns",
			mod:     func(in *Input) { in.HostConfig.CgroupnsMode = "bogus" },
			wantErr: "invalid cgroup namespace mode: bogus",
		},
		{
			name: "shm size",
			mod:  func(in *Input) { in.HostConfig.ShmSize = 128 << 20 },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "shm options", mountAt(s, "/dev/shm").Options, []string{"nosuid", "noexec", "nodev", "mode=1777", "size=134217728"})
			},
		},
		{
			name: "ipc none has no /dev/shm",
			mod:  func(in *Input) { in.HostConfig.IpcMode = container.IPCModeNone },
			check: func(t *testing.T, s *specs.Spec) {
				if mountAt(s, "/dev/shm") != nil {
					t.Errorf("/dev/shm mounted with --ipc none")
				}
				if namespace(s, specs.IPCNamespace) == nil {
					t.Errorf("no ipc namespace with --ipc none")
				}
			},
		},
		{
			name: "ipc host",
			mod:  func(in *Input) { in.HostConfig.IpcMode = container.IPCModeHost },
			check: func(t *testing.T, s *specs.Spec) {
				if namespace(s, specs.IPCNamespace) != nil {
					t.Errorf("ipc namespace with --ipc host")
				}
				eq(t, "shm", *mountAt(s, "/dev/shm"), specs.Mount{Destination: "/dev/shm", Type: "bind", Source: "/dev/shm", Options: []string{"rbind", "rprivate"}})
			},
		},
		{
			name: "ipc container joins by path",
			mod: func(in *Input) {
				in.HostConfig.IpcMode = "container:other"
				in.IPCNSPath = "/proc/42/ns/ipc"
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "ipc ns", *namespace(s, specs.IPCNamespace), specs.LinuxNamespace{Type: "ipc", Path: "/proc/42/ns/ipc"})
			},
		},
		{
			name:    "ipc container without a path",
			mod:     func(in *Input) { in.HostConfig.IpcMode = "container:other" },
			wantErr: "IPC mode container:other needs the other container's namespace path: invalid argument",
		},
		{
			name:    "invalid ipc mode",
			mod:     func(in *Input) { in.HostConfig.IpcMode = "bogus" },
			wantErr: "invalid IPC mode: bogus",
		},
		{
			name: "pid host",
			mod:  func(in *Input) { in.HostConfig.PidMode = "host" },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "namespaces", namespaceTypes(s), []specs.LinuxNamespaceType{"mount", "network", "uts", "ipc"})
			},
		},
		{
			name: "pid container joins by path",
			mod: func(in *Input) {
				in.HostConfig.PidMode = "container:other"
				in.PIDNSPath = "/proc/42/ns/pid"
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "pid ns", *namespace(s, specs.PIDNamespace), specs.LinuxNamespace{Type: "pid", Path: "/proc/42/ns/pid"})
			},
		},
		{
			name: "uts host",
			mod: func(in *Input) {
				in.HostConfig.UTSMode = "host"
				in.Domainname = "example.com"
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "hostname", s.Hostname, "")
				if namespace(s, specs.UTSNamespace) != nil {
					t.Errorf("uts namespace with --uts host")
				}
				if _, ok := s.Linux.Sysctl["kernel.domainname"]; ok {
					t.Errorf("kernel.domainname set with --uts host")
				}
				// HOSTNAME is still what the container was told.
				mustHaveEnv(t, s.Process.Env, "HOSTNAME=0123456789ab")
			},
		},
		{
			name:    "invalid uts mode",
			mod:     func(in *Input) { in.HostConfig.UTSMode = "bogus" },
			wantErr: "invalid UTS mode: bogus",
		},
		{
			name: "hostname and domainname",
			mod: func(in *Input) {
				in.Hostname = "web"
				in.Domainname = "example.com"
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "hostname", s.Hostname, "web")
				eq(t, "domainname sysctl", s.Linux.Sysctl["kernel.domainname"], "example.com")
				mustHaveEnv(t, s.Process.Env, "HOSTNAME=web")
			},
		},
		{
			name: "hostname from Config when Input has none",
			mod: func(in *Input) {
				in.Hostname = ""
				in.Config.Hostname = "fromconfig"
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "hostname", s.Hostname, "fromconfig")
			},
		},
		{
			name: "host network",
			mod:  func(in *Input) { in.HostNetwork = true },
			check: func(t *testing.T, s *specs.Spec) {
				if namespace(s, specs.NetworkNamespace) != nil {
					t.Errorf("network namespace with host networking")
				}
				if _, ok := s.Linux.Sysctl["net.ipv4.ping_group_range"]; ok {
					t.Errorf("net sysctl set in the host's network namespace")
				}
			},
		},
		{
			name: "NetworkMode host without HostNetwork is still host",
			mod:  func(in *Input) { in.HostConfig.NetworkMode = "host" },
			check: func(t *testing.T, s *specs.Spec) {
				if namespace(s, specs.NetworkNamespace) != nil {
					t.Errorf("network namespace with --network host")
				}
			},
		},
		{
			name: "join a network namespace by path",
			mod:  func(in *Input) { in.NetNSPath = "/run/berth/netns/abc" },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "net ns", *namespace(s, specs.NetworkNamespace), specs.LinuxNamespace{Type: "network", Path: "/run/berth/netns/abc"})
			},
		},
		{
			name: "network container joins by path without the default sysctls",
			mod: func(in *Input) {
				in.HostConfig.NetworkMode = "container:other"
				in.NetNSPath = "/proc/42/ns/net"
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "net ns", *namespace(s, specs.NetworkNamespace), specs.LinuxNamespace{Type: "network", Path: "/proc/42/ns/net"})
				if _, ok := s.Linux.Sysctl["net.ipv4.ping_group_range"]; ok {
					t.Errorf("net sysctl set in another container's network namespace")
				}
			},
		},
		{
			name: "privileged gets what the daemon holds",
			mod:  func(in *Input) { in.HostConfig.Privileged = true },
			check: func(t *testing.T, s *specs.Spec) {
				want := capsFromMask(thisMachineCaps)
				eq(t, "bounding", s.Process.Capabilities.Bounding, want)
				eq(t, "effective", s.Process.Capabilities.Effective, want)
				if slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_RESOURCE") {
					t.Errorf("privileged asks for CAP_SYS_RESOURCE, which the daemon lacks")
				}
				eq(t, "masked", len(s.Linux.MaskedPaths), 0)
				eq(t, "readonly", len(s.Linux.ReadonlyPaths), 0)
				eq(t, "sys options", mountAt(s, "/sys").Options, []string{"nosuid", "noexec", "nodev"})
				eq(t, "cgroup options", mountAt(s, "/sys/fs/cgroup").Options, []string{"nosuid", "noexec", "nodev"})
				eq(t, "device rules", s.Linux.Resources.Devices, []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}})
				if s.Linux.Seccomp != nil {
					t.Errorf("privileged container has a seccomp profile")
				}
				if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/null" }) {
					t.Errorf("privileged container lacks the host's /dev/null")
				}
				if slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return strings.HasPrefix(d.Path, "/dev/pts/") }) {
					t.Errorf("privileged container got the host's ptys")
				}
			},
		},
		{
			name: "privileged on a host with everything",
			mod: func(in *Input) {
				in.HostConfig.Privileged = true
				in.Host.Caps = capsFromMask(1<<41 - 1)
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "bounding", s.Process.Capabilities.Bounding, capNames)
			},
		},
		{
			name: "privileged keeps explicit masked paths",
			mod: func(in *Input) {
				in.HostConfig.Privileged = true
				in.HostConfig.MaskedPaths = []string{"/proc/keys"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "masked", s.Linux.MaskedPaths, []string{"/proc/keys"})
			},
		},
		{
			name: "cap add and drop",
			mod: func(in *Input) {
				in.HostConfig.CapAdd = []string{"net_admin", "CAP_SYS_PTRACE"}
				in.HostConfig.CapDrop = []string{"mknod", "NET_RAW"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				want := append(without(without(DefaultCapabilities(), "CAP_MKNOD"), "CAP_NET_RAW"), "CAP_NET_ADMIN", "CAP_SYS_PTRACE")
				eq(t, "bounding", s.Process.Capabilities.Bounding, want)
			},
		},
		{
			name: "cap add ALL is the daemon's set",
			mod: func(in *Input) {
				in.HostConfig.CapAdd = []string{"ALL"}
				in.HostConfig.CapDrop = []string{"NET_ADMIN"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				want := without(capsFromMask(thisMachineCaps), "CAP_NET_ADMIN")
				eq(t, "bounding", s.Process.Capabilities.Bounding, want)
			},
		},
		{
			name: "cap drop ALL keeps only the added ones",
			mod: func(in *Input) {
				in.HostConfig.CapAdd = []string{"chown"}
				in.HostConfig.CapDrop = []string{"all"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "bounding", s.Process.Capabilities.Bounding, []string{"CAP_CHOWN"})
			},
		},
		{
			name: "dropping a capability the daemon lacks is a no-op",
			mod:  func(in *Input) { in.HostConfig.CapDrop = []string{"SYS_RESOURCE"} },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "bounding", s.Process.Capabilities.Bounding, DefaultCapabilities())
			},
		},
		{
			name: "defaults the daemon lacks are left out",
			mod:  func(in *Input) { in.Host.Caps = without(in.Host.Caps, "CAP_AUDIT_WRITE") },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "bounding", s.Process.Capabilities.Bounding, without(DefaultCapabilities(), "CAP_AUDIT_WRITE"))
			},
		},
		{
			name:    "unknown capability",
			mod:     func(in *Input) { in.HostConfig.CapAdd = []string{"CAP_FOO"} },
			wantErr: `unknown capability: "CAP_FOO"`,
		},
		{
			name:    "capability the daemon lacks",
			mod:     func(in *Input) { in.HostConfig.CapAdd = []string{"sys_resource"} },
			wantErr: `capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"`,
		},
		{
			name: "seccomp unconfined",
			mod:  func(in *Input) { in.HostConfig.SecurityOpt = []string{"seccomp=unconfined"} },
			check: func(t *testing.T, s *specs.Spec) {
				if s.Linux.Seccomp != nil {
					t.Errorf("seccomp profile with seccomp=unconfined")
				}
			},
		},
		{
			name: "seccomp custom profile",
			mod: func(in *Input) {
				in.HostConfig.SecurityOpt = []string{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO"}]}`}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "default action", s.Linux.Seccomp.DefaultAction, specs.ActAllow)
				eq(t, "syscalls", s.Linux.Seccomp.Syscalls, []specs.LinuxSyscall{{Names: []string{"chmod"}, Action: specs.ActErrno}})
			},
		},
		{
			name:    "seccomp profile that is not JSON",
			mod:     func(in *Input) { in.HostConfig.SecurityOpt = []string{"seccomp=/etc/profile.json"} },
			wantErr: "Decoding seccomp profile failed: invalid character '/' looking for beginning of value",
		},
		{
			name: "seccomp on a kernel without it",
			mod:  func(in *Input) { in.Host.Seccomp = false },
			check: func(t *testing.T, s *specs.Spec) {
				if s.Linux.Seccomp != nil {
					t.Errorf("seccomp profile on a kernel without seccomp")
				}
			},
		},
		{
			name: "no-new-privileges",
			mod:  func(in *Input) { in.HostConfig.SecurityOpt = []string{"no-new-privileges:true", "label=disable"} },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "noNewPrivileges", s.Process.NoNewPrivileges, true)
			},
		},
		{
			name:    "bad security opt",
			mod:     func(in *Input) { in.HostConfig.SecurityOpt = []string{"bogus"} },
			wantErr: `invalid --security-opt 1: "bogus"`,
		},
		{
			name: "writable-cgroups",
			mod:  func(in *Input) { in.HostConfig.SecurityOpt = []string{"writable-cgroups=true"} },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "cgroup options", mountAt(s, "/sys/fs/cgroup").Options, []string{"nosuid", "noexec", "nodev"})
			},
		},
		{
			name: "apparmor only where the kernel has it",
			mod: func(in *Input) {
				in.HostConfig.SecurityOpt = []string{"apparmor=my-profile"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "apparmor", s.Process.ApparmorProfile, "")
			},
		},
		{
			name: "apparmor profile",
			mod: func(in *Input) {
				in.Host.AppArmor = true
				in.HostConfig.SecurityOpt = []string{"apparmor=my-profile"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "apparmor", s.Process.ApparmorProfile, "my-profile")
			},
		},
		{
			name: "tty",
			mod: func(in *Input) {
				in.Config.Tty = true
				in.HostConfig.ConsoleSize = [2]uint{40, 120}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "terminal", s.Process.Terminal, true)
				eq(t, "console size", *s.Process.ConsoleSize, specs.Box{Height: 40, Width: 120})
				eq(t, "env", s.Process.Env, []string{"PATH=" + DefaultPathEnv, "HOSTNAME=0123456789ab", "TERM=xterm", "HOME=/root"})
			},
		},
		{
			name: "image env overrides and unsets defaults",
			mod: func(in *Input) {
				in.Config.Env = []string{"PATH=/custom", "A=1", "HOSTNAME", "HOME=/data", "A=2"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "env", s.Process.Env, []string{"PATH=/custom", "A=2", "HOME=/data"})
			},
		},
		{
			name: "working dir",
			mod:  func(in *Input) { in.Config.WorkingDir = "/srv/app" },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "cwd", s.Process.Cwd, "/srv/app")
			},
		},
		{
			name:    "relative working dir",
			mod:     func(in *Input) { in.Config.WorkingDir = "srv" },
			wantErr: "the working directory 'srv' is invalid, it needs to be an absolute path",
		},
		{
			name: "user by name with groups",
			mod: func(in *Input) {
				in.Config.User = "app"
				in.HostConfig.GroupAdd = []string{"4242", "audio"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "user", s.Process.User, specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{1000, 50, 29, 4242}})
				mustHaveEnv(t, s.Process.Env, "HOME=/home/app")
			},
		},
		{
			name: "user uid:gid",
			mod:  func(in *Input) { in.Config.User = "1234:5678" },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "user", s.Process.User, specs.User{UID: 1234, GID: 5678, AdditionalGids: []uint32{5678}})
				mustHaveEnv(t, s.Process.Env, "HOME=/")
			},
		},
		{
			name:    "unknown user",
			mod:     func(in *Input) { in.Config.User = "nosuch" },
			wantErr: "unable to find user nosuch: no matching entries in passwd file",
		},
		{
			name:    "unknown group-add",
			mod:     func(in *Input) { in.HostConfig.GroupAdd = []string{"nosuch"} },
			wantErr: "unable to find group nosuch: no matching entries in group file",
		},
		{
			name: "umask",
			mod:  func(in *Input) { in.HostConfig.Umask = ptr(uint32(0o077)) },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "umask", *s.Process.User.Umask, uint32(0o077))
			},
		},
		{
			name: "annotations",
			mod:  func(in *Input) { in.HostConfig.Annotations = map[string]string{"com.example/a": "b"} },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "annotations", s.Annotations, map[string]string{"com.example/a": "b"})
			},
		},
		{
			name: "init",
			mod:  func(in *Input) { in.HostConfig.Init = ptr(true); in.InitPath = "/usr/bin/tini-static" },
			check: func(t *testing.T, s *specs.Spec) {
				if len(s.Process.Args) < 3 || s.Process.Args[0] != InitBinary || s.Process.Args[1] != "--" {
					t.Errorf("args %q", s.Process.Args)
				}
				m := s.Mounts[len(s.Mounts)-1]
				eq(t, "init mount", m, specs.Mount{Destination: InitBinary, Type: "bind", Source: "/usr/bin/tini-static", Options: []string{"bind", "ro"}})
			},
		},
		{
			name: "daemon's init, off for the container",
			mod:  func(in *Input) { in.DefaultInit = true; in.InitPath = "/x"; in.HostConfig.Init = ptr(false) },
			check: func(t *testing.T, s *specs.Spec) {
				if s.Process.Args[0] == InitBinary {
					t.Errorf("args %q", s.Process.Args)
				}
			},
		},
		{
			name: "daemon's init, not in the host's PID namespace",
			mod:  func(in *Input) { in.DefaultInit = true; in.InitPath = "/x"; in.HostConfig.PidMode = "host" },
			check: func(t *testing.T, s *specs.Spec) {
				if s.Process.Args[0] == InitBinary {
					t.Errorf("args %q", s.Process.Args)
				}
			},
		},
		{
			name: "init false is fine",
			mod:  func(in *Input) { in.HostConfig.Init = ptr(false) },
		},
		{
			name:    "no command",
			mod:     func(in *Input) { in.Args = nil },
			wantErr: "no command specified",
		},
		{
			name:    "relative rootfs",
			mod:     func(in *Input) { in.Rootfs = "rootfs" },
			wantErr: `container 0123456789ab: rootfs "rootfs" is not an absolute path: invalid argument`,
		},
	})
}

// specCase is one table case of Spec: a change to testInput, then either
// the exact error (always InvalidArgument) or checks of the spec's key
// fields.
type specCase struct {
	name    string
	mod     func(in *Input)
	wantErr string
	check   func(t *testing.T, s *specs.Spec)
}

func runSpecCases(t *testing.T, tests []specCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput(t)
			if tc.mod != nil {
				tc.mod(&in)
			}
			hcBefore, _ := json.Marshal(in.HostConfig)
			s, err := Spec(in)
			if tc.wantErr != "" {
				wantInvalidArgument(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if hcAfter, _ := json.Marshal(in.HostConfig); string(hcAfter) != string(hcBefore) {
				t.Errorf("Spec modified its input HostConfig:\n%s\n%s", hcBefore, hcAfter)
			}
			// Every spec must be valid JSON for the runtime.
			if _, err := json.Marshal(s); err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func mustHaveEnv(t *testing.T, env []string, kv string) {
	t.Helper()
	if !slices.Contains(env, kv) {
		t.Errorf("env %q lacks %q", env, kv)
	}
}

func seccompAllows(p *specs.LinuxSeccomp, syscall string) bool {
	if p == nil {
		return true
	}
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 && slices.Contains(sc.Names, syscall) {
			return true
		}
	}
	return false
}

func TestSpecDoesNotShareSlicesWithDefaults(t *testing.T) {
	in := testInput(t)
	s, err := Spec(in)
	if err != nil {
		t.Fatal(err)
	}
	s.Linux.MaskedPaths[0] = "/changed"
	s.Process.Capabilities.Bounding[0] = "CAP_CHANGED"
	if DefaultMaskedPaths()[0] == "/changed" {
		t.Errorf("the spec's masked paths alias the package defaults")
	}
	s2, err := Spec(in)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Process.Capabilities.Bounding[0] == "CAP_CHANGED" || s2.Linux.MaskedPaths[0] == "/changed" {
		t.Errorf("specs share slices")
	}
}

// TestInitNotFound: --init without docker-init on the daemon's PATH fails
// the start with Docker's error, a daemon error rather than bad input.
func TestInitNotFound(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	s := &specs.Spec{Process: &specs.Process{Args: []string{"sh"}}}
	err := withInit(s, &container.HostConfig{Init: ptr(true)}, false, "")
	if err == nil || err.Error() != `exec: "docker-init": executable file not found in $PATH` || errdefs.IsInvalidArgument(err) {
		t.Fatalf("error %v", err)
	}
}
