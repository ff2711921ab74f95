package oci

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// TestSpecResourcesAndMounts covers cgroup resources, rlimits, sysctls,
// devices and mounts; TestSpec the rest.
func TestSpecResourcesAndMounts(t *testing.T) {
	dockerDefaultMounts := []string{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"}

	runSpecCases(t, []specCase{
		{
			name: "memory and swap",
			mod:  func(in *Input) { in.HostConfig.Memory = 64 << 20; in.HostConfig.MemoryReservation = 32 << 20 },
			check: func(t *testing.T, s *specs.Spec) {
				m := s.Linux.Resources.Memory
				eq(t, "limit", *m.Limit, int64(64<<20))
				eq(t, "reservation", *m.Reservation, int64(32<<20))
				eq(t, "swap (Docker's default: twice the memory)", *m.Swap, int64(128<<20))
			},
		},
		{
			name: "unlimited swap",
			mod:  func(in *Input) { in.HostConfig.Memory = 64 << 20; in.HostConfig.MemorySwap = -1 },
			check: func(t *testing.T, s *specs.Spec) {
				if s.Linux.Resources.Memory.Swap != nil {
					t.Errorf("swap = %d, want unset", *s.Linux.Resources.Memory.Swap)
				}
			},
		},
		{
			name: "no swap limit where the kernel cannot",
			mod: func(in *Input) {
				in.Host.SwapLimit = false
				in.HostConfig.Memory = 64 << 20
				in.HostConfig.MemorySwap = 100 << 20
			},
			check: func(t *testing.T, s *specs.Spec) {
				if s.Linux.Resources.Memory.Swap != nil {
					t.Errorf("swap limit without swap accounting")
				}
			},
		},
		{
			name: "swappiness and oom-kill-disable on v1, not v2",
			mod: func(in *Input) {
				in.HostConfig.MemorySwappiness = ptr(int64(10))
				in.HostConfig.OomKillDisable = ptr(true)
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "swappiness", *s.Linux.Resources.Memory.Swappiness, uint64(10))
				eq(t, "oom", *s.Linux.Resources.Memory.DisableOOMKiller, true)
			},
		},
		{
			name: "swappiness on v2 is dropped",
			mod: func(in *Input) {
				in.Host = testHostV2()
				in.HostConfig.MemorySwappiness = ptr(int64(10))
				in.HostConfig.OomKillDisable = ptr(true)
			},
			check: func(t *testing.T, s *specs.Spec) {
				if s.Linux.Resources.Memory != nil {
					t.Errorf("memory = %+v, want nothing on v2", *s.Linux.Resources.Memory)
				}
			},
		},
		{
			name: "cpus",
			mod: func(in *Input) {
				in.HostConfig.NanoCPUs = 1500000000
				in.HostConfig.CPUShares = 512
				in.HostConfig.CpusetCpus = "0-1"
				in.HostConfig.CpusetMems = "0"
			},
			check: func(t *testing.T, s *specs.Spec) {
				c := s.Linux.Resources.CPU
				eq(t, "period", *c.Period, uint64(100000))
				eq(t, "quota", *c.Quota, int64(150000))
				eq(t, "shares", *c.Shares, uint64(512))
				eq(t, "cpus", c.Cpus, "0-1")
				eq(t, "mems", c.Mems, "0")
			},
		},
		{
			name: "cpu quota and period",
			mod:  func(in *Input) { in.HostConfig.CPUQuota = 50000; in.HostConfig.CPUPeriod = 200000 },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "period", *s.Linux.Resources.CPU.Period, uint64(200000))
				eq(t, "quota", *s.Linux.Resources.CPU.Quota, int64(50000))
			},
		},
		{
			name:    "negative cpu shares",
			mod:     func(in *Input) { in.HostConfig.CPUShares = -1 },
			wantErr: "invalid CPU shares (-1): value must be a positive integer",
		},
		{
			name: "pids limit",
			mod:  func(in *Input) { in.HostConfig.PidsLimit = ptr(int64(100)) },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "pids", *s.Linux.Resources.Pids.Limit, int64(100))
			},
		},
		{
			name: "pids limit 0 is unlimited",
			mod:  func(in *Input) { in.HostConfig.PidsLimit = ptr(int64(0)) },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "pids", *s.Linux.Resources.Pids.Limit, int64(-1))
			},
		},
		{
			name: "blkio weight",
			mod:  func(in *Input) { in.HostConfig.BlkioWeight = 300 },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "weight", *s.Linux.Resources.BlockIO.Weight, uint16(300))
			},
		},
		{
			name: "blkio weight without the scheduler's files: discarded, as Docker",
			mod: func(in *Input) {
				in.HostConfig.BlkioWeight = 300
				in.HostConfig.BlkioWeightDevice = []*blkiodev.WeightDevice{{Path: "/dev/null", Weight: 200}}
				in.Host.NoBlkioWeight = true
			},
			check: func(t *testing.T, s *specs.Spec) {
				if b := s.Linux.Resources.BlockIO; b != nil && (b.Weight != nil || len(b.WeightDevice) > 0) {
					t.Errorf("block I/O %+v", b)
				}
			},
		},
		{
			name: "oom score adj",
			mod:  func(in *Input) { in.HostConfig.OomScoreAdj = 500 },
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "oomScoreAdj", *s.Process.OOMScoreAdj, 500)
			},
		},
		{
			name: "ulimits",
			mod: func(in *Input) {
				in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "core", Soft: -1, Hard: -1}}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "rlimits", s.Process.Rlimits, []specs.POSIXRlimit{
					{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048},
					{Type: "RLIMIT_CORE", Soft: ^uint64(0), Hard: ^uint64(0)},
				})
			},
		},
		{
			name: "ulimit above the daemon's own",
			mod: func(in *Input) {
				in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1048576}}
			},
			wantErr: "ulimit nofile: hard limit 1048576 exceeds the daemon's own hard limit 20000; raising it needs CAP_SYS_RESOURCE, which the daemon does not have",
		},
		{
			name: "ulimit above the daemon's own with CAP_SYS_RESOURCE",
			mod: func(in *Input) {
				in.Host.Caps = append(in.Host.Caps, "CAP_SYS_RESOURCE")
				in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1048576}}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "rlimits", s.Process.Rlimits, []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1048576}})
			},
		},
		{
			name: "nofile above nr_open",
			mod: func(in *Input) {
				in.Host.Caps = append(in.Host.Caps, "CAP_SYS_RESOURCE")
				in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 1 << 21}}
			},
			wantErr: "ulimit nofile: hard limit 2097152 exceeds the kernel's maximum of 1048576 open files (fs.nr_open)",
		},
		{
			name:    "ulimit soft above hard",
			mod:     func(in *Input) { in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 2048, Hard: 1024}} },
			wantErr: "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024",
		},
		{
			name:    "unknown ulimit",
			mod:     func(in *Input) { in.HostConfig.Ulimits = []*container.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}} },
			wantErr: "invalid ulimit type: bogus",
		},
		{
			name: "sysctls",
			mod: func(in *Input) {
				in.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_forward": "1", "net.ipv4.ping_group_range": "0 0"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "ip_forward", s.Linux.Sysctl["net.ipv4.ip_forward"], "1")
				eq(t, "the user's sysctl wins", s.Linux.Sysctl["net.ipv4.ping_group_range"], "0 0")
			},
		},
		{
			name: "net sysctl with host networking",
			mod: func(in *Input) {
				in.HostNetwork = true
				in.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
			},
			wantErr: `sysctl "net.ipv4.ip_forward" not allowed in host network namespace`,
		},
		{
			name: "tmpfs",
			mod: func(in *Input) {
				in.HostConfig.Tmpfs = map[string]string{"/run": "size=64m,exec", "/tmp": ""}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "mounts", destinations(s), append(slices.Clone(dockerDefaultMounts), "/run", "/tmp"))
				eq(t, "/run", *mountAt(s, "/run"), specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "rprivate", "size=64m", "exec"}})
				eq(t, "/tmp", mountAt(s, "/tmp").Options, []string{"noexec", "nosuid", "nodev", "rprivate"})
			},
		},
		{
			name:    "tmpfs with a bad option",
			mod:     func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"/run": "bogus=1"} },
			wantErr: `invalid tmpfs option "bogus"`,
		},
		{
			name: "extra mounts replace defaults and are sorted parent first",
			mod: func(in *Input) {
				in.ExtraMounts = []specs.Mount{
					{Destination: "/data/sub", Type: "bind", Source: "/srv/sub", Options: []string{"rbind"}},
					{Destination: "/data", Type: "bind", Source: "/srv/data", Options: []string{"rbind"}},
					{Destination: "/etc/hosts", Type: "bind", Source: "/run/hosts", Options: []string{"rbind", "rprivate"}},
					{Destination: "/dev/shm", Type: "bind", Source: "/run/shm", Options: []string{"rbind"}},
				}
				in.HostConfig.Tmpfs = map[string]string{"/data": ""}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "mounts", destinations(s), []string{
					"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
					"/data", "/data/sub", "/etc/hosts", "/dev/shm",
				})
				eq(t, "the bind replaced --tmpfs /data", mountAt(s, "/data").Source, "/srv/data")
				eq(t, "/dev/shm", mountAt(s, "/dev/shm").Source, "/run/shm")
			},
		},
		{
			name: "a user /dev drops the default /dev mounts",
			mod: func(in *Input) {
				in.ExtraMounts = []specs.Mount{{Destination: "/dev", Type: "bind", Source: "/dev", Options: []string{"rbind"}}}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "mounts", destinations(s), []string{"/proc", "/sys", "/sys/fs/cgroup", "/dev"})
			},
		},
		{
			name: "read-only rootfs",
			mod: func(in *Input) {
				in.HostConfig.ReadonlyRootfs = true
				in.ExtraMounts = []specs.Mount{{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind"}}}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "root readonly", s.Root.Readonly, true)
				eq(t, "/proc stays writable", slices.Contains(mountAt(s, "/proc").Options, "ro"), false)
				eq(t, "/dev/shm stays writable", slices.Contains(mountAt(s, "/dev/shm").Options, "ro"), false)
				eq(t, "/dev/mqueue stays writable", slices.Contains(mountAt(s, "/dev/mqueue").Options, "ro"), false)
				eq(t, "/sys", mountAt(s, "/sys").Options, []string{"nosuid", "noexec", "nodev", "ro"})
				eq(t, "user mounts untouched", mountAt(s, "/data").Options, []string{"rbind"})
			},
		},
		{
			name: "explicit empty masked and readonly paths",
			mod: func(in *Input) {
				in.HostConfig.MaskedPaths = []string{}
				in.HostConfig.ReadonlyPaths = []string{"/proc/sys"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "masked", len(s.Linux.MaskedPaths), 0)
				eq(t, "readonly", s.Linux.ReadonlyPaths, []string{"/proc/sys"})
			},
		},
		{
			name: "devices and device cgroup rules",
			mod: func(in *Input) {
				in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "rw"}}
				in.HostConfig.DeviceCgroupRules = []string{"c 42:* rmw"}
			},
			check: func(t *testing.T, s *specs.Spec) {
				eq(t, "devices", len(s.Linux.Devices), 1)
				d := s.Linux.Devices[0]
				eq(t, "device", []any{d.Path, d.Type, d.Major, d.Minor}, []any{"/dev/mynull", "c", int64(1), int64(3)})
				rules := s.Linux.Resources.Devices
				eq(t, "rules", rules[len(rules)-2:], []specs.LinuxDeviceCgroup{devRule(true, "c", 1, 3, "rw"), devRule(true, "c", 42, -1, "rmw")})
			},
		},
		{
			name:    "bad device cgroup rule",
			mod:     func(in *Input) { in.HostConfig.DeviceCgroupRules = []string{"x 1:2 rwm"} },
			wantErr: "invalid device cgroup rule format: 'x 1:2 rwm'",
		},
		{
			name: "missing device",
			mod: func(in *Input) {
				in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/nosuch", PathInContainer: "/dev/nosuch"}}
			},
			wantErr: `error gathering device information while adding custom device "/dev/nosuch": no such file or directory`,
		},
	})
}
