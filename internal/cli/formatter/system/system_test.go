package system

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/swarm"
	apisystem "github.com/moby/moby/api/types/system"
)

var testClient = ClientVersion{
	PlatformName:      "berth",
	Version:           "28.3.0",
	APIVersion:        "1.41",
	DefaultAPIVersion: "1.56",
	GitCommit:         "berth",
	GoVersion:         "go1.26.8",
	Os:                "linux",
	Arch:              "amd64",
	BuildTime:         "2025-05-30T12:07:14Z",
	Context:           "default",
}

// The layout of docker 28.2.2's "docker version" against dockerd 20.10.
func TestVersionReport(t *testing.T) {
	server := ServerVersion(apisystem.VersionResponse{
		Version: "20.10.24+dfsg1", APIVersion: "1.41", MinAPIVersion: "1.12", Os: "linux", Arch: "amd64",
		Components: []apisystem.ComponentVersion{
			{Name: "Engine", Version: "20.10.24+dfsg1", Details: map[string]string{
				"ApiVersion": "1.41", "Arch": "amd64", "BuildTime": "2026-05-07T21:09:36.000000000+00:00", "Experimental": "false",
				"GitCommit": "5d6db84", "GoVersion": "go1.19.8", "KernelVersion": "6.18.44", "MinAPIVersion": "1.12", "Os": "linux"}},
			{Name: "runc", Version: "1.1.5+ds1", Details: map[string]string{"GitCommit": "1.1.5+ds1-1+deb12u1"}},
			{Name: "docker-init", Version: "0.19.0", Details: map[string]string{"GitCommit": ""}},
		},
	})
	tmpl, err := NewVersionTemplate("")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteVersion(&b, tmpl, testClient, server); err != nil {
		t.Fatal(err)
	}
	want := `Client: berth
 Version:           28.3.0
 API version:       1.41 (downgraded from 1.56)
 Go version:        go1.26.8
 Git commit:        berth
 Built:             Fri May 30 12:07:14 2025
 OS/Arch:           linux/amd64
 Context:           default

Server:
 Engine:
  Version:          20.10.24+dfsg1
  API version:      1.41 (minimum version 1.12)
  Go version:       go1.19.8
  Git commit:       5d6db84
  Built:            Thu May  7 21:09:36 2026
  OS/Arch:          linux/amd64
  Experimental:     false
 runc:
  Version:          1.1.5+ds1
  GitCommit:        1.1.5+ds1-1+deb12u1
 docker-init:
  Version:          0.19.0
  GitCommit:        
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	tmpl, _ = NewVersionTemplate("json")
	b.Reset()
	if err := WriteVersion(&b, tmpl, testClient, nil); err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"Client":{"Platform":{"Name":"berth"},"Version":"28.3.0","ApiVersion":"1.41","DefaultAPIVersion":"1.56","GitCommit":"berth","GoVersion":"go1.26.8","Os":"linux","Arch":"amd64","BuildTime":"Fri May 30 12:07:14 2025","Context":"default"},"Server":null}` + "\n"
	if b.String() != wantJSON {
		t.Errorf("json:\n got  %s\n want %s", b.String(), wantJSON)
	}

	tmpl, _ = NewVersionTemplate("{{.Client.Nope}}")
	err = WriteVersion(&bytes.Buffer{}, tmpl, testClient, nil)
	if err == nil || !strings.HasSuffix(err.Error(), "can't evaluate field Nope in type system.clientVersion") {
		t.Errorf("err = %v", err)
	}
}

func TestInfoReport(t *testing.T) {
	info := NewInfo(testClient, false)
	info.SetServer(&apisystem.Info{
		Containers: 3, ContainersRunning: 1, ContainersPaused: 1, ContainersStopped: 1, Images: 2,
		ServerVersion: "28.3.0", Driver: "overlay2", DriverStatus: [][2]string{{"Backing Filesystem", "extfs"}},
		LoggingDriver: "json-file", CgroupDriver: "cgroupfs", CgroupVersion: "1",
		Plugins: apisystem.PluginsInfo{Volume: []string{"local"}, Network: []string{"bridge", "host", "none"}, Log: []string{"json-file", "local"}},
		Swarm:   swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		Runtimes: map[string]apisystem.RuntimeWithStatus{
			"runc": {}, "crun": {},
		},
		DefaultRuntime: "runc", OSType: "linux", SecurityOptions: []string{"name=seccomp,profile=builtin"},
		KernelVersion: "6.18", OperatingSystem: "Debian GNU/Linux 12 (bookworm)", Architecture: "x86_64",
		NCPU: 2, MemTotal: 25276502016, Name: "vm", ID: "berth", DockerRootDir: "/var/lib/berth",
		Warnings: []string{"WARNING: bridge-nf-call-iptables is disabled"},
	})
	var out, errOut bytes.Buffer
	if err := info.Print(&out, &errOut); err != nil {
		t.Fatal(err)
	}
	want := `Client: berth
 Version:    28.3.0
 Context:    default
 Debug Mode: false

Server:
 Containers: 3
  Running: 1
  Paused: 1
  Stopped: 1
 Images: 2
 Server Version: 28.3.0
 Storage Driver: overlay2
  Backing Filesystem: extfs
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 1
 Plugins:
  Volume: local
  Network: bridge host none
  Log: json-file local
 Swarm: inactive
 Runtimes: crun runc
 Default Runtime: runc
 Init Binary: 
 containerd version: 
 runc version: 
 init version: 
 Security Options:
  seccomp
   Profile: builtin
 Kernel Version: 6.18
 Operating System: Debian GNU/Linux 12 (bookworm)
 OSType: linux
 Architecture: x86_64
 CPUs: 2
 Total Memory: 23.54GiB
 Name: vm
 ID: berth
 Docker Root Dir: /var/lib/berth
 Debug Mode: false
 Experimental: false
 Live Restore Enabled: false

`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	if errOut.String() != "WARNING: bridge-nf-call-iptables is disabled\n" {
		t.Errorf("warnings: %q", errOut.String())
	}

	// Without a daemon: the Server heading alone, and the command fails.
	info = NewInfo(testClient, false)
	info.SetServer(nil)
	out.Reset()
	if err := info.Print(&out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "\nServer:\n") {
		t.Errorf("no daemon: %q", out.String())
	}
	if info.NeedsServer("{{.ClientInfo.Version}}") || !info.NeedsServer("{{.Containers}}") || !info.NeedsServer("json") {
		t.Error("NeedsServer")
	}
}
