package cli

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// parseRunArgs parses run's arguments the way the command does.
func parseRunArgs(t *testing.T, args ...string) (*containerConfig, error) {
	t.Helper()
	flags := pflag.NewFlagSet("run", pflag.ContinueOnError)
	flags.SetInterspersed(false)
	flags.SetOutput(nopWriter{})
	copts := addContainerFlags(flags)
	if err := flags.Parse(args); err != nil {
		return nil, err
	}
	if flags.NArg() > 0 {
		copts.Image = flags.Arg(0)
		if flags.NArg() > 1 {
			copts.Args = flags.Args()[1:]
		}
	}
	return parseContainerOptions(flags, copts, "linux")
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func mustParseRun(t *testing.T, args ...string) *containerConfig {
	t.Helper()
	cfg, err := parseRunArgs(t, args...)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return cfg
}

func ptr[T any](v T) *T { return &v }

func port(s string) network.Port { return network.MustParsePort(s) }

func TestParseContainerOptionsDefaults(t *testing.T) {
	cfg := mustParseRun(t, "busybox")
	c, hc := cfg.Config, cfg.HostConfig
	if c.Image != "busybox" || c.Cmd != nil || c.Entrypoint != nil {
		t.Errorf("image/cmd/entrypoint: %q %q %q", c.Image, c.Cmd, c.Entrypoint)
	}
	if c.AttachStdin || !c.AttachStdout || !c.AttachStderr || c.OpenStdin || c.StdinOnce || c.Tty {
		t.Errorf("attach defaults: %+v", c)
	}
	if hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		t.Errorf("restart policy %q, want no", hc.RestartPolicy.Name)
	}
	if hc.NetworkMode != "default" {
		t.Errorf("network mode %q, want default", hc.NetworkMode)
	}
	// docker sends empty, not null, DNS lists and an endpoint for "default".
	if hc.DNS == nil || hc.DNSSearch == nil || hc.DNSOptions == nil {
		t.Errorf("DNS lists must be empty, not nil: %v %v %v", hc.DNS, hc.DNSSearch, hc.DNSOptions)
	}
	if ep, ok := cfg.NetworkingConfig.EndpointsConfig["default"]; !ok || ep == nil {
		t.Errorf("endpoints: %v", cfg.NetworkingConfig.EndpointsConfig)
	}
	if *hc.MemorySwappiness != -1 || *hc.OomKillDisable || *hc.PidsLimit != 0 {
		t.Errorf("resource defaults: swappiness %d oom %v pids %d", *hc.MemorySwappiness, *hc.OomKillDisable, *hc.PidsLimit)
	}
	if hc.Init != nil || c.StopTimeout != nil || c.Healthcheck != nil {
		t.Errorf("unset options must stay nil: init %v stop-timeout %v health %v", hc.Init, c.StopTimeout, c.Healthcheck)
	}
}

