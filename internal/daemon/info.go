package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/config"
	ctr "github.com/berth-dev/berth/internal/container"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/logs"
	"github.com/berth-dev/berth/internal/server/httputils"
	"github.com/berth-dev/berth/internal/volume"
	containertypes "github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
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
	// registries gives the registry configuration /info shows.
	registries func() *registry.ServiceConfig

	once        sync.Once
	engineID    string
	runcVersion string
	backingFS   string
}

// hostFacts are read once: they cost a file write or a process.
func (s *systemInfo) hostFacts() {
	s.once.Do(func() {
		s.engineID = engineID(s.cfg.DataRoot)
		s.backingFS = backingFilesystem(s.cfg.DataRoot)
		rt := s.cfg.Runtimes[s.cfg.DefaultRuntime].Path
		if out, err := exec.Command(rt, "--version").Output(); err == nil {
			// "runc version 1.1.5+ds1\ncommit: ..." → "1.1.5+ds1"
			if f := strings.Fields(string(out)); len(f) >= 3 {
				s.runcVersion = f[2]
			}
		}
	})
}

// engineID is the daemon's stable identity (Docker's "ID" in info),
// generated once and kept in the data root.
func engineID(dataRoot string) string {
	path := filepath.Join(dataRoot, "engine-id")
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b))
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // UUID version 4
	b[8] = b[8]&0x3f | 0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	_ = atomicfile.WriteFile(path, []byte(id+"\n"), 0o600, true)
	return id
}

// backingFilesystem names the data root's filesystem as Docker's overlay2
// driver reports it.
func backingFilesystem(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "<unknown>"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "extfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlayfs"
	}
	return fmt.Sprintf("<unknown: 0x%x>", st.Type)
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
	s.hostFacts()
	info := &system.Info{
		ID:                 s.engineID,
		Driver:             "overlay2",
		DriverStatus:       [][2]string{{"Backing Filesystem", s.backingFS}, {"Supports d_type", "true"}, {"Using metacopy", "false"}, {"Native Overlay Diff", "true"}, {"userxattr", "false"}},
		RuncCommit:         system.Commit{ID: s.runcVersion},
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
	info.Plugins.Log = logs.Drivers()
	info.Plugins.Network = []string{"bridge", "host", "none"}
	info.Plugins.Volume = []string{"local"}
	for name, rt := range s.cfg.Runtimes {
		info.Runtimes[name] = system.RuntimeWithStatus{Runtime: system.Runtime{Path: rt.Path, Args: rt.Args}}
	}
	if s.registries != nil {
		info.RegistryConfig = s.registries()
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

// diskUsage answers /system/df from the image and container services.
type diskUsage struct {
	images     *image.Service
	containers *ctr.Service
	volumes    *volume.Service
}

func (d diskUsage) ImageDiskUsage(ctx context.Context) (int64, []imagetypes.Summary, int64, error) {
	du, err := d.images.DiskUsage(ctx)
	if err != nil {
		return 0, nil, 0, err
	}
	return du.LayersSize, du.Images, du.Reclaimable, nil
}

func (d diskUsage) ContainerDiskUsage(ctx context.Context) ([]containertypes.Summary, error) {
	return d.containers.List(ctx, ctr.ListOptions{All: true, Size: true, Filters: filters.Args{}})
}
