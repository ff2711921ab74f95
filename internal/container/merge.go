package container

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/signals"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// mergeImageConfig fills the container config from the image config the
// way Docker does: the user's values win; Env, Labels, ExposedPorts and
// Volumes are unions; Cmd comes from the image only when the user gave
// neither an entrypoint nor a command, and an explicitly empty
// entrypoint (--entrypoint "") keeps the image's out.
func mergeImageConfig(cfg *containertypes.Config, img *dockerspec.DockerOCIImageConfig) error {
	if cfg.User == "" {
		cfg.User = img.User
	}
	if len(img.ExposedPorts) > 0 {
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = network.PortSet{}
		}
		for p := range img.ExposedPorts {
			port, err := network.ParsePort(p)
			if err != nil {
				return fmt.Errorf("image exposes an invalid port %q: %w", p, err)
			}
			cfg.ExposedPorts[port] = struct{}{}
		}
	}
	if len(cfg.Env) == 0 {
		cfg.Env = slices.Clone(img.Env)
	} else {
		for _, ie := range img.Env {
			key, _, _ := strings.Cut(ie, "=")
			found := false
			for _, ue := range cfg.Env {
				if k, _, _ := strings.Cut(ue, "="); k == key {
					found = true
					break
				}
			}
			if !found {
				cfg.Env = append(cfg.Env, ie)
			}
		}
	}
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	for k, v := range img.Labels {
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = slices.Clone(img.Cmd)
			cfg.ArgsEscaped = img.ArgsEscaped
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = slices.Clone(img.Entrypoint)
		}
	}
	if img.Healthcheck != nil {
		if cfg.Healthcheck == nil {
			hc := *img.Healthcheck
			cfg.Healthcheck = &hc
		} else {
			h := cfg.Healthcheck
			if len(h.Test) == 0 {
				h.Test = img.Healthcheck.Test
			}
			if h.Interval == 0 {
				h.Interval = img.Healthcheck.Interval
			}
			if h.Timeout == 0 {
				h.Timeout = img.Healthcheck.Timeout
			}
			if h.StartPeriod == 0 {
				h.StartPeriod = img.Healthcheck.StartPeriod
			}
			if h.StartInterval == 0 {
				h.StartInterval = img.Healthcheck.StartInterval
			}
			if h.Retries == 0 {
				h.Retries = img.Healthcheck.Retries
			}
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = img.WorkingDir
	}
	if len(cfg.Volumes) == 0 {
		cfg.Volumes = maps.Clone(img.Volumes)
	} else {
		maps.Copy(cfg.Volumes, img.Volumes)
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = img.StopSignal
	}
	if len(cfg.OnBuild) == 0 {
		cfg.OnBuild = slices.Clone(img.OnBuild)
	}
	if len(cfg.Shell) == 0 {
		cfg.Shell = slices.Clone(img.Shell)
	}
	// [""] means "no entrypoint".
	if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil
	}
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return errors.New("no command specified")
	}
	return nil
}

// entrypointAndArgs splits entrypoint+cmd into the program and its args.
func entrypointAndArgs(entrypoint, cmd []string) (string, []string) {
	all := append(slices.Clone(entrypoint), cmd...)
	return all[0], all[1:]
}

// validateConfig checks the container config (400 on error).
func validateConfig(cfg *containertypes.Config) error {
	if cfg.WorkingDir != "" {
		if !path.IsAbs(cfg.WorkingDir) {
			return fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", cfg.WorkingDir)
		}
		cfg.WorkingDir = path.Clean(cfg.WorkingDir)
	}
	if cfg.StopSignal != "" {
		if _, err := signals.Parse(cfg.StopSignal); err != nil {
			return err
		}
	}
	for _, e := range cfg.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" {
			return fmt.Errorf("invalid environment variable: %s", e)
		}
	}
	if h := cfg.Healthcheck; h != nil {
		min := containertypes.MinimumDuration
		switch {
		case h.Interval != 0 && h.Interval < min:
			return fmt.Errorf("Interval in Healthcheck cannot be less than %s", min)
		case h.Timeout != 0 && h.Timeout < min:
			return fmt.Errorf("Timeout in Healthcheck cannot be less than %s", min)
		case h.Retries < 0:
			return errors.New("Retries in Healthcheck cannot be negative")
		case h.StartPeriod != 0 && h.StartPeriod < min:
			return fmt.Errorf("StartPeriod in Healthcheck cannot be less than %s", min)
		case h.StartInterval != 0 && h.StartInterval < min:
			return fmt.Errorf("StartInterval in Healthcheck cannot be less than %s", min)
		}
	}
	return nil
}