func TestParseContainerOptions(t *testing.T) {
	wd, _ := os.Getwd()
	t.Setenv("BERTH_TEST_FROM_ENV", "env-value")

	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, cfg *containerConfig)
	}{
		{"command", []string{"busybox", "sh", "-c", "exit 3"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Cmd", cfg.Config.Cmd, []string{"sh", "-c", "exit 3"})
		}},
		{"flags after the image belong to the command", []string{"busybox", "--rm", "-p", "80"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Cmd", cfg.Config.Cmd, []string{"--rm", "-p", "80"})
			want(t, "AutoRemove", cfg.HostConfig.AutoRemove, false)
		}},
		{"interactive tty", []string{"-i", "-t", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			c := cfg.Config
			want(t, "attach", []bool{c.AttachStdin, c.AttachStdout, c.AttachStderr, c.OpenStdin, c.StdinOnce, c.Tty}, []bool{true, true, true, true, true, true})
		}},
		{"attach stderr only", []string{"-a", "STDERR", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			c := cfg.Config
			want(t, "attach", []bool{c.AttachStdin, c.AttachStdout, c.AttachStderr}, []bool{false, false, true})
		}},
		{"env", []string{"-e", "A=1", "-e", "BERTH_TEST_FROM_ENV", "-e", "BERTH_TEST_UNSET_XYZ", "-e", "E=", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Env", cfg.Config.Env, []string{"A=1", "BERTH_TEST_FROM_ENV=env-value", "BERTH_TEST_UNSET_XYZ", "E="})
		}},
		{"env file then -e", []string{"--env-file", "testdata/lifecycle.env", "-e", "A=9", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Env", cfg.Config.Env, []string{"FROMFILE=1", "INDENTED=yes  ", "HOME=" + os.Getenv("HOME"), "A=0", "A=9"})
		}},
		{"labels", []string{"-l", "a=b", "-l", "c", "--label-file", "testdata/lifecycle.labels", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Labels", cfg.Config.Labels, map[string]string{"a": "b", "c": "", "x": "1"}) // a bare name in a label file is dropped
		}},
		{"publish", []string{"-p", "80", "-p", "8080:80", "-p", "127.0.0.1:8081:81/udp", "-p", "[::1]:8082:82", "-p", "7000-7001:7000-7001", "-p", "9000-9010:90", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "PortBindings", cfg.HostConfig.PortBindings, network.PortMap{
				port("80/tcp"):   {{HostPort: ""}, {HostPort: "8080"}},
				port("81/udp"):   {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8081"}},
				port("82/tcp"):   {{HostIP: netip.MustParseAddr("::1"), HostPort: "8082"}},
				port("7000/tcp"): {{HostPort: "7000"}},
				port("7001/tcp"): {{HostPort: "7001"}},
				port("90/tcp"):   {{HostPort: "9000-9010"}},
			})
			want(t, "ExposedPorts", cfg.Config.ExposedPorts, network.PortSet{
				port("80/tcp"): {}, port("81/udp"): {}, port("82/tcp"): {}, port("7000/tcp"): {}, port("7001/tcp"): {}, port("90/tcp"): {},
			})
		}},
		{"publish long syntax", []string{"-p", "published=8080,target=80,protocol=udp", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "PortBindings", cfg.HostConfig.PortBindings, network.PortMap{port("80/udp"): {{HostPort: "8080"}}})
		}},
		{"expose and publish-all", []string{"-P", "--expose", "5000-5001", "--expose", "6000/udp", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "PublishAllPorts", cfg.HostConfig.PublishAllPorts, true)
			want(t, "ExposedPorts", cfg.Config.ExposedPorts, network.PortSet{port("5000/tcp"): {}, port("5001/tcp"): {}, port("6000/udp"): {}})
		}},
		{"volumes", []string{"-v", "/src:/dst:ro", "-v", "named:/data", "-v", "/anon", "-v", "./rel:/rel", "-v", "/src:/dst:ro", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Binds", cfg.HostConfig.Binds, []string{"/src:/dst:ro", "named:/data", filepath.Join(wd, "rel") + ":/rel"})
			want(t, "Volumes", cfg.Config.Volumes, map[string]struct{}{"/anon": {}})
		}},
		{"mounts", []string{"--mount", "type=bind,src=/tmp,dst=/m,readonly", "--mount", "dst=/v,volume-nocopy", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1777", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Mounts", cfg.HostConfig.Mounts, []mount.Mount{
				{Type: mount.TypeBind, Source: "/tmp", Target: "/m", ReadOnly: true},
				{Type: mount.TypeVolume, Target: "/v", VolumeOptions: &mount.VolumeOptions{NoCopy: true, Labels: map[string]string{}, DriverConfig: &mount.Driver{}}},
				{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o1777}},
			})
		}},
		{"tmpfs", []string{"--tmpfs", "/run:rw,size=1m", "--tmpfs", "/tmp", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Tmpfs", cfg.HostConfig.Tmpfs, map[string]string{"/run": "rw,size=1m", "/tmp": ""})
		}},
		{"restart on-failure", []string{"--restart", "on-failure:3", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "RestartPolicy", cfg.HostConfig.RestartPolicy, container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3})
		}},
		{"rm", []string{"--rm", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "AutoRemove", cfg.HostConfig.AutoRemove, true)
		}},
		{"entrypoint reset", []string{"--entrypoint", "", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Entrypoint", cfg.Config.Entrypoint, []string{""})
		}},
		{"entrypoint", []string{"--entrypoint", "/bin/sh", "-w", "/tmp", "-u", "1000:1000", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Entrypoint", cfg.Config.Entrypoint, []string{"/bin/sh"})
			want(t, "WorkingDir", cfg.Config.WorkingDir, "/tmp")
			want(t, "User", cfg.Config.User, "1000:1000")
		}},
		{"user-defined network", []string{"--network", "mynet", "--network-alias", "web", "--ip", "10.0.0.5", "--mac-address", "02:42:ac:11:00:02", "--link", "db:db", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "NetworkMode", cfg.HostConfig.NetworkMode, container.NetworkMode("mynet"))
			ep := cfg.NetworkingConfig.EndpointsConfig["mynet"]
			if ep == nil {
				t.Fatalf("no endpoint for mynet: %v", cfg.NetworkingConfig.EndpointsConfig)
			}
			want(t, "Aliases", ep.Aliases, []string{"web"})
			want(t, "Links", ep.Links, []string{"db:db"})
			want(t, "IPv4", ep.IPAMConfig.IPv4Address, netip.MustParseAddr("10.0.0.5"))
			want(t, "MAC", ep.MacAddress.String(), "02:42:ac:11:00:02")
		}},
		{"single network without options has no endpoint config", []string{"--network", "host", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "EndpointsConfig", len(cfg.NetworkingConfig.EndpointsConfig), 0)
			want(t, "NetworkMode", cfg.HostConfig.NetworkMode, container.NetworkMode("host"))
		}},
		{"advanced network syntax", []string{"--network", "name=n1,alias=a,driver-opt=k=v,gw-priority=5", "--network", "n2", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			eps := cfg.NetworkingConfig.EndpointsConfig
			want(t, "n1", eps["n1"], &network.EndpointSettings{Aliases: []string{"a"}, DriverOpts: map[string]string{"k": "v"}, GwPriority: 5})
			want(t, "n2", eps["n2"], &network.EndpointSettings{})
		}},
		{"dns and hosts", []string{"--dns", "8.8.8.8", "--dns-search", "example.com", "--dns-option", "ndots:2", "--add-host", "h=[::1]", "--add-host", "gw:host-gateway", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			hc := cfg.HostConfig
			want(t, "DNS", hc.DNS, []netip.Addr{netip.MustParseAddr("8.8.8.8")})
			want(t, "DNSSearch", hc.DNSSearch, []string{"example.com"})
			want(t, "DNSOptions", hc.DNSOptions, []string{"ndots:2"})
			want(t, "ExtraHosts", hc.ExtraHosts, []string{"h:::1", "gw:host-gateway"})
		}},
		{"hostname", []string{"-h", "box", "--domainname", "example.org", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Hostname", cfg.Config.Hostname, "box")
			want(t, "Domainname", cfg.Config.Domainname, "example.org")
		}},
		{"logging", []string{"--log-driver", "json-file", "--log-opt", "max-size=1m", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "LogConfig", cfg.HostConfig.LogConfig, container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m"}})
		}},
		{"security", []string{"--cap-add", "NET_ADMIN", "--cap-drop", "ALL", "--privileged", "--read-only", "--security-opt", "no-new-privileges", "--security-opt", "systempaths=unconfined", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			hc := cfg.HostConfig
			want(t, "CapAdd", hc.CapAdd, []string{"NET_ADMIN"})
			want(t, "CapDrop", hc.CapDrop, []string{"ALL"})
			want(t, "Privileged", hc.Privileged, true)
			want(t, "ReadonlyRootfs", hc.ReadonlyRootfs, true)
			want(t, "SecurityOpt", hc.SecurityOpt, []string{"no-new-privileges"})
			want(t, "MaskedPaths", hc.MaskedPaths, []string{})
			want(t, "ReadonlyPaths", hc.ReadonlyPaths, []string{})
		}},
		{"resources", []string{"-m", "512m", "--memory-swap", "-1", "--memory-reservation", "256m", "--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0-1", "--cpu-period", "100000", "--cpu-quota", "50000", "--pids-limit", "100", "--shm-size", "64m", "--oom-kill-disable", "--oom-score-adj", "100", "--memory-swappiness", "10", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			hc := cfg.HostConfig
			want(t, "Memory", hc.Memory, int64(512<<20))
			want(t, "MemorySwap", hc.MemorySwap, int64(-1))
			want(t, "MemoryReservation", hc.MemoryReservation, int64(256<<20))
			want(t, "NanoCPUs", hc.NanoCPUs, int64(1_500_000_000))
			want(t, "CPUShares", hc.CPUShares, int64(512))
			want(t, "CpusetCpus", hc.CpusetCpus, "0-1")
			want(t, "CPUPeriod/Quota", []int64{hc.CPUPeriod, hc.CPUQuota}, []int64{100000, 50000})
			want(t, "PidsLimit", *hc.PidsLimit, int64(100))
			want(t, "ShmSize", hc.ShmSize, int64(64<<20))
			want(t, "OomKillDisable", *hc.OomKillDisable, true)
			want(t, "OomScoreAdj", hc.OomScoreAdj, 100)
			want(t, "MemorySwappiness", *hc.MemorySwappiness, int64(10))
		}},
		{"ulimits and sysctls", []string{"--ulimit", "nproc=100", "--ulimit", "nofile=1024:2048", "--sysctl", "net.ipv4.ip_forward=1", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Ulimits", cfg.HostConfig.Ulimits, []*container.Ulimit{{Name: "nofile", Soft: 1024, Hard: 2048}, {Name: "nproc", Soft: 100, Hard: 100}})
			want(t, "Sysctls", cfg.HostConfig.Sysctls, map[string]string{"net.ipv4.ip_forward": "1"})
		}},
		{"namespaces", []string{"--pid", "host", "--ipc", "host", "--uts", "host", "--userns", "host", "--cgroupns", "private", "--group-add", "audio", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			hc := cfg.HostConfig
			want(t, "modes", []string{string(hc.PidMode), string(hc.IpcMode), string(hc.UTSMode), string(hc.UsernsMode), string(hc.CgroupnsMode)}, []string{"host", "host", "host", "host", "private"})
			want(t, "GroupAdd", hc.GroupAdd, []string{"audio"})
		}},
		{"stop", []string{"--stop-signal", "SIGINT", "--stop-timeout", "0", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "StopSignal", cfg.Config.StopSignal, "SIGINT")
			want(t, "StopTimeout", cfg.Config.StopTimeout, ptr(0))
		}},
		{"healthcheck", []string{"--health-cmd", "true", "--health-interval", "5s", "--health-retries", "3", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Healthcheck", cfg.Config.Healthcheck, &container.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 5 * time.Second, Retries: 3})
		}},
		{"no healthcheck", []string{"--no-healthcheck", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Healthcheck", cfg.Config.Healthcheck, &container.HealthConfig{Test: []string{"NONE"}})
		}},
		{"init and runtime", []string{"--init=false", "--runtime", "crun", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Init", cfg.HostConfig.Init, ptr(false))
			want(t, "Runtime", cfg.HostConfig.Runtime, "crun")
		}},
		{"devices", []string{"--device", "/dev/null", "--device", "/dev/zero:/dev/z:r", "--device", "vendor.com/gpu=0", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Devices", cfg.HostConfig.Devices, []container.DeviceMapping{
				{PathOnHost: "/dev/null", PathInContainer: "/dev/null", CgroupPermissions: "rwm"},
				{PathOnHost: "/dev/zero", PathInContainer: "/dev/z", CgroupPermissions: "r"},
			})
			want(t, "DeviceRequests", cfg.HostConfig.DeviceRequests, []container.DeviceRequest{{Driver: "cdi", DeviceIDs: []string{"vendor.com/gpu=0"}}})
		}},
		{"block io", []string{"--blkio-weight", "300", "--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb", "--device-write-iops", "/dev/sda:100", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			hc := cfg.HostConfig
			want(t, "BlkioWeight", hc.BlkioWeight, uint16(300))
			want(t, "BlkioWeightDevice", hc.BlkioWeightDevice, []*blkiodev.WeightDevice{{Path: "/dev/sda", Weight: 200}})
			want(t, "BlkioDeviceReadBps", hc.BlkioDeviceReadBps, []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 1 << 20}})
			want(t, "BlkioDeviceWriteIOps", hc.BlkioDeviceWriteIOps, []*blkiodev.ThrottleDevice{{Path: "/dev/sda", Rate: 100}})
		}},
		{"annotations", []string{"--annotation", "a=b", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "Annotations", cfg.HostConfig.Annotations, map[string]string{"a": "b"})
		}},
		{"gpus", []string{"--gpus", "all", "busybox"}, func(t *testing.T, cfg *containerConfig) {
			want(t, "DeviceRequests", cfg.HostConfig.DeviceRequests, []container.DeviceRequest{{Count: -1, Capabilities: [][]string{{"gpu"}}, Options: map[string]string{}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParseRun(t, tt.args...))
		})
	}
}

