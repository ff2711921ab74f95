package cli

// The flags of run and create, and their translation into the Engine API's
// container.Config, HostConfig and NetworkingConfig. This follows the
// docker CLI 28 (cli/command/container/opts.go, Apache-2.0) field by field:
// the same flags must produce the same create request, and bad values the
// same messages.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// containerOptions holds the parsed flags of run and create.
type containerOptions struct {
	attach            listOpts
	volumes           listOpts
	tmpfs             listOpts
	mounts            mountOpt
	blkioWeightDevice weightDeviceOpt
	deviceReadBps     throttleDeviceOpt
	deviceWriteBps    throttleDeviceOpt
	deviceReadIOps    throttleDeviceOpt
	deviceWriteIOps   throttleDeviceOpt
	links             listOpts
	aliases           listOpts
	linkLocalIPs      listOpts
	env               listOpts
	labels            listOpts
	deviceCgroupRules listOpts
	devices           listOpts
	gpus              gpuOpts
	ulimits           *ulimitOpt
	sysctls           *mapOpts
	publish           listOpts
	expose            listOpts
	dns               listOpts
	dnsSearch         listOpts
	dnsOptions        listOpts
	extraHosts        listOpts
	volumesFrom       listOpts
	envFile           listOpts
	capAdd            listOpts
	capDrop           listOpts
	groupAdd          listOpts
	securityOpt       listOpts
	storageOpt        listOpts
	labelsFile        listOpts
	loggingOpts       listOpts
	annotations       *mapOpts

	privileged          bool
	pidMode             string
	utsMode             string
	usernsMode          string
	cgroupnsMode        string
	publishAll          bool
	stdin               bool
	tty                 bool
	oomKillDisable      bool
	oomScoreAdj         int
	containerIDFile     string
	entrypoint          string
	hostname            string
	domainname          string
	memory              memBytes
	memoryReservation   memBytes
	memorySwap          memSwapBytes
	kernelMemory        memBytes
	user                string
	workingDir          string
	cpuCount            int64
	cpuShares           int64
	cpuPercent          int64
	cpuPeriod           int64
	cpuRealtimePeriod   int64
	cpuRealtimeRuntime  int64
	cpuQuota            int64
	cpus                nanoCPUs
	cpusetCpus          string
	cpusetMems          string
	blkioWeight         uint16
	ioMaxBandwidth      memBytes
	ioMaxIOps           uint64
	swappiness          int64
	netMode             networkOpt
	macAddress          string
	ipv4Address         string
	ipv6Address         string
	ipcMode             string
	pidsLimit           int64
	restartPolicy       string
	readonlyRootfs      bool
	loggingDriver       string
	cgroupParent        string
	volumeDriver        string
	stopSignal          string
	stopTimeout         int
	isolation           string
	shmSize             memBytes
	noHealthcheck       bool
	healthCmd           string
	healthInterval      time.Duration
	healthTimeout       time.Duration
	healthStartPeriod   time.Duration
	healthStartInterval time.Duration
	healthRetries       int
	runtime             string
	autoRemove          bool
	init                bool

	Image string
	Args  []string
}

// setImageAndArgs takes run's and create's IMAGE [COMMAND] [ARG...].
func (copts *containerOptions) setImageAndArgs(args []string) {
	copts.Image = args[0]
	if len(args) > 1 {
		copts.Args = args[1:]
	}
}

