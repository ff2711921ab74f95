package oci

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

const (
	seccompUnconfined = "unconfined"
	seccompBuiltin    = "builtin"
)

// securityOpts is HostConfig.SecurityOpt, parsed as Docker's
// parseSecurityOpt does.
type securityOpts struct {
	noNewPrivileges bool
	seccomp         string // "", "unconfined", "builtin" or a profile's JSON
	apparmor        string
	writableCgroups *bool
}

func parseSecurityOpts(opts []string) (securityOpts, error) {
	var so securityOpts
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			so.noNewPrivileges = true
			continue
		case "writable-cgroups":
			t := true
			so.writableCgroups = &t
			continue
		case "disable":
			// An SELinux label option; SELinux is not supported, so, as
			// Docker on a host without SELinux, it has no effect.
			continue
		}
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else if strings.Contains(opt, ":") {
			// The deprecated "key:value" form, still accepted by Docker.
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return so, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 1: %q", opt))
		}
		switch k {
		case "label":
			// SELinux labels: accepted and without effect, as in Docker on
			// a host without SELinux.
		case "apparmor":
			so.apparmor = v
		case "seccomp":
			so.seccomp = v
		case "no-new-privileges", "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 2: %q", opt))
			}
			if k == "no-new-privileges" {
				so.noNewPrivileges = b
			} else {
				so.writableCgroups = &b
			}
		default:
			return so, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid --security-opt 2: %q", opt))
		}
	}
	return so, nil
}

// seccompProfile is Docker's WithSeccomp. It must run after the
// capabilities are set: the default profile allows some syscalls only to
// containers holding the capability that guards them (moby/profiles
// reads s.Process.Capabilities.Bounding).
func seccompProfile(s *specs.Spec, so securityOpts, privileged bool, host *Host) (*specs.LinuxSeccomp, error) {
	custom := so.seccomp != "" && so.seccomp != seccompUnconfined && so.seccomp != seccompBuiltin
	switch {
	case so.seccomp == seccompUnconfined:
		return nil, nil
	case privileged && !custom:
		return nil, nil
	case !host.Seccomp:
		if custom {
			return nil, errdefs.ErrInvalidArgument.WithMessage("seccomp is not enabled in your kernel, cannot run a custom seccomp profile")
		}
		return nil, nil
	case custom:
		p, err := seccomp.LoadProfile(so.seccomp, s)
		if err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		return p, nil
	default:
		return seccomp.GetDefaultProfile(s)
	}
}
