// Package oci turns a container's configuration (the Engine API's
// container.Config and container.HostConfig, already merged with the image
// config) into the OCI runtime spec that runc or crun runs, and an exec's
// options into the OCI process of `runc exec`.
//
// It reproduces what Docker's daemon (moby's oci/defaults.go and
// daemon/oci_linux.go) produces: default mounts, masked and read-only
// paths, Docker's 14 default capabilities, the default seccomp profile, the
// device cgroup rules, namespaces, user resolution and the process
// environment. Where Docker would hand runc something it cannot do on this
// host (a capability or an rlimit beyond what the daemon itself holds), the
// spec is derived from the daemon's own limits instead, or refused with a
// clear error before the runtime sees it.
//
// The functions are pure apart from reading the container's rootfs
// (/etc/passwd, /etc/group, safely confined to the rootfs) and facts about
// the host (Host), which tests inject.
//
// The package also owns the create-time checks of a HostConfig
// (ValidateHostConfig) and the defaults Docker writes into a new
// container's HostConfig (ApplyHostConfigDefaults), since both follow the
// same rules as the spec.
package oci