// validateHostConfig checks the host config the way Docker's
// verifyContainerSettings does, with its messages (400 on error). It
// returns warnings for settings that are accepted but have no effect.
func validateHostConfig(hc *containertypes.HostConfig) (warnings []string, err error) {
	if hc.AutoRemove && !hc.RestartPolicy.IsNone() {
		return nil, errors.New("can't create 'AutoRemove' container with restart policy")
	}
	if err := containertypes.ValidateRestartPolicy(hc.RestartPolicy); err != nil {
		return nil, err
	}
	for port, bindings := range hc.PortBindings {
		if !port.IsValid() {
			return nil, fmt.Errorf("invalid port specification: %q", port.String())
		}
		for _, b := range bindings {
			if b.HostPort == "" {
				continue
			}
			if _, err := network.ParsePortRange(b.HostPort); err != nil {
				return nil, fmt.Errorf("invalid port specification: %q", b.HostPort)
			}
		}
	}
	for k := range hc.Annotations {
		if k == "" {
			return nil, errors.New("invalid Annotations: the empty string is not permitted as an annotation key")
		}
	}
	switch {
	case !hc.IpcMode.Valid():
		return nil, fmt.Errorf("invalid IPC mode: %v", hc.IpcMode)
	case !hc.PidMode.Valid():
		return nil, fmt.Errorf("invalid PID mode: %v", hc.PidMode)
	case !hc.UTSMode.Valid():
		return nil, fmt.Errorf("invalid UTS mode: %v", hc.UTSMode)
	case !hc.CgroupnsMode.Valid():
		return nil, fmt.Errorf("invalid cgroup namespace mode: %v", hc.CgroupnsMode)
	case hc.ShmSize < 0:
		return nil, errors.New("SHM size can not be less than 0")
	case hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000:
		return nil, fmt.Errorf("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if w, err := validateResources(&hc.Resources); err != nil {
		return nil, err
	} else {
		warnings = append(warnings, w...)
	}
	if hc.NetworkMode.IsHost() && len(hc.PortBindings) > 0 {
		warnings = append(warnings, "Published ports are discarded when using host network mode")
	}
	return warnings, nil
}

const minMemory = 6 * 1024 * 1024

// validateResources checks resource limits (create and update).
func validateResources(r *containertypes.Resources) (warnings []string, err error) {
	switch {
	case r.Memory != 0 && r.Memory < minMemory:
		return nil, errors.New("Minimum memory limit allowed is 6MB")
	case r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory:
		return nil, errors.New("Minimum memoryswap limit should be larger than memory limit, see usage")
	case r.Memory == 0 && r.MemorySwap > 0:
		return nil, errors.New("You should always set the Memory limit when using Memoryswap limit, see usage")
	case r.MemorySwappiness != nil && *r.MemorySwappiness != -1 && (*r.MemorySwappiness < 0 || *r.MemorySwappiness > 100):
		return nil, fmt.Errorf("Invalid value: %v, valid memory swappiness range is 0-100", *r.MemorySwappiness)
	case r.MemoryReservation != 0 && r.MemoryReservation < minMemory:
		return nil, errors.New("Minimum memory reservation allowed is 6MB")
	case r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation:
		return nil, errors.New("Minimum memory limit can not be less than memory reservation limit, see usage")
	case r.NanoCPUs > 0 && r.CPUPeriod > 0:
		return nil, errors.New("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	case r.NanoCPUs > 0 && r.CPUQuota > 0:
		return nil, errors.New("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	case r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000):
		return nil, errors.New("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	case r.CPUQuota > 0 && r.CPUQuota < 1000:
		return nil, errors.New("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	case r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000):
		return nil, errors.New("Range of blkio weight is from 10 to 1000")
	}
	if r.NanoCPUs != 0 {
		n := int64(runtime.NumCPU())
		if r.NanoCPUs < 0 || r.NanoCPUs > n*1e9 {
			return nil, fmt.Errorf("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", n)
		}
	}
	return nil, nil
}

// applyHostConfigDefaults fills what Docker fills at create, so that
// inspect shows the same values.
func applyHostConfigDefaults(hc *containertypes.HostConfig, cgroup2 bool) {
	if hc.RestartPolicy.Name == "" {
		hc.RestartPolicy.Name = containertypes.RestartPolicyDisabled
	}
	if hc.NetworkMode == "" || hc.NetworkMode == network.NetworkDefault {
		hc.NetworkMode = network.NetworkBridge
	}
	if hc.Memory > 0 && hc.MemorySwap == 0 {
		hc.MemorySwap = hc.Memory * 2
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = 64 * 1024 * 1024
	}
	if hc.IpcMode == "" {
		hc.IpcMode = containertypes.IPCModePrivate
	}
	if hc.CgroupnsMode == "" {
		hc.CgroupnsMode = containertypes.CgroupnsModeHost
		if cgroup2 {
			hc.CgroupnsMode = containertypes.CgroupnsModePrivate
		}
	}
	if hc.OomKillDisable == nil && !cgroup2 {
		f := false
		hc.OomKillDisable = &f
	}
	if hc.PidsLimit != nil && *hc.PidsLimit <= 0 {
		hc.PidsLimit = nil
	}
	// -1 is the API's "unset" (Docker's fixMemorySwappiness).
	if hc.MemorySwappiness != nil && *hc.MemorySwappiness == -1 {
		hc.MemorySwappiness = nil
	}
}

// networkName is the name a network mode's endpoint is listed under in
// NetworkSettings.Networks.
func networkName(mode containertypes.NetworkMode) string {
	switch {
	case mode == "" || mode == network.NetworkDefault:
		return network.NetworkBridge
	case mode.IsContainer():
		return ""
	}
	return string(mode)
}

// commandString is the COMMAND column of `docker ps`.
func commandString(path string, args []string) string {
	if len(args) == 0 {
		return path
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		quoted[i] = a
	}
	return path + " " + strings.Join(quoted, " ")
}

// shortID is the 12-character form of an ID.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
