package oci

import (
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Input is everything Spec needs about one container. The caller resolves
// what needs other services: the image config merged into Config, the
// rootfs mounted, the network namespace created, the bind and volume
// mounts, /etc/hosts and friends.
type Input struct {
	ID, Hostname, Domainname string
	Config                   *container.Config // already merged with the image config
	HostConfig               *container.HostConfig
	Args                     []string // resolved entrypoint+cmd, Args[0] is the program
	Rootfs                   string   // mounted rootfs (absolute)
	NetNSPath                string   // join this netns; "" with HostNetwork=false means a new, empty netns
	HostNetwork              bool
	ExtraMounts              []specs.Mount // /etc/resolv.conf, /etc/hosts, /etc/hostname, binds, volumes; they replace a default mount at the same destination
	CgroupsPath              string        // e.g. "/berth/<id>"

	// IPCNSPath and PIDNSPath are the namespaces to join for IpcMode and
	// PidMode "container:<id>" (e.g. /proc/<pid>/ns/ipc of that container).
	IPCNSPath, PIDNSPath string

	// Host is what the daemon holds (capabilities, rlimits) and what the
	// kernel offers; nil means CurrentHost().
	Host *Host

	// DefaultInit runs an init as the container's pid 1 when HostConfig
	// does not say (the daemon's "init"); InitPath is the init binary
	// ("init-path"; "" looks docker-init up in PATH).
	DefaultInit bool
	InitPath    string
}

// ociVersion is the spec version berth writes. The specs-go module is
// newer (1.3), but nothing berth sets needs more than 1.1 (user.umask),
// and crun before 1.9 refuses any version above 1.1 with "unknown version
// specified".
const ociVersion = "1.1.0"

// hostConfig is the HostConfig with Docker's create-time defaults applied
// (on a copy: Spec never writes to its Input) and the derived settings.
type hostConfig struct {
	container.HostConfig
	writableCgroups bool
}

// Spec builds the OCI runtime spec for a container, as Docker's
// createSpec does. Errors are classified: bad configuration is
// errdefs.ErrInvalidArgument, with Docker's message where Docker has one.
func Spec(in Input) (*specs.Spec, error) {
	host := in.Host
	if host == nil {
		var err error
		if host, err = CurrentHost(); err != nil {
			return nil, err
		}
	}
	if in.Config == nil {
		return nil, fmt.Errorf("container %s: no config: %w", in.ID, errdefs.ErrInvalidArgument)
	}
	if !filepath.IsAbs(in.Rootfs) {
		return nil, fmt.Errorf("container %s: rootfs %q is not an absolute path: %w", in.ID, in.Rootfs, errdefs.ErrInvalidArgument)
	}
	if len(in.Args) == 0 || in.Args[0] == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("no command specified")
	}
	var hc hostConfig
	if in.HostConfig != nil {
		hc.HostConfig = *in.HostConfig
	}
	ApplyHostConfigDefaults(&hc.HostConfig, host)
	so, err := parseSecurityOpts(hc.SecurityOpt)
	if err != nil {
		return nil, err
	}
	hc.writableCgroups = hc.Privileged
	if so.writableCgroups != nil {
		hc.writableCgroups = *so.writableCgroups
	}
	hostNetwork := in.HostNetwork || hc.NetworkMode.IsHost()

	cfg := in.Config
	hostname := in.Hostname
	if hostname == "" {
		hostname = cfg.Hostname
	}
	domainname := in.Domainname
	if domainname == "" {
		domainname = cfg.Domainname
	}
	cwd := cfg.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the working directory '%s' is invalid, it needs to be an absolute path", cfg.WorkingDir))
	}

	s := &specs.Spec{
		Version:  ociVersion,
		Root:     &specs.Root{Path: in.Rootfs, Readonly: hc.ReadonlyRootfs},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal:    cfg.Tty,
			Args:        append([]string(nil), in.Args...),
			Cwd:         cwd,
			OOMScoreAdj: ptr(hc.OomScoreAdj),
		},
		Linux: &specs.Linux{
			CgroupsPath: in.CgroupsPath,
			Sysctl:      map[string]string{},
		},
	}
	if cfg.Tty && (hc.ConsoleSize[0] > 0 || hc.ConsoleSize[1] > 0) {
		s.Process.ConsoleSize = &specs.Box{Height: hc.ConsoleSize[0], Width: hc.ConsoleSize[1]}
	}
	if len(hc.Annotations) > 0 {
		s.Annotations = maps.Clone(hc.Annotations)
	}

	caps, err := capabilities(host, hc.CapAdd, hc.CapDrop, hc.Privileged)
	if err != nil {
		return nil, err
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:  caps,
		Effective: caps,
		Permitted: append([]string(nil), caps...),
	}

	if err := setNamespaces(s, &hc, in, hostNetwork); err != nil {
		return nil, err
	}

	u, err := resolveUser(in.Rootfs, cfg.User, hc.GroupAdd)
	if err != nil {
		return nil, err
	}
	s.Process.User = u.User
	if hc.Umask != nil {
		s.Process.User.Umask = ptr(*hc.Umask)
	}
	s.Process.Env = containerEnv(hostname, cfg.Tty, cfg.Env, u.Home)

	if s.Process.Rlimits, err = rlimits(hc.Ulimits, host); err != nil {
		return nil, err
	}

	if s.Linux.Resources, err = cgroupResources(&hc.Resources, host); err != nil {
		return nil, err
	}
	if s.Linux.Devices, s.Linux.Resources.Devices, err = devices(&hc.HostConfig); err != nil {
		return nil, err
	}

	if err := setSysctls(s, &hc, hostNetwork, domainname); err != nil {
		return nil, err
	}

	if s.Mounts, err = mountSpec(&hc, in.ExtraMounts); err != nil {
		return nil, err
	}
	if err := withInit(s, &hc.HostConfig, in.DefaultInit, in.InitPath); err != nil {
		return nil, err
	}

	// Docker sets the defaults into HostConfig at create (inspect shows
	// them); nil means a container created without them, privileged or not.
	switch {
	case hc.MaskedPaths != nil:
		s.Linux.MaskedPaths = append([]string(nil), hc.MaskedPaths...)
	case !hc.Privileged:
		s.Linux.MaskedPaths = DefaultMaskedPaths()
	}
	switch {
	case hc.ReadonlyPaths != nil:
		s.Linux.ReadonlyPaths = append([]string(nil), hc.ReadonlyPaths...)
	case !hc.Privileged:
		s.Linux.ReadonlyPaths = DefaultReadonlyPaths()
	}

	s.Process.NoNewPrivileges = so.noNewPrivileges
	if host.AppArmor && so.apparmor != "" {
		s.Process.ApparmorProfile = so.apparmor
	}
	if s.Linux.Seccomp, err = seccompProfile(s, so, hc.Privileged, host); err != nil {
		return nil, err
	}
	return s, nil
}

