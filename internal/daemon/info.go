package daemon

import (
	"context"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/config"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"
)

// systemInfo answers /info and /version from the configuration, the host
// and the counts the services report.
type systemInfo struct {
	cfg    *config.Config
	events *events.Bus
	// counts returns container totals (all, running, paused, stopped) and
	// the number of images; nil until the services are wired.
	counts func(ctx context.Context) (all, running, paused, stopped, images int)
}

func kernelVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func operatingSystem() (name, version string) {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux", ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(v, `"`)
		switch k {
		case "PRETTY_NAME":
			name = v
		case "VERSION_ID":
			version = v
		}
	}
	return name, version
}

func (s *systemInfo) Version(ctx context.Context) system.VersionResponse {
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth"},
		Version:       Version,
		APIVersion:    apiVersion(),
		MinAPIVersion: minAPIVersion(),
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		KernelVersion: kernelVersion(),
		GitCommit:     "berth",
		BuildTime:     buildTime,
		Components: []system.ComponentVersion{{
			Name: "Engine", Version: Version,
			Details: map[string]string{"ApiVersion": apiVersion(), "MinAPIVersion": minAPIVersion(), "Os": runtime.GOOS, "Arch": runtime.GOARCH,
				"KernelVersion": kernelVersion(), "GoVersion": runtime.Version(), "GitCommit": "berth", "BuildTime": buildTime, "Experimental": "false"},
		}},
	}
}

func (s *systemInfo) Info(ctx context.Context) (*system.Info, error) {
	hostname, _ := os.Hostname()
	osName, osVersion := operatingSystem()
	var si unix.Sysinfo_t
	_ = unix.Sysinfo(&si)
	info := &system.Info{
		ID:                 "berth",
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", "extfs"}, {"Supports d_type", "true"}},
		MemoryLimit:        true,
		CPUCfsPeriod:       true,
		CPUCfsQuota:        true,
		CPUShares:          true,
		CPUSet:             true,
		PidsLimit:          true,
		IPv4Forwarding:     true,
		Debug:              s.cfg.LogLevel == "debug",
		NGoroutines:        runtime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      s.cfg.LogConfig.Type,
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cgroupVersion(),
		KernelVersion:      kernelVersion(),
		OperatingSystem:    osName,
		OSVersion:          osVersion,
		OSType:             runtime.GOOS,
		Architecture:       unameMachine(),
		IndexServerAddress: "https://index.docker.io/v1/",
		NCPU:               runtime.NumCPU(),
		MemTotal:           int64(si.Totalram) * int64(si.Unit),
		DockerRootDir:      s.cfg.DataRoot,
		Name:               hostname,
		ServerVersion:      Version,
		DefaultRuntime:     s.cfg.DefaultRuntime,
		Runtimes:           map[string]system.RuntimeWithStatus{},
		LiveRestoreEnabled: true,
		Isolation:          "",
		SecurityOptions:    []string{"name=seccomp,profile=builtin"},
	}
	info.Swarm.LocalNodeState = "inactive"
	info.Plugins.Log = []string{"json-file", "local", "none"}
	info.Plugins.Network = []string{"bridge", "host", "none"}
	info.Plugins.Volume = []string{"local"}
	for name, rt := range s.cfg.Runtimes {
		info.Runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: rt.Path, Args: rt.Args}}
	}
	if s.counts != nil {
		info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped, info.Images = s.counts(ctx)
	}
	return info, nil
}

func unameMachine() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return runtime.GOARCH
	}
	return unix.ByteSliceToString(u.Machine[:])
}

// cgroupVersion is "2" on a unified hierarchy, "1" otherwise.
func cgroupVersion() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func apiVersion() string    { return httputils.APIVersion }
func minAPIVersion() string { return httputils.MinAPIVersion }

// buildTime is when this daemon started; berth is built from source and
// carries no build stamp.
var buildTime = time.Now().UTC().Format(time.RFC3339)
