package oci

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestValidateHostConfig(t *testing.T) {
	tests := []struct {
		name    string
		hc      container.HostConfig
		wantErr string
	}{
		{name: "empty"},
		{name: "a typical run", hc: container.HostConfig{
			RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3},
			CapAdd:        []string{"NET_ADMIN"}, CapDrop: []string{"ALL", "sys_resource"},
			Resources: container.Resources{
				Memory: 64 << 20, MemorySwap: 128 << 20, MemoryReservation: 32 << 20,
				NanoCPUs: 1e9, CPUShares: 512, CpusetCpus: "0-1", CpusetMems: "0", BlkioWeight: 500,
				MemorySwappiness: ptr(int64(-1)),
				Ulimits:          []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 20000}},
			},
			ShmSize: 1 << 20, OomScoreAdj: -500, Tmpfs: map[string]string{"/run": "size=1m"},
			SecurityOpt: []string{"no-new-privileges", "seccomp=unconfined", "label=disable"},
			IpcMode:     "shareable", PidMode: "host", UTSMode: "host", CgroupnsMode: "private",
			Init: ptr(false),
		}},
		{
			name:    "unknown restart policy",
			hc:      container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "sometimes"}},
			wantErr: "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
		},
		{
			name:    "retry count without on-failure",
			hc:      container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always", MaximumRetryCount: 3}},
			wantErr: "invalid restart policy: maximum retry count can only be used with 'on-failure'",
		},
		{
			name:    "negative retry count",
			hc:      container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: -1}},
			wantErr: "invalid restart policy: maximum retry count cannot be negative",
		},
		{
			name:    "auto-remove with a restart policy",
			hc:      container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "always"}},
			wantErr: "can't create 'AutoRemove' container with restart policy",
		},
		{
			name:    "unknown capability",
			hc:      container.HostConfig{CapAdd: []string{"CAP_FOO"}},
			wantErr: `invalid CapAdd: unknown capability: "CAP_FOO"`,
		},
		{
			name:    "unknown capability to drop",
			hc:      container.HostConfig{CapDrop: []string{"foo"}},
			wantErr: `invalid CapDrop: unknown capability: "CAP_FOO"`,
		},
		{
			name:    "capability the daemon lacks",
			hc:      container.HostConfig{CapAdd: []string{"SYS_RESOURCE"}},
			wantErr: `invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"`,
		},
		{
			name:    "isolation",
			hc:      container.HostConfig{Isolation: "hyperv"},
			wantErr: "invalid isolation 'hyperv' on linux",
		},
		{
			name:    "empty annotation key",
			hc:      container.HostConfig{Annotations: map[string]string{"": "x"}},
			wantErr: "invalid Annotations: the empty string is not permitted as an annotation key",
		},
		{
			name:    "memory below 6MB",
			hc:      container.HostConfig{Resources: container.Resources{Memory: 1 << 20}},
			wantErr: "Minimum memory limit allowed is 6MB",
		},
		{
			name:    "negative memory",
			hc:      container.HostConfig{Resources: container.Resources{Memory: -1}},
			wantErr: "Minimum memory limit allowed is 6MB",
		},
		{
			name:    "swap below memory",
			hc:      container.HostConfig{Resources: container.Resources{Memory: 64 << 20, MemorySwap: 32 << 20}},
			wantErr: "Minimum memoryswap limit should be larger than memory limit, see usage",
		},
		{
			name:    "swap without memory",
			hc:      container.HostConfig{Resources: container.Resources{MemorySwap: 32 << 20}},
			wantErr: "You should always set the Memory limit when using Memoryswap limit, see usage",
		},
		{
			name:    "swappiness",
			hc:      container.HostConfig{Resources: container.Resources{MemorySwappiness: ptr(int64(101))}},
			wantErr: "Invalid value: 101, valid memory swappiness range is 0-100",
		},
		{
			name:    "reservation below 6MB",
			hc:      container.HostConfig{Resources: container.Resources{MemoryReservation: 1 << 20}},
			wantErr: "Minimum memory reservation allowed is 6MB",
		},
		{
			name:    "reservation above memory",
			hc:      container.HostConfig{Resources: container.Resources{Memory: 32 << 20, MemoryReservation: 64 << 20}},
			wantErr: "Minimum memory limit can not be less than memory reservation limit, see usage",
		},
		{
			name:    "cpus and period",
			hc:      container.HostConfig{Resources: container.Resources{NanoCPUs: 1e9, CPUPeriod: 100000}},
			wantErr: "Conflicting options: Nano CPUs and CPU Period cannot both be set",
		},
		{
			name:    "cpus and quota",
			hc:      container.HostConfig{Resources: container.Resources{NanoCPUs: 1e9, CPUQuota: 100000}},
			wantErr: "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
		},
		{
			name:    "more cpus than the host",
			hc:      container.HostConfig{Resources: container.Resources{NanoCPUs: 3e9}},
			wantErr: "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
		},
		{
			name:    "negative cpus",
			hc:      container.HostConfig{Resources: container.Resources{NanoCPUs: -1}},
			wantErr: "range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
		},
		{
			name:    "negative cpu shares",
			hc:      container.HostConfig{Resources: container.Resources{CPUShares: -2}},
			wantErr: "invalid CPU shares (-2): value must be a positive integer",
		},
		{
			name:    "cpu period",
			hc:      container.HostConfig{Resources: container.Resources{CPUPeriod: 999}},
			wantErr: "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
		},
		{
			name:    "cpu quota",
			hc:      container.HostConfig{Resources: container.Resources{CPUQuota: 999}},
			wantErr: "CPU cfs quota can not be less than 1ms (i.e. 1000)",
		},
		{
			name:    "cpuset format",
			hc:      container.HostConfig{Resources: container.Resources{CpusetCpus: "a-b"}},
			wantErr: "Invalid value a-b for cpuset cpus: invalid format: a-b",
		},
		{
			name:    "cpuset not available",
			hc:      container.HostConfig{Resources: container.Resources{CpusetCpus: "0-3"}},
			wantErr: "Requested CPUs are not available - requested 0-3, available: 0-1",
		},
		{
			name:    "cpuset mems not available",
			hc:      container.HostConfig{Resources: container.Resources{CpusetMems: "1"}},
			wantErr: "Requested memory nodes are not available - requested 1, available: 0",
		},
		{
			name:    "blkio weight",
			hc:      container.HostConfig{Resources: container.Resources{BlkioWeight: 5}},
			wantErr: "Range of blkio weight is from 10 to 1000",
		},
		{
			name:    "io maximum",
			hc:      container.HostConfig{Resources: container.Resources{IOMaximumIOps: 10}},
			wantErr: "Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps",
		},
		{name: "ipc mode", hc: container.HostConfig{IpcMode: "bogus"}, wantErr: "invalid IPC mode: bogus"},
		{name: "pid mode", hc: container.HostConfig{PidMode: "container:"}, wantErr: "invalid PID mode: container:"},
		{name: "uts mode", hc: container.HostConfig{UTSMode: "bogus"}, wantErr: "invalid UTS mode: bogus"},
		{name: "cgroupns mode", hc: container.HostConfig{CgroupnsMode: "bogus"}, wantErr: "invalid cgroup namespace mode: bogus"},
		{name: "negative shm size", hc: container.HostConfig{ShmSize: -1}, wantErr: "SHM size can not be less than 0"},
		{
			name:    "oom score adj",
			hc:      container.HostConfig{OomScoreAdj: 1001},
			wantErr: "Invalid value 1001, range for oom score adj is [-1000, 1000]",
		},
		{
			name:    "tmpfs at /",
			hc:      container.HostConfig{Tmpfs: map[string]string{"/": ""}},
			wantErr: "invalid specification: destination can't be '/'",
		},
		{
			name:    "relative tmpfs",
			hc:      container.HostConfig{Tmpfs: map[string]string{"run": ""}},
			wantErr: "invalid mount path: 'run' mount path must be absolute",
		},
		{
			name:    "tmpfs option",
			hc:      container.HostConfig{Tmpfs: map[string]string{"/run": "sizee=1m"}},
			wantErr: `invalid tmpfs option "sizee"`,
		},
		{
			name:    "security opt without a value",
			hc:      container.HostConfig{SecurityOpt: []string{"apparmor"}},
			wantErr: `invalid --security-opt 1: "apparmor"`,
		},
		{
			name:    "unknown security opt",
			hc:      container.HostConfig{SecurityOpt: []string{"foo=bar"}},
			wantErr: `invalid --security-opt 2: "foo=bar"`,
		},
		{
			name:    "bad no-new-privileges",
			hc:      container.HostConfig{SecurityOpt: []string{"no-new-privileges=maybe"}},
			wantErr: `invalid --security-opt 2: "no-new-privileges=maybe"`,
		},
		{
			name:    "device cgroup rule",
			hc:      container.HostConfig{Resources: container.Resources{DeviceCgroupRules: []string{"c 1:3"}}},
			wantErr: "invalid device cgroup rule format: 'c 1:3'",
		},
		{
			name:    "ulimit above the daemon's",
			hc:      container.HostConfig{Resources: container.Resources{Ulimits: []*container.Ulimit{{Name: "nofile", Soft: 65536, Hard: 65536}}}},
			wantErr: "ulimit nofile: hard limit 65536 exceeds the daemon's own hard limit 20000; raising it needs CAP_SYS_RESOURCE, which the daemon does not have",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := validateHostConfig(&tc.hc, testHost())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantInvalidArgument(t, err, tc.wantErr)
		})
	}
}