func want[T any](t *testing.T, what string, got, expected T) {
	t.Helper()
	if !reflect.DeepEqual(got, expected) {
		t.Errorf("%s: got %#v, want %#v", what, got, expected)
	}
}

// TestParseContainerOptionsErrors checks docker 28's messages for bad
// values, as printed after "docker: " (parse errors) or by the flag
// parser (flag errors).
func TestParseContainerOptionsErrors(t *testing.T) {
	tests := []struct {
		args []string
		err  string
	}{
		{[]string{"-p", "x", "busybox"}, "invalid containerPort: x"},
		{[]string{"-p", "80:80:80:80", "busybox"}, "invalid IP address: 80:80"},
		{[]string{"-p", "1-3:4-5", "busybox"}, "invalid ranges specified for container and host Ports: 4-5 and 1-3"},
		{[]string{"-p", "0.0.0.0:x:80", "busybox"}, "invalid hostPort: x"},
		{[]string{"-p", "", "busybox"}, "no port specified: <empty>"},
		{[]string{"-p", "80/foo", "busybox"}, "invalid proto: foo"},
		{[]string{"-p", "foo=bar", "busybox"}, "no port specified: :/tcp<empty>"},
		{[]string{"--expose", "1:2", "busybox"}, "invalid port format for --expose: 1:2"},
		{[]string{"--expose", "x", "busybox"}, `invalid range format for --expose: x, error: strconv.ParseUint: parsing "x": invalid syntax`},
		{[]string{"--restart", "always", "--rm", "busybox"}, "conflicting options: cannot specify both --restart and --rm"},
		{[]string{"--restart", "on-failure:x", "busybox"}, "invalid restart policy format: maximum retry count must be an integer"},
		{[]string{"--restart", ":3", "busybox"}, "invalid restart policy format: no policy provided before colon"},
		{[]string{"-v", ":/x", "busybox"}, "invalid spec: :/x: empty section between colons"},
		{[]string{"-v", "", "busybox"}, "invalid empty volume spec"},
		{[]string{"--env-file", "/nonexistent/env", "busybox"}, "open /nonexistent/env: no such file or directory"},
		{[]string{"--security-opt", "foo", "busybox"}, `Invalid --security-opt: "foo"`},
		{[]string{"--storage-opt", "foo", "busybox"}, "invalid storage option"},
		{[]string{"--health-interval=-1s", "busybox"}, "--health-interval cannot be negative"},
		{[]string{"--no-healthcheck", "--health-cmd", "x", "busybox"}, "--no-healthcheck conflicts with --health-* options"},
		{[]string{"--device", "/dev/null:rel", "busybox"}, "rel is not an absolute path"},
		{[]string{"--device", "/dev/null:/x:rwx", "busybox"}, "bad mode specified: rwx"},
		{[]string{"--pid", "foo", "busybox"}, "--pid: invalid PID mode"},
		{[]string{"--uts", "foo", "busybox"}, "--uts: invalid UTS mode"},
		{[]string{"--userns", "foo", "busybox"}, "--userns: invalid USER mode"},
		{[]string{"--cgroupns", "foo", "busybox"}, "--cgroupns: invalid CGROUP mode"},
		{[]string{"--log-driver", "none", "--log-opt", "a=b", "busybox"}, "invalid logging opts for driver none"},
		{[]string{"--mac-address", "x", "busybox"}, "x is not a valid mac address"},
		{[]string{"--memory-swappiness", "200", "busybox"}, "invalid value: 200. Valid memory swappiness range is 0-100"},
		{[]string{"--network-alias", "x", "busybox"}, "network-scoped aliases are only supported for user-defined networks"},
		{[]string{"--network", "bridge", "--network", "bridge", "busybox"}, `network "bridge" is specified multiple times`},
		{[]string{"--network", "none", "--network", "mynet", "busybox"}, "conflicting options: cannot attach both user-defined and non-user-defined network-modes"},
		{[]string{"--ip", "x", "busybox"}, "invalid IPv4 address: x"},
		// Flag values rejected while parsing, in pflag's words.
		{[]string{"-m", "1x", "busybox"}, `invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'`},
		{[]string{"--cpus", "x", "busybox"}, `invalid argument "x" for "--cpus" flag: failed to parse x as a rational number`},
		{[]string{"--ulimit", "x", "busybox"}, `invalid argument "x" for "--ulimit" flag: invalid ulimit argument: x`},
		{[]string{"--mount", "type=foo", "busybox"}, `invalid argument "type=foo" for "--mount" flag: target is required`},
		{[]string{"--mount", "foo", "busybox"}, `invalid argument "foo" for "--mount" flag: invalid field 'foo' must be a key=value pair`},
		{[]string{"--mount", "type=tmpfs,target=/x,foo=bar", "busybox"}, `invalid argument "type=tmpfs,target=/x,foo=bar" for "--mount" flag: unexpected key 'foo' in 'foo=bar'`},
		{[]string{"--mount", "type=bind,target=/x,ro=maybe", "busybox"}, `invalid argument "type=bind,target=/x,ro=maybe" for "--mount" flag: invalid value for ro: maybe`},
		{[]string{"--mount", "type=bind,target=/x,tmpfs-size=1", "busybox"}, `invalid argument "type=bind,target=/x,tmpfs-size=1" for "--mount" flag: cannot mix 'tmpfs-*' options with mount type 'bind'`},
		{[]string{"--add-host", "x", "busybox"}, `invalid argument "x" for "--add-host" flag: bad format for add-host: "x"`},
		{[]string{"-e", "=x", "busybox"}, `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x`},
		{[]string{"-l", "=x", "busybox"}, `invalid argument "=x" for "-l, --label" flag: invalid label '=x': empty name`},
		{[]string{"--sysctl", "kernel.x=1", "busybox"}, `invalid argument "kernel.x=1" for "--sysctl" flag: sysctl 'kernel.x=1' is not allowed`},
		{[]string{"--gpus", "x", "busybox"}, `invalid argument "x" for "--gpus" flag: invalid count (x): value must be either "all" or an integer: invalid syntax`},
		{[]string{"-a", "foo", "busybox"}, `invalid argument "foo" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`},
		{[]string{"--dns", "x", "busybox"}, `invalid argument "x" for "--dns" flag: IP address is not correctly formatted: x`},
		{[]string{"--device-cgroup-rule", "foo", "busybox"}, `invalid argument "foo" for "--device-cgroup-rule" flag: invalid device cgroup format 'foo'`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, err := parseRunArgs(t, tt.args...)
			if err == nil {
				t.Fatalf("no error, want %q", tt.err)
			}
			if err.Error() != tt.err {
				t.Errorf("error:\n got  %q\n want %q", err.Error(), tt.err)
			}
		})
	}
}

func TestParsePlatformSpecifier(t *testing.T) {
	tests := []struct {
		in, os, arch, variant, err string
	}{
		{in: "linux/amd64", os: "linux", arch: "amd64"},
		{in: "linux/x86_64", os: "linux", arch: "amd64"},
		{in: "linux/arm64/v8", os: "linux", arch: "arm64", variant: "v8"},
		{in: "linux/aarch64", os: "linux", arch: "arm64"},
		{in: "linux/arm", os: "linux", arch: "arm"},
		{in: "linux/arm/v6", os: "linux", arch: "arm", variant: "v6"},
		{in: "arm64", os: "linux", arch: "arm64"},
		{in: "foo", err: `"foo": unknown operating system or architecture: invalid argument`},
		{in: "a/b/c/d", err: `"a/b/c/d": cannot parse platform specifier: invalid argument`},
	}
	for _, tt := range tests {
		p, err := parsePlatformSpecifier(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || p.OS != tt.os || p.Architecture != tt.arch || p.Variant != tt.variant {
			t.Errorf("%s: got %+v, %v", tt.in, p, err)
		}
	}
}
