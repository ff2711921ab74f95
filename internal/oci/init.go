package oci

import (
	"os/exec"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// InitBinary is where --init's init (docker-init, i.e. tini) is mounted
// in the container, as Docker's.
const InitBinary = "/sbin/docker-init"

// initNames are the names the init is looked up by in PATH: Docker's
// docker-init (which Debian's docker.io links to tini-static), else
// Debian's tini package's static build itself.
var initNames = []string{"docker-init", "tini-static"}

// withInit makes an init the container's pid 1, running the command as
// its child, when the container asks for one (--init) or the daemon runs
// every container with one; as Docker, not in a PID namespace shared
// with the host or another container, which has its pid 1 already.
func withInit(s *specs.Spec, hc *container.HostConfig, defaultInit bool, initPath string) error {
	want := defaultInit
	if hc.Init != nil {
		want = *hc.Init
	}
	if !want || !hc.PidMode.IsPrivate() {
		return nil
	}
	path := initPath
	if path == "" {
		var err error
		if path, err = lookupInit(); err != nil {
			return err
		}
	}
	s.Process.Args = append([]string{InitBinary, "--"}, s.Process.Args...)
	s.Mounts = append(s.Mounts, specs.Mount{Destination: InitBinary, Type: "bind", Source: path, Options: []string{"bind", "ro"}})
	return nil
}

// lookupInit finds the init binary in PATH; the error is Docker's, about
// docker-init.
func lookupInit() (string, error) {
	var first error
	for _, name := range initNames {
		path, err := exec.LookPath(name)
		if err == nil {
			return path, nil
		}
		if first == nil {
			first = err
		}
	}
	return "", first
}
