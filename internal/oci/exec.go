package oci

import (
	"fmt"
	"path"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// ExecInput is what "docker exec" can change about a process started in a
// running container; everything else comes from the container's spec.
type ExecInput struct {
	Cmd        []string
	Env        []string // added to (and overriding) the container's environment
	User       string   // "" keeps the container's user
	WorkingDir string   // "" keeps the container's working directory
	Tty        bool
	Privileged bool

	// GroupAdd is the container's HostConfig.GroupAdd: an exec as another
	// user gets those groups too, as in Docker.
	GroupAdd []string
	// ConsoleSize is the initial terminal size {height, width} with Tty.
	ConsoleSize [2]uint
	// Host is what the daemon holds (for Privileged); nil means
	// CurrentHost().
	Host *Host
}

// ExecProcess builds the process of an exec from the container's spec, as
// Docker's exec does: the container's process (capabilities, rlimits,
// no-new-privileges, AppArmor profile, OOM score, environment) with the
// exec's command, environment, user, working directory and terminal. The
// seccomp filter and namespaces are the container's: the runtime applies
// them from the container's config.
func ExecProcess(base *specs.Spec, rootfs string, in ExecInput) (*specs.Process, error) {
	if base == nil || base.Process == nil {
		return nil, fmt.Errorf("exec: the container's spec has no process: %w", errdefs.ErrInvalidArgument)
	}
	if len(in.Cmd) == 0 || in.Cmd[0] == "" {
		return nil, errdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	bp := base.Process
	p := &specs.Process{
		Terminal:        in.Tty,
		User:            bp.User,
		Args:            slices.Clone(in.Cmd),
		Cwd:             bp.Cwd,
		Rlimits:         slices.Clone(bp.Rlimits),
		NoNewPrivileges: bp.NoNewPrivileges,
		ApparmorProfile: bp.ApparmorProfile,
		SelinuxLabel:    bp.SelinuxLabel,
		Scheduler:       bp.Scheduler,
		IOPriority:      bp.IOPriority,
	}
	p.User.AdditionalGids = slices.Clone(bp.User.AdditionalGids)
	if bp.OOMScoreAdj != nil {
		p.OOMScoreAdj = ptr(*bp.OOMScoreAdj)
	}
	if bp.Capabilities != nil {
		c := *bp.Capabilities
		c.Bounding = slices.Clone(c.Bounding)
		c.Effective = slices.Clone(c.Effective)
		c.Permitted = slices.Clone(c.Permitted)
		c.Inheritable = slices.Clone(c.Inheritable)
		c.Ambient = slices.Clone(c.Ambient)
		p.Capabilities = &c
	}
	if in.Tty && (in.ConsoleSize[0] > 0 || in.ConsoleSize[1] > 0) {
		p.ConsoleSize = &specs.Box{Height: in.ConsoleSize[0], Width: in.ConsoleSize[1]}
	}
	if in.WorkingDir != "" {
		if !path.IsAbs(in.WorkingDir) {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("the working directory '%s' is invalid, it needs to be an absolute path", in.WorkingDir))
		}
		p.Cwd = in.WorkingDir
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}

	env := slices.Clone(bp.Env)
	if in.User != "" {
		u, err := resolveUser(rootfs, in.User, in.GroupAdd)
		if err != nil {
			return nil, err
		}
		// HOME follows the user unless the container's config set it: the
		// base spec's HOME came from /etc/passwd when it equals the
		// container user's home there. (An image that sets HOME to exactly
		// that value sees it follow the exec user too; Docker would keep
		// it.)
		if home, ok := lookupEnv(env, "HOME"); ok && u.UID != bp.User.UID {
			if baseHome, err := homeOf(rootfs, bp.User.UID); err == nil && baseHome == home {
				env = setEnv(env, "HOME", u.Home)
			}
		}
		p.User = u.User
		if bp.User.Umask != nil {
			p.User.Umask = ptr(*bp.User.Umask)
		}
	}
	// TERM=xterm is Docker's default for a process with a tty: the exec's
	// tty decides, not the container's. (An image that sets TERM=xterm
	// itself loses it in a non-tty exec of a tty container; Docker would
	// keep it.)
	term, hasTerm := lookupEnv(env, "TERM")
	switch {
	case in.Tty && !hasTerm:
		env = setEnv(env, "TERM", "xterm")
	case !in.Tty && bp.Terminal && hasTerm && term == "xterm":
		env = unsetEnv(env, "TERM")
	}
	p.Env = replaceOrAppendEnv(env, in.Env)

	if in.Privileged {
		host := in.Host
		if host == nil {
			var err error
			if host, err = CurrentHost(); err != nil {
				return nil, err
			}
		}
		caps := slices.Clone(host.Caps)
		p.Capabilities = &specs.LinuxCapabilities{
			Bounding:  caps,
			Effective: caps,
			Permitted: slices.Clone(caps),
		}
	}
	return p, nil
}

// homeOf is the home directory of uid in the container's /etc/passwd, or
// "/" as runc would default it.
func homeOf(rootfs string, uid uint32) (string, error) {
	u, err := resolveUser(rootfs, fmt.Sprint(uid), nil)
	if err != nil {
		return "", err
	}
	return u.Home, nil
}