// setNamespaces is Docker's WithNamespaces, with the namespaces to join
// given as paths by the caller.
func setNamespaces(s *specs.Spec, hc *hostConfig, in Input, hostNetwork bool) error {
	ns := []specs.LinuxNamespace{{Type: specs.MountNamespace}}

	switch {
	case hostNetwork:
	case in.NetNSPath != "":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: in.NetNSPath})
	case hc.NetworkMode.IsContainer():
		return fmt.Errorf("network mode %s needs the other container's namespace path: %w", hc.NetworkMode, errdefs.ErrInvalidArgument)
	default:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}

	if !hc.UTSMode.Valid() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid UTS mode: %v", hc.UTSMode))
	}
	if hc.UTSMode.IsHost() {
		s.Hostname = ""
	} else {
		ns = append(ns, specs.LinuxNamespace{Type: specs.UTSNamespace})
	}

	var err error
	if ns, err = appendShared(ns, specs.PIDNamespace, "PID", hc.PidMode, in.PIDNSPath); err != nil {
		return err
	}
	if ns, err = appendShared(ns, specs.IPCNamespace, "IPC", hc.IpcMode, in.IPCNSPath); err != nil {
		return err
	}

	if !hc.CgroupnsMode.Valid() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid cgroup namespace mode: %v", hc.CgroupnsMode))
	}
	if hc.CgroupnsMode.IsPrivate() {
		ns = append(ns, specs.LinuxNamespace{Type: specs.CgroupNamespace})
	}
	s.Linux.Namespaces = ns
	return nil
}

// sharedMode is what the PID and IPC modes have in common: the host's
// namespace, another container's, or (any other valid mode) a new one.
type sharedMode interface {
	Valid() bool
	IsHost() bool
	IsContainer() bool
}

// appendShared adds the namespace of type typ that mode asks for: none
// for the host's, the other container's by path (which the caller
// resolved), else a new one. name is the mode's name in Docker's errors.
func appendShared(ns []specs.LinuxNamespace, typ specs.LinuxNamespaceType, name string, mode sharedMode, path string) ([]specs.LinuxNamespace, error) {
	switch {
	case !mode.Valid():
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s mode: %v", name, mode))
	case mode.IsHost():
		return ns, nil
	case mode.IsContainer():
		if path == "" {
			return nil, fmt.Errorf("%s mode %v needs the other container's namespace path: %w", name, mode, errdefs.ErrInvalidArgument)
		}
		return append(ns, specs.LinuxNamespace{Type: typ, Path: path}), nil
	}
	return append(ns, specs.LinuxNamespace{Type: typ}), nil
}

// setSysctls is Docker's: the domain name (there is no syscall-free way to
// set it but the sysctl), unprivileged ping and low ports in a container's
// own network namespace, then the user's sysctls, which win.
func setSysctls(s *specs.Spec, hc *hostConfig, hostNetwork bool, domainname string) error {
	if domainname != "" && !hc.UTSMode.IsHost() {
		s.Linux.Sysctl["kernel.domainname"] = domainname
	}
	if !hostNetwork && !hc.NetworkMode.IsContainer() {
		if sysctlExists("net.ipv4.ping_group_range") {
			s.Linux.Sysctl["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if sysctlExists("net.ipv4.ip_unprivileged_port_start") {
			s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	for k, v := range hc.Sysctls {
		if hostNetwork && strings.HasPrefix(k, "net.") {
			// runc's own check, made early with a clearer error class.
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("sysctl %q not allowed in host network namespace", k))
		}
		s.Linux.Sysctl[k] = v
	}
	if hc.UTSMode.IsHost() {
		for k := range s.Linux.Sysctl {
			if k == "kernel.domainname" || k == "kernel.hostname" {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("sysctl %q is not allowed as it conflicts with the UTS mode host", k))
			}
		}
	}
	if len(s.Linux.Sysctl) == 0 {
		s.Linux.Sysctl = nil
	}
	return nil
}

func sysctlExists(name string) bool {
	_, err := os.Stat(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	return err == nil
}