// addContainerFlags registers the flags run and create share.
func addContainerFlags(flags *pflag.FlagSet) *containerOptions {
	copts := &containerOptions{
		aliases:           newListOpts(nil),
		attach:            newListOpts(validateAttach),
		capAdd:            newListOpts(nil),
		capDrop:           newListOpts(nil),
		dns:               newListOpts(validateIPAddress),
		dnsOptions:        newListOpts(nil),
		dnsSearch:         newListOpts(validateDNSSearch),
		deviceCgroupRules: newListOpts(validateDeviceCgroupRule),
		deviceReadBps:     throttleDeviceOpt{bps: true},
		deviceWriteBps:    throttleDeviceOpt{bps: true},
		devices:           newListOpts(nil), // validated once the daemon's OS is known
		env:               newListOpts(validateEnv),
		envFile:           newListOpts(nil),
		expose:            newListOpts(nil),
		extraHosts:        newListOpts(validateExtraHost),
		groupAdd:          newListOpts(nil),
		labels:            newListOpts(validateLabel),
		labelsFile:        newListOpts(nil),
		linkLocalIPs:      newListOpts(nil),
		links:             newListOpts(validateLink),
		loggingOpts:       newListOpts(nil),
		publish:           newListOpts(nil),
		securityOpt:       newListOpts(nil),
		storageOpt:        newListOpts(nil),
		sysctls:           newMapOpts(validateSysctl),
		tmpfs:             newListOpts(nil),
		ulimits:           newUlimitOpt(),
		volumes:           newListOpts(nil),
		volumesFrom:       newListOpts(nil),
		annotations:       newMapOpts(nil),
	}

	// General purpose
	flags.VarP(&copts.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	flags.Var(&copts.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	flags.Var(&copts.devices, "device", "Add a host device to the container")
	flags.Var(&copts.gpus, "gpus", "GPU devices to add to the container ('all' to pass all GPUs)")
	flags.VarP(&copts.env, "env", "e", "Set environment variables")
	flags.Var(&copts.envFile, "env-file", "Read in a file of environment variables")
	flags.StringVar(&copts.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	flags.Var(&copts.groupAdd, "group-add", "Add additional groups to join")
	flags.StringVarP(&copts.hostname, "hostname", "h", "", "Container host name")
	flags.StringVar(&copts.domainname, "domainname", "", "Container NIS domain name")
	flags.BoolVarP(&copts.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	flags.VarP(&copts.labels, "label", "l", "Set meta data on a container")
	flags.Var(&copts.labelsFile, "label-file", "Read in a line delimited file of labels")
	flags.BoolVar(&copts.readonlyRootfs, "read-only", false, "Mount the container's root filesystem as read only")
	flags.StringVar(&copts.restartPolicy, "restart", string(container.RestartPolicyDisabled), "Restart policy to apply when a container exits")
	flags.StringVar(&copts.stopSignal, "stop-signal", "", "Signal to stop the container")
	flags.IntVar(&copts.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	flags.Var(copts.sysctls, "sysctl", "Sysctl options")
	flags.BoolVarP(&copts.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	flags.Var(copts.ulimits, "ulimit", "Ulimit options")
	flags.StringVarP(&copts.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	flags.StringVarP(&copts.workingDir, "workdir", "w", "", "Working directory inside the container")
	flags.BoolVar(&copts.autoRemove, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")

	// Security
	flags.Var(&copts.capAdd, "cap-add", "Add Linux capabilities")
	flags.Var(&copts.capDrop, "cap-drop", "Drop Linux capabilities")
	flags.BoolVar(&copts.privileged, "privileged", false, "Give extended privileges to this container")
	flags.Var(&copts.securityOpt, "security-opt", "Security Options")
	flags.StringVar(&copts.usernsMode, "userns", "", "User namespace to use")
	flags.StringVar(&copts.cgroupnsMode, "cgroupns", "", `Cgroup namespace to use (host|private)
'host':    Run the container in the Docker host's cgroup namespace
'private': Run the container in its own private cgroup namespace
'':        Use the cgroup namespace as configured by the
           default-cgroupns-mode option on the daemon (default)`)

	// Network and port publishing
	flags.Var(&copts.extraHosts, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	flags.Var(&copts.dns, "dns", "Set custom DNS servers")
	// --dns-opt, --net and --net-alias are the old spellings, kept hidden.
	flags.Var(&copts.dnsOptions, "dns-opt", "Set DNS options")
	flags.Var(&copts.dnsOptions, "dns-option", "Set DNS options")
	_ = flags.MarkHidden("dns-opt")
	flags.Var(&copts.dnsSearch, "dns-search", "Set custom DNS search domains")
	flags.Var(&copts.expose, "expose", "Expose a port or a range of ports")
	flags.StringVar(&copts.ipv4Address, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	flags.StringVar(&copts.ipv6Address, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	flags.Var(&copts.links, "link", "Add link to another container")
	flags.Var(&copts.linkLocalIPs, "link-local-ip", "Container IPv4/IPv6 link-local addresses")
	flags.StringVar(&copts.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	flags.VarP(&copts.publish, "publish", "p", "Publish a container's port(s) to the host")
	flags.BoolVarP(&copts.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	flags.Var(&copts.netMode, "net", "Connect a container to a network")
	flags.Var(&copts.netMode, "network", "Connect a container to a network")
	_ = flags.MarkHidden("net")
	flags.Var(&copts.aliases, "net-alias", "Add network-scoped alias for the container")
	flags.Var(&copts.aliases, "network-alias", "Add network-scoped alias for the container")
	_ = flags.MarkHidden("net-alias")

	// Logging and storage
	flags.StringVar(&copts.loggingDriver, "log-driver", "", "Logging driver for the container")
	flags.StringVar(&copts.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	flags.Var(&copts.loggingOpts, "log-opt", "Log driver options")
	flags.Var(&copts.storageOpt, "storage-opt", "Storage driver options for the container")
	flags.Var(&copts.tmpfs, "tmpfs", "Mount a tmpfs directory")
	flags.Var(&copts.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	flags.VarP(&copts.volumes, "volume", "v", "Bind mount a volume")
	flags.Var(&copts.mounts, "mount", "Attach a filesystem mount to the container")

	// Health-checking
	flags.StringVar(&copts.healthCmd, "health-cmd", "", "Command to run to check health")
	flags.DurationVar(&copts.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	flags.IntVar(&copts.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	flags.DurationVar(&copts.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	flags.DurationVar(&copts.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	flags.DurationVar(&copts.healthStartInterval, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	flags.BoolVar(&copts.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")

	// Resource management
	flags.Uint16Var(&copts.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	flags.Var(&copts.blkioWeightDevice, "blkio-weight-device", "Block IO weight (relative device weight)")
	flags.StringVar(&copts.containerIDFile, "cidfile", "", "Write the container ID to the file")
	flags.StringVar(&copts.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	flags.StringVar(&copts.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	flags.Int64Var(&copts.cpuCount, "cpu-count", 0, "CPU count (Windows only)")
	flags.Int64Var(&copts.cpuPercent, "cpu-percent", 0, "CPU percent (Windows only)")
	flags.Int64Var(&copts.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	flags.Int64Var(&copts.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	flags.Int64Var(&copts.cpuRealtimePeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	flags.Int64Var(&copts.cpuRealtimeRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	flags.Int64VarP(&copts.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	flags.Var(&copts.cpus, "cpus", "Number of CPUs")
	flags.Var(&copts.deviceReadBps, "device-read-bps", "Limit read rate (bytes per second) from a device")
	flags.Var(&copts.deviceReadIOps, "device-read-iops", "Limit read rate (IO per second) from a device")
	flags.Var(&copts.deviceWriteBps, "device-write-bps", "Limit write rate (bytes per second) to a device")
	flags.Var(&copts.deviceWriteIOps, "device-write-iops", "Limit write rate (IO per second) to a device")
	flags.Var(&copts.ioMaxBandwidth, "io-maxbandwidth", "Maximum IO bandwidth limit for the system drive (Windows only)")
	flags.Uint64Var(&copts.ioMaxIOps, "io-maxiops", 0, "Maximum IOps limit for the system drive (Windows only)")
	flags.Var(&copts.kernelMemory, "kernel-memory", "Kernel memory limit")
	flags.VarP(&copts.memory, "memory", "m", "Memory limit")
	flags.Var(&copts.memoryReservation, "memory-reservation", "Memory soft limit")
	flags.Var(&copts.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	flags.Int64Var(&copts.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	flags.BoolVar(&copts.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	flags.IntVar(&copts.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	flags.Int64Var(&copts.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")

	// Low-level execution (cgroups, namespaces, ...)
	flags.StringVar(&copts.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	flags.StringVar(&copts.ipcMode, "ipc", "", "IPC mode to use")
	flags.StringVar(&copts.isolation, "isolation", "", "Container isolation technology")
	flags.StringVar(&copts.pidMode, "pid", "", "PID namespace to use")
	flags.Var(&copts.shmSize, "shm-size", "Size of /dev/shm")
	flags.StringVar(&copts.utsMode, "uts", "", "UTS namespace to use")
	flags.StringVar(&copts.runtime, "runtime", "", "Runtime to use for this container")
	flags.BoolVar(&copts.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	flags.Var(copts.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")

	return copts
}

// containerConfig is the body of POST /containers/create.
type containerConfig struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

const (
	seccompProfileDefault    = "builtin"
	seccompProfileUnconfined = "unconfined"
)

// parseContainerOptions turns the parsed flags into a create request.
// serverOS is the daemon's OSType from _ping; devices depend on it.
//
//nolint:gocyclo // a long, flat list of flags, kept in docker's order
func parseContainerOptions(flags *pflag.FlagSet, copts *containerOptions, serverOS string) (*containerConfig, error) {
	var (
		attachStdin  = copts.attach.Get("stdin")
		attachStdout = copts.attach.Get("stdout")
		attachStderr = copts.attach.Get("stderr")
	)

	if copts.macAddress != "" {
		if _, err := net.ParseMAC(strings.TrimSpace(copts.macAddress)); err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", copts.macAddress)
		}
	}
	if copts.stdin {
		attachStdin = true
	}
	// Without -a, attach stdout and stderr.
	if copts.attach.Len() == 0 {
		attachStdout = true
		attachStderr = true
	}

	swappiness := copts.swappiness
	if swappiness != -1 && (swappiness < 0 || swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", swappiness)
	}

	// -v with a source is a bind (or a named volume) and goes to Binds;
	// without one it is an anonymous volume and goes to Config.Volumes.
	var binds []string
	volumes := copts.volumes.GetMap()
	for _, spec := range copts.volumes.GetSlice() {
		if _, pending := volumes[spec]; !pending {
			continue // a duplicate, already handled
		}
		parsed, err := parseVolumeSpec(spec)
		if err != nil {
			return nil, err
		}
		if parsed.Source == "" {
			continue
		}
		toBind := spec
		if parsed.Type == string(mount.TypeBind) {
			if hostPart, targetPath, ok := strings.Cut(spec, ":"); ok {
				if !filepath.IsAbs(hostPart) && strings.HasPrefix(hostPart, ".") {
					if abs, err := filepath.Abs(hostPart); err == nil {
						hostPart = abs
					}
				}
				toBind = hostPart + ":" + targetPath
			}
		}
		binds = append(binds, toBind)
		delete(volumes, spec)
	}

	// --tmpfs options are checked by the daemon when it mounts.
	tmpfs := make(map[string]string)
	for _, t := range copts.tmpfs.GetSlice() {
		k, v, _ := strings.Cut(t, ":")
		tmpfs[k] = v
	}

	var runCmd, entrypoint []string
	if len(copts.Args) > 0 {
		runCmd = copts.Args
	}
	if copts.entrypoint != "" {
		entrypoint = []string{copts.entrypoint}
	} else if flags.Changed("entrypoint") {
		// --entrypoint="" resets the image's entrypoint.
		entrypoint = []string{""}
	}

	exposedPorts, portBindings, err := parsePorts(copts.publish.GetSlice(), copts.expose.GetSlice())
	if err != nil {
		return nil, err
	}

	devices := copts.devices.GetSlice()
	deviceMappings := make([]container.DeviceMapping, 0, len(devices))
	cdiDeviceNames := make([]string, 0, len(devices))
	for _, device := range devices {
		if isCDIDeviceName(device) {
			cdiDeviceNames = append(cdiDeviceNames, device)
			continue
		}
		mapping, err := parseDevice(device, serverOS)
		if err != nil {
			return nil, err
		}
		deviceMappings = append(deviceMappings, mapping)
	}

	envVariables, err := readKVEnvStrings(copts.envFile.GetSlice(), copts.env.GetSlice())
	if err != nil {
		return nil, err
	}
	labels, err := readKVLabelStrings(copts.labelsFile.GetSlice(), copts.labels.GetSlice())
	if err != nil {
		return nil, err
	}

	pidMode := container.PidMode(copts.pidMode)
	if !pidMode.Valid() {
		return nil, errors.New("--pid: invalid PID mode")
	}
	utsMode := container.UTSMode(copts.utsMode)
	if !utsMode.Valid() {
		return nil, errors.New("--uts: invalid UTS mode")
	}
	usernsMode := container.UsernsMode(copts.usernsMode)
	if !usernsMode.Valid() {
		return nil, errors.New("--userns: invalid USER mode")
	}
	cgroupnsMode := container.CgroupnsMode(copts.cgroupnsMode)
	if !cgroupnsMode.Valid() {
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}

	restartPolicy, err := parseRestartPolicy(copts.restartPolicy)
	if err != nil {
		return nil, err
	}

	loggingOpts := convertKVStringsToMap(copts.loggingOpts.GetSlice())
	if copts.loggingDriver == "none" && copts.loggingOpts.Len() > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", copts.loggingDriver)
	}

	securityOpts, err := parseSecurityOpts(copts.securityOpt.GetSlice())
	if err != nil {
		return nil, err
	}
	securityOpts, maskedPaths, readonlyPaths := parseSystemPaths(securityOpts)

	storageOpts, err := parseStorageOpts(copts.storageOpt.GetSlice())
	if err != nil {
		return nil, err
	}

	healthConfig, err := parseHealth(copts)
	if err != nil {
		return nil, err
	}

	deviceRequests := copts.gpus.Value()
	if len(cdiDeviceNames) > 0 {
		deviceRequests = append(deviceRequests, container.DeviceRequest{Driver: "cdi", DeviceIDs: cdiDeviceNames})
	}

	dns, err := parseAddrs(copts.dns.GetAllOrEmpty(), "DNS server")
	if err != nil {
		return nil, err
	}

	resources := container.Resources{
		CgroupParent:         copts.cgroupParent,
		Memory:               copts.memory.Value(),
		MemoryReservation:    copts.memoryReservation.Value(),
		MemorySwap:           copts.memorySwap.Value(),
		MemorySwappiness:     &copts.swappiness,
		OomKillDisable:       &copts.oomKillDisable,
		NanoCPUs:             copts.cpus.Value(),
		CPUCount:             copts.cpuCount,
		CPUPercent:           copts.cpuPercent,
		CPUShares:            copts.cpuShares,
		CPUPeriod:            copts.cpuPeriod,
		CpusetCpus:           copts.cpusetCpus,
		CpusetMems:           copts.cpusetMems,
		CPUQuota:             copts.cpuQuota,
		CPURealtimePeriod:    copts.cpuRealtimePeriod,
		CPURealtimeRuntime:   copts.cpuRealtimeRuntime,
		PidsLimit:            &copts.pidsLimit,
		BlkioWeight:          copts.blkioWeight,
		BlkioWeightDevice:    copts.blkioWeightDevice.GetList(),
		BlkioDeviceReadBps:   copts.deviceReadBps.GetList(),
		BlkioDeviceWriteBps:  copts.deviceWriteBps.GetList(),
		BlkioDeviceReadIOps:  copts.deviceReadIOps.GetList(),
		BlkioDeviceWriteIOps: copts.deviceWriteIOps.GetList(),
		IOMaximumIOps:        copts.ioMaxIOps,
		IOMaximumBandwidth:   uint64(copts.ioMaxBandwidth),
		Ulimits:              copts.ulimits.GetList(),
		DeviceCgroupRules:    copts.deviceCgroupRules.GetSlice(),
		Devices:              deviceMappings,
		DeviceRequests:       deviceRequests,
	}

	config := &container.Config{
		Hostname:     copts.hostname,
		Domainname:   copts.domainname,
		ExposedPorts: exposedPorts,
		User:         copts.user,
		Tty:          copts.tty,
		OpenStdin:    copts.stdin,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		Env:          envVariables,
		Cmd:          runCmd,
		Image:        copts.Image,
		Volumes:      volumes,
		Entrypoint:   entrypoint,
		WorkingDir:   copts.workingDir,
		Labels:       convertKVStringsToMap(labels),
		StopSignal:   copts.stopSignal,
		Healthcheck:  healthConfig,
	}
	if flags.Changed("stop-timeout") {
		config.StopTimeout = &copts.stopTimeout
	}

	hostConfig := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: copts.containerIDFile,
		OomScoreAdj:     copts.oomScoreAdj,
		AutoRemove:      copts.autoRemove,
		Privileged:      copts.privileged,
		PortBindings:    portBindings,
		Links:           copts.links.GetSlice(),
		PublishAllPorts: copts.publishAll,
		// Never nil: see moby/moby#17779.
		DNS:            dns,
		DNSSearch:      copts.dnsSearch.GetAllOrEmpty(),
		DNSOptions:     copts.dnsOptions.GetAllOrEmpty(),
		ExtraHosts:     copts.extraHosts.GetSlice(),
		VolumesFrom:    copts.volumesFrom.GetSlice(),
		IpcMode:        container.IpcMode(copts.ipcMode),
		NetworkMode:    container.NetworkMode(copts.netMode.NetworkMode()),
		PidMode:        pidMode,
		UTSMode:        utsMode,
		UsernsMode:     usernsMode,
		CgroupnsMode:   cgroupnsMode,
		CapAdd:         copts.capAdd.GetSlice(),
		CapDrop:        copts.capDrop.GetSlice(),
		GroupAdd:       copts.groupAdd.GetSlice(),
		RestartPolicy:  restartPolicy,
		SecurityOpt:    securityOpts,
		StorageOpt:     storageOpts,
		ReadonlyRootfs: copts.readonlyRootfs,
		LogConfig:      container.LogConfig{Type: copts.loggingDriver, Config: loggingOpts},
		VolumeDriver:   copts.volumeDriver,
		Isolation:      container.Isolation(copts.isolation),
		ShmSize:        copts.shmSize.Value(),
		Resources:      resources,
		Tmpfs:          tmpfs,
		Sysctls:        copts.sysctls.GetAll(),
		Runtime:        copts.runtime,
		Mounts:         copts.mounts.Value(),
		MaskedPaths:    maskedPaths,
		ReadonlyPaths:  readonlyPaths,
		Annotations:    copts.annotations.GetAll(),
	}

	if copts.autoRemove && !hostConfig.RestartPolicy.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	// Only send Init when the flag was given, so the daemon default applies.
	if flags.Changed("init") {
		hostConfig.Init = &copts.init
	}
	// An attached stdin closes the container's stdin when the client leaves.
	if config.OpenStdin && config.AttachStdin {
		config.StdinOnce = true
	}

	epCfg, err := parseNetworkOpts(copts)
	if err != nil {
		return nil, err
	}
	return &containerConfig{
		Config:           config,
		HostConfig:       hostConfig,
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: epCfg},
	}, nil
}

func parseHealth(copts *containerOptions) (*container.HealthConfig, error) {
	haveHealthSettings := copts.healthCmd != "" ||
		copts.healthInterval != 0 ||
		copts.healthTimeout != 0 ||
		copts.healthStartPeriod != 0 ||
		copts.healthRetries != 0 ||
		copts.healthStartInterval != 0
	if copts.noHealthcheck {
		if haveHealthSettings {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !haveHealthSettings {
		return nil, nil
	}
	var probe []string
	if copts.healthCmd != "" {
		probe = []string{"CMD-SHELL", copts.healthCmd}
	}
	switch {
	case copts.healthInterval < 0:
		return nil, errors.New("--health-interval cannot be negative")
	case copts.healthTimeout < 0:
		return nil, errors.New("--health-timeout cannot be negative")
	case copts.healthRetries < 0:
		return nil, errors.New("--health-retries cannot be negative")
	case copts.healthStartPeriod < 0:
		return nil, errors.New("--health-start-period cannot be negative")
	case copts.healthStartInterval < 0:
		return nil, errors.New("--health-start-interval cannot be negative")
	}
	return &container.HealthConfig{
		Test:          probe,
		Interval:      copts.healthInterval,
		Timeout:       copts.healthTimeout,
		StartPeriod:   copts.healthStartPeriod,
		StartInterval: copts.healthStartInterval,
		Retries:       copts.healthRetries,
	}, nil
}

// parseSecurityOpts checks key=value (or key:value) options and inlines a
// seccomp profile file, which the daemon cannot read.
func parseSecurityOpts(securityOpts []string) ([]string, error) {
	for i, opt := range securityOpts {
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			return securityOpts, fmt.Errorf("Invalid --security-opt: %q", opt) //nolint:staticcheck // docker's text
		}
		if k != "seccomp" || v == seccompProfileDefault || v == seccompProfileUnconfined {
			continue
		}
		f, err := os.ReadFile(v)
		if err != nil {
			return securityOpts, fmt.Errorf("opening seccomp profile (%s) failed: %v", v, err)
		}
		var b bytes.Buffer
		if err := json.Compact(&b, f); err != nil {
			return securityOpts, fmt.Errorf("compacting json for seccomp profile (%s) failed: %v", v, err)
		}
		securityOpts[i] = "seccomp=" + b.String()
	}
	return securityOpts, nil
}

// parseSystemPaths handles systempaths=unconfined on the client: it
// becomes empty MaskedPaths and ReadonlyPaths, and is not sent as such.
func parseSystemPaths(securityOpts []string) (filtered, maskedPaths, readonlyPaths []string) {
	filtered = securityOpts[:0]
	for _, opt := range securityOpts {
		if opt == "systempaths=unconfined" {
			maskedPaths = []string{}
			readonlyPaths = []string{}
		} else {
			filtered = append(filtered, opt)
		}
	}
	return filtered, maskedPaths, readonlyPaths
}

func parseStorageOpts(storageOpts []string) (map[string]string, error) {
	m := make(map[string]string)
	for _, option := range storageOpts {
		k, v, ok := strings.Cut(option, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		m[k] = v
	}
	return m, nil
}

func parseDevice(device, serverOS string) (container.DeviceMapping, error) {
	switch serverOS {
	case "linux":
		validated, err := validateDevicePath(device)
		if err != nil {
			return container.DeviceMapping{}, err
		}
		return parseLinuxDevice(validated)
	case "windows":
		return container.DeviceMapping{PathOnHost: device}, nil
	default:
		return container.DeviceMapping{}, fmt.Errorf("unknown server OS: %s", serverOS)
	}
}

func validateAttach(val string) (string, error) {
	s := strings.ToLower(val)
	if slices.Contains([]string{"stdin", "stdout", "stderr"}, s) {
		return s, nil
	}
	return val, errors.New("valid streams are STDIN, STDOUT and STDERR")
}

// parseAddrs parses IP addresses the flag validators already normalised;
// it returns an empty, non-nil slice for none.
func parseAddrs(ips []string, what string) ([]netip.Addr, error) {
	addrs := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if err != nil {
			return nil, fmt.Errorf("invalid %s address: %s", what, ip)
		}
		addrs = append(addrs, a)
	}
	return addrs, nil
}