func TestValidateHostConfigOnThisHost(t *testing.T) {
	if _, err := ValidateHostConfig(nil); err != nil {
		t.Errorf("nil HostConfig: %v", err)
	}
	if _, err := ValidateHostConfig(&container.HostConfig{CapAdd: []string{"NET_ADMIN"}}); err != nil {
		t.Error(err)
	}
	if _, err := ValidateHostConfig(&container.HostConfig{CapAdd: []string{"CAP_FOO"}}); err == nil {
		t.Error("no error for CAP_FOO")
	}
}

func TestApplyHostConfigDefaults(t *testing.T) {
	hc := container.HostConfig{Resources: container.Resources{Memory: 64 << 20}}
	ApplyHostConfigDefaults(&hc, testHost())
	eq(t, "swap", hc.MemorySwap, int64(128<<20))
	eq(t, "shm", hc.ShmSize, DefaultShmSize)
	eq(t, "ipc", hc.IpcMode, container.IPCModePrivate)
	eq(t, "cgroupns on v1", hc.CgroupnsMode, container.CgroupnsModeHost)
	eq(t, "oom kill disable", *hc.OomKillDisable, false)
	eq(t, "masked", hc.MaskedPaths, DefaultMaskedPaths())
	eq(t, "readonly", hc.ReadonlyPaths, DefaultReadonlyPaths())

	v2 := container.HostConfig{Privileged: true, ShmSize: 1 << 20, IpcMode: "host", Resources: container.Resources{Memory: 64 << 20, MemorySwap: -1}}
	ApplyHostConfigDefaults(&v2, testHostV2())
	eq(t, "swap kept", v2.MemorySwap, int64(-1))
	eq(t, "shm kept", v2.ShmSize, int64(1<<20))
	eq(t, "ipc kept", v2.IpcMode, container.IpcMode("host"))
	eq(t, "cgroupns on v2", v2.CgroupnsMode, container.CgroupnsModePrivate)
	if v2.OomKillDisable != nil || v2.MaskedPaths != nil || v2.ReadonlyPaths != nil {
		t.Errorf("privileged v2 container got %v %v %v", v2.OomKillDisable, v2.MaskedPaths, v2.ReadonlyPaths)
	}
}

// TestDiscardUnsupported: limits the host cannot apply are cleared with
// Docker's warnings; supported ones stay.
func TestDiscardUnsupported(t *testing.T) {
	hc := &container.HostConfig{Resources: container.Resources{
		MemorySwap: 1 << 30, BlkioWeight: 300, MemorySwappiness: ptr(int64(10)), OomKillDisable: ptr(true),
	}}
	host := testHost()
	if w := discardUnsupported(hc, host); len(w) != 0 || hc.BlkioWeight != 300 || hc.MemorySwap != 1<<30 {
		t.Fatalf("a capable host: %q, %+v", w, hc.Resources)
	}
	host.SwapLimit, host.NoBlkioWeight, host.CgroupV2 = false, true, true
	w := discardUnsupported(hc, host)
	if len(w) != 4 || !strings.Contains(w[0], "Memory limited without swap") || !strings.Contains(w[3], "Weight discarded") {
		t.Errorf("warnings %q", w)
	}
	if hc.MemorySwap != -1 || hc.BlkioWeight != 0 || hc.MemorySwappiness != nil || hc.OomKillDisable != nil {
		t.Errorf("resources %+v", hc.Resources)
	}
}
