package oci

import (
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
)

// capNames lists the capabilities the kernel knows, by number
// (include/uapi/linux/capability.h). A bit in the daemon's bounding set
// beyond this list is a capability newer than berth: it is left out, as
// Docker leaves out what containerd does not know.
var capNames = []string{
	"CAP_CHOWN",              // 0
	"CAP_DAC_OVERRIDE",       // 1
	"CAP_DAC_READ_SEARCH",    // 2
	"CAP_FOWNER",             // 3
	"CAP_FSETID",             // 4
	"CAP_KILL",               // 5
	"CAP_SETGID",             // 6
	"CAP_SETUID",             // 7
	"CAP_SETPCAP",            // 8
	"CAP_LINUX_IMMUTABLE",    // 9
	"CAP_NET_BIND_SERVICE",   // 10
	"CAP_NET_BROADCAST",      // 11
	"CAP_NET_ADMIN",          // 12
	"CAP_NET_RAW",            // 13
	"CAP_IPC_LOCK",           // 14
	"CAP_IPC_OWNER",          // 15
	"CAP_SYS_MODULE",         // 16
	"CAP_SYS_RAWIO",          // 17
	"CAP_SYS_CHROOT",         // 18
	"CAP_SYS_PTRACE",         // 19
	"CAP_SYS_PACCT",          // 20
	"CAP_SYS_ADMIN",          // 21
	"CAP_SYS_BOOT",           // 22
	"CAP_SYS_NICE",           // 23
	"CAP_SYS_RESOURCE",       // 24
	"CAP_SYS_TIME",           // 25
	"CAP_SYS_TTY_CONFIG",     // 26
	"CAP_MKNOD",              // 27
	"CAP_LEASE",              // 28
	"CAP_AUDIT_WRITE",        // 29
	"CAP_AUDIT_CONTROL",      // 30
	"CAP_SETFCAP",            // 31
	"CAP_MAC_OVERRIDE",       // 32
	"CAP_MAC_ADMIN",          // 33
	"CAP_SYSLOG",             // 34
	"CAP_WAKE_ALARM",         // 35
	"CAP_BLOCK_SUSPEND",      // 36
	"CAP_AUDIT_READ",         // 37
	"CAP_PERFMON",            // 38
	"CAP_BPF",                // 39
	"CAP_CHECKPOINT_RESTORE", // 40
}

// DefaultCapabilities are Docker's default capabilities, in Docker's order
// (moby oci/caps.DefaultCapabilities).
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN",
		"CAP_DAC_OVERRIDE",
		"CAP_FSETID",
		"CAP_FOWNER",
		"CAP_MKNOD",
		"CAP_NET_RAW",
		"CAP_SETGID",
		"CAP_SETUID",
		"CAP_SETFCAP",
		"CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE",
		"CAP_SYS_CHROOT",
		"CAP_KILL",
		"CAP_AUDIT_WRITE",
	}
}

// capsFromMask turns a capability bit mask into names, in number order.
func capsFromMask(mask uint64) []string {
	var caps []string
	for i, name := range capNames {
		if mask&(1<<uint(i)) != 0 {
			caps = append(caps, name)
		}
	}
	return caps
}

const allCaps = "ALL"

// normalizeCaps upper-cases names and adds the CAP_ prefix, as Docker's
// NormalizeLegacyCapabilities does, keeping "ALL". An unknown name is an
// error with Docker's text. With strict, a known capability the daemon does
// not hold is an error too (Docker's text again): asking runc for it would
// fail at start with a far less clear message.
func normalizeCaps(caps []string, host *Host, strict bool) ([]string, error) {
	var out []string
	for _, c := range caps {
		c = strings.ToUpper(c)
		if c == allCaps {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(capNames, c) {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown capability: %q", c))
		}
		if strict && !host.hasCap(c) {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("capability not supported by your kernel or not available in the current environment: %q", c))
		}
		out = append(out, c)
	}
	return out, nil
}

// capabilities computes the container's capability set as Docker's
// TweakCapabilities does, with "all" meaning the daemon's bounding set.
//
// Two deliberate differences from Docker, both for a daemon that holds
// fewer capabilities than the kernel knows: default capabilities the
// daemon lacks are left out (Docker would hand them to runc and every
// container would fail to start), and dropping a capability the daemon
// lacks is accepted as the no-op it is (Docker refuses it).
func capabilities(host *Host, adds, drops []string, privileged bool) ([]string, error) {
	if privileged {
		return append([]string(nil), host.Caps...), nil
	}
	capAdd, err := normalizeCaps(adds, host, true)
	if err != nil {
		return nil, err
	}
	capDrop, err := normalizeCaps(drops, host, false)
	if err != nil {
		return nil, err
	}

	var caps []string
	switch {
	case slices.Contains(capAdd, allCaps):
		for _, c := range host.Caps {
			if !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(capDrop, allCaps):
		for _, c := range capAdd {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	default:
		for _, c := range DefaultCapabilities() {
			if host.hasCap(c) && !slices.Contains(capDrop, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range capAdd {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	return caps, nil
}
