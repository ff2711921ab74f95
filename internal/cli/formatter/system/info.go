package system

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client/pkg/security"
)

type clientInfo struct {
	Debug bool
	clientVersion
	Plugins  []any
	Warnings []string
}

// dockerInfo is what "info --format" templates see, as docker's.
type dockerInfo struct {
	*system.Info `json:",omitempty"`
	ServerErrors []string `json:",omitempty"`
	UserName     string   `json:"-"`

	ClientInfo   *clientInfo `json:",omitempty"`
	ClientErrors []string    `json:",omitempty"`
}

// Info collects what "info" reports: the client's side first, the
// daemon's when it answers.
type Info struct {
	d dockerInfo
}

// NewInfo starts a report for the client described by c.
func NewInfo(c ClientVersion, debug bool) *Info {
	c.APIVersion = ""
	return &Info{d: dockerInfo{
		ClientInfo: &clientInfo{clientVersion: newClientVersion(c), Debug: debug},
		Info:       &system.Info{},
	}}
}

// SetServer records the daemon's answer; nil when there is none.
func (i *Info) SetServer(info *system.Info) { i.d.Info = info }

// AddServerError records a failure to ask the daemon, reported as "ERROR:".
func (i *Info) AddServerError(err error) { i.d.ServerErrors = append(i.d.ServerErrors, err.Error()) }

// SetUserName is the Docker Hub user from the client configuration.
func (i *Info) SetUserName(name string) { i.d.UserName = name }

// SetClientAPIVersion is the API version the client negotiated.
func (i *Info) SetClientAPIVersion(v string) { i.d.ClientInfo.APIVersion = v }

var infoPlaceholders = regexp.MustCompile(`\.[a-zA-Z]`)

// NeedsServer is false for templates that only read client fields, so
// that "info -f '{{.ClientInfo.Version}}'" works without a daemon.
func (i *Info) NeedsServer(format string) bool {
	switch format {
	case "", formatter.JSONFormat, formatter.JSONFormatKey:
		return true
	}
	if infoPlaceholders.FindString(format) == "" {
		return true
	}
	tmpl, err := formatter.ParseTemplate(format)
	if err != nil {
		return true
	}
	sparse := struct {
		ClientInfo   *clientInfo `json:",omitempty"`
		ClientErrors []string    `json:",omitempty"`
	}{i.d.ClientInfo, i.d.ClientErrors}
	return tmpl.Execute(io.Discard, sparse) != nil
}

// ErrTemplate wraps a --format that does not parse (docker exits 64).
type ErrTemplate struct{ error }

// Format runs a --format template ("json" included) on the report.
func (i *Info) Format(out io.Writer, format string) error {
	info := i.d
	if format == formatter.JSONFormatKey {
		format = formatter.JSONFormat
	}
	if info.ClientInfo != nil && info.ClientInfo.Plugins == nil {
		info.ClientInfo.Plugins = []any{}
	}
	tmpl, err := formatter.ParseTemplate(format)
	if err != nil {
		return ErrTemplate{fmt.Errorf("template parsing error: %w", err)}
	}
	err = tmpl.Execute(out, info)
	fmt.Fprintln(out)
	return err
}

// Print writes docker's plain report; daemon warnings go to errOut.
func (i *Info) Print(out, errOut io.Writer) error {
	return prettyPrintInfo(out, errOut, i.d)
}

func prettyPrintInfo(out, errOut io.Writer, info dockerInfo) error {
	if info.ClientInfo != nil && info.ClientInfo.Platform != nil && info.ClientInfo.Platform.Name != "" {
		fmt.Fprintln(out, "Client:", info.ClientInfo.Platform.Name)
	} else {
		fmt.Fprintln(out, "Client:")
	}
	if ci := info.ClientInfo; ci != nil {
		printlnNonEmpty(out, " Version:   ", ci.Version)
		fmt.Fprintln(out, " Context:   ", ci.Context)
		fmt.Fprintln(out, " Debug Mode:", ci.Debug)
		if len(ci.Warnings) > 0 {
			fmt.Fprintln(errOut, strings.Join(ci.Warnings, "\n"))
		}
	}
	for _, err := range info.ClientErrors {
		fmt.Fprintln(errOut, "ERROR:", err)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Server:")
	if info.Info != nil {
		prettyPrintServerInfo(out, errOut, &info)
	}
	for _, err := range info.ServerErrors {
		fmt.Fprintln(errOut, "ERROR:", err)
	}
	if len(info.ServerErrors) > 0 || len(info.ClientErrors) > 0 {
		return errors.New("errors pretty printing info")
	}
	return nil
}

func prettyPrintServerInfo(out, errOut io.Writer, info *dockerInfo) {
	fmt.Fprintln(out, " Containers:", info.Containers)
	fmt.Fprintln(out, "  Running:", info.ContainersRunning)
	fmt.Fprintln(out, "  Paused:", info.ContainersPaused)
	fmt.Fprintln(out, "  Stopped:", info.ContainersStopped)
	fmt.Fprintln(out, " Images:", info.Images)
	printlnNonEmpty(out, " Server Version:", info.ServerVersion)
	printlnNonEmpty(out, " Storage Driver:", info.Driver)
	for _, pair := range info.DriverStatus {
		fmt.Fprintf(out, "  %s: %s\n", pair[0], pair[1])
	}
	for _, pair := range info.SystemStatus {
		fmt.Fprintf(out, " %s: %s\n", pair[0], pair[1])
	}
	printlnNonEmpty(out, " Logging Driver:", info.LoggingDriver)
	printlnNonEmpty(out, " Cgroup Driver:", info.CgroupDriver)
	printlnNonEmpty(out, " Cgroup Version:", info.CgroupVersion)

	fmt.Fprintln(out, " Plugins:")
	fmt.Fprintln(out, "  Volume:", strings.Join(info.Plugins.Volume, " "))
	fmt.Fprintln(out, "  Network:", strings.Join(info.Plugins.Network, " "))
	if len(info.Plugins.Authorization) != 0 {
		fmt.Fprintln(out, "  Authorization:", strings.Join(info.Plugins.Authorization, " "))
	}
	fmt.Fprintln(out, "  Log:", strings.Join(info.Plugins.Log, " "))

	if len(info.CDISpecDirs) > 0 {
		fmt.Fprintln(out, " CDI spec directories:")
		for _, dir := range info.CDISpecDirs {
			fmt.Fprintf(out, "  %s\n", dir)
		}
	}
	if len(info.DiscoveredDevices) > 0 {
		fmt.Fprintln(out, " Discovered Devices:")
		for _, d := range info.DiscoveredDevices {
			fmt.Fprintf(out, "  %s: %s\n", d.Source, d.ID)
		}
	}

	fmt.Fprintln(out, " Swarm:", info.Swarm.LocalNodeState)
	printSwarmInfo(out, *info.Info)

	if len(info.Runtimes) > 0 {
		names := make([]string, 0, len(info.Runtimes))
		for name := range info.Runtimes {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintln(out, " Runtimes:", strings.Join(names, " "))
		fmt.Fprintln(out, " Default Runtime:", info.DefaultRuntime)
	}

	if info.OSType == "linux" {
		fmt.Fprintln(out, " Init Binary:", info.InitBinary)
		fmt.Fprintln(out, " containerd version:", info.ContainerdCommit.ID)
		fmt.Fprintln(out, " runc version:", info.RuncCommit.ID)
		fmt.Fprintln(out, " init version:", info.InitCommit.ID)
		if secopts := security.DecodeOptions(info.SecurityOptions); len(secopts) != 0 {
			fmt.Fprintln(out, " Security Options:")
			for _, so := range secopts {
				fmt.Fprintln(out, "  "+so.Name)
				for _, o := range so.Options {
					if o.Key == "profile" {
						fmt.Fprintln(out, "   Profile:", o.Value)
					}
				}
			}
		}
	}
	if info.OSType == "windows" {
		fmt.Fprintln(out, " Default Isolation:", info.Isolation)
	}

	printlnNonEmpty(out, " Kernel Version:", info.KernelVersion)
	printlnNonEmpty(out, " Operating System:", info.OperatingSystem)
	printlnNonEmpty(out, " OSType:", info.OSType)
	printlnNonEmpty(out, " Architecture:", info.Architecture)
	fmt.Fprintln(out, " CPUs:", info.NCPU)
	fmt.Fprintln(out, " Total Memory:", units.BytesSize(float64(info.MemTotal)))
	printlnNonEmpty(out, " Name:", info.Name)
	printlnNonEmpty(out, " ID:", info.ID)
	fmt.Fprintln(out, " Docker Root Dir:", info.DockerRootDir)
	fmt.Fprintln(out, " Debug Mode:", info.Debug)
	if info.Debug || (info.ClientInfo != nil && info.ClientInfo.Debug) {
		fmt.Fprintln(out, "  File Descriptors:", info.NFd)
		fmt.Fprintln(out, "  Goroutines:", info.NGoroutines)
		fmt.Fprintln(out, "  System Time:", info.SystemTime)
		fmt.Fprintln(out, "  EventsListeners:", info.NEventsListener)
	}
	printlnNonEmpty(out, " HTTP Proxy:", info.HTTPProxy)
	printlnNonEmpty(out, " HTTPS Proxy:", info.HTTPSProxy)
	printlnNonEmpty(out, " No Proxy:", info.NoProxy)
	printlnNonEmpty(out, " Username:", info.UserName)
	if len(info.Labels) > 0 {
		fmt.Fprintln(out, " Labels:")
		for _, l := range info.Labels {
			fmt.Fprintln(out, "  "+l)
		}
	}
	fmt.Fprintln(out, " Experimental:", info.ExperimentalBuild)

	if rc := info.RegistryConfig; rc != nil && (len(rc.InsecureRegistryCIDRs) > 0 || len(rc.IndexConfigs) > 0) {
		fmt.Fprintln(out, " Insecure Registries:")
		names := make([]string, 0, len(rc.IndexConfigs))
		for name := range rc.IndexConfigs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if !rc.IndexConfigs[name].Secure {
				fmt.Fprintln(out, "  "+rc.IndexConfigs[name].Name)
			}
		}
		for _, cidr := range rc.InsecureRegistryCIDRs {
			fmt.Fprintf(out, "  %s\n", cidr)
		}
	}
	if rc := info.RegistryConfig; rc != nil && len(rc.Mirrors) > 0 {
		fmt.Fprintln(out, " Registry Mirrors:")
		for _, m := range rc.Mirrors {
			fmt.Fprintln(out, "  "+m)
		}
	}
	fmt.Fprintln(out, " Live Restore Enabled:", info.LiveRestoreEnabled)
	if info.ProductLicense != "" {
		fmt.Fprintln(out, " Product License:", info.ProductLicense)
	}
	if len(info.DefaultAddressPools) > 0 {
		fmt.Fprintln(out, " Default Address Pools:")
		for _, p := range info.DefaultAddressPools {
			fmt.Fprintf(out, "   Base: %s, Size: %d\n", p.Base, p.Size)
		}
	}
	if info.FirewallBackend != nil {
		fmt.Fprintln(out, " Firewall Backend:", info.FirewallBackend.Driver)
		for _, v := range info.FirewallBackend.Info {
			fmt.Fprintf(out, "  %s: %s\n", v[0], v[1])
		}
	}
	if info.NRI != nil {
		fmt.Fprintln(out, " NRI:")
		for _, v := range info.NRI.Info {
			fmt.Fprintf(out, "  %s: %s\n", v[0], v[1])
		}
	}
	fmt.Fprintln(out)
	for _, w := range info.Warnings {
		fmt.Fprintln(errOut, w)
	}
}

func printSwarmInfo(out io.Writer, info system.Info) {
	if info.Swarm.LocalNodeState == swarm.LocalNodeStateInactive || info.Swarm.LocalNodeState == swarm.LocalNodeStateLocked {
		return
	}
	fmt.Fprintln(out, "  NodeID:", info.Swarm.NodeID)
	if info.Swarm.Error != "" {
		fmt.Fprintln(out, "  Error:", info.Swarm.Error)
	}
	fmt.Fprintln(out, "  Is Manager:", info.Swarm.ControlAvailable)
	if cl := info.Swarm.Cluster; cl != nil && info.Swarm.ControlAvailable && info.Swarm.Error == "" && info.Swarm.LocalNodeState != swarm.LocalNodeStateError {
		fmt.Fprintln(out, "  ClusterID:", cl.ID)
		fmt.Fprintln(out, "  Managers:", info.Swarm.Managers)
		fmt.Fprintln(out, "  Nodes:", info.Swarm.Nodes)
		if cl.DefaultAddrPool != nil {
			var pools strings.Builder
			for _, p := range cl.DefaultAddrPool {
				pools.WriteString(p.String() + "  ")
			}
			fmt.Fprintln(out, "  Default Address Pool:", pools.String())
			fmt.Fprintln(out, "  SubnetSize:", cl.SubnetSize)
		}
		if cl.DataPathPort > 0 {
			fmt.Fprintln(out, "  Data Path Port:", cl.DataPathPort)
		}
		fmt.Fprintln(out, "  Orchestration:")
		var retention int64
		if cl.Spec.Orchestration.TaskHistoryRetentionLimit != nil {
			retention = *cl.Spec.Orchestration.TaskHistoryRetentionLimit
		}
		fmt.Fprintln(out, "   Task History Retention Limit:", retention)
		fmt.Fprintln(out, "  Raft:")
		fmt.Fprintln(out, "   Snapshot Interval:", cl.Spec.Raft.SnapshotInterval)
		if cl.Spec.Raft.KeepOldSnapshots != nil {
			fmt.Fprintf(out, "   Number of Old Snapshots to Retain: %d\n", *cl.Spec.Raft.KeepOldSnapshots)
		}
		fmt.Fprintln(out, "   Heartbeat Tick:", cl.Spec.Raft.HeartbeatTick)
		fmt.Fprintln(out, "   Election Tick:", cl.Spec.Raft.ElectionTick)
		fmt.Fprintln(out, "  Dispatcher:")
		fmt.Fprintln(out, "   Heartbeat Period:", units.HumanDuration(cl.Spec.Dispatcher.HeartbeatPeriod))
		fmt.Fprintln(out, "  CA Configuration:")
		fmt.Fprintln(out, "   Expiry Duration:", units.HumanDuration(cl.Spec.CAConfig.NodeCertExpiry))
		fmt.Fprintln(out, "   Force Rotate:", cl.Spec.CAConfig.ForceRotate)
		if caCert := strings.TrimSpace(cl.Spec.CAConfig.SigningCACert); caCert != "" {
			fmt.Fprintf(out, "   Signing CA Certificate: \n%s\n\n", caCert)
		}
		if len(cl.Spec.CAConfig.ExternalCAs) > 0 {
			fmt.Fprintln(out, "   External CAs:")
			for _, e := range cl.Spec.CAConfig.ExternalCAs {
				fmt.Fprintf(out, "     %s: %s\n", e.Protocol, e.URL)
			}
		}
		fmt.Fprintln(out, "  Autolock Managers:", cl.Spec.EncryptionConfig.AutoLockManagers)
		fmt.Fprintln(out, "  Root Rotation In Progress:", cl.RootRotationInProgress)
	}
	fmt.Fprintln(out, "  Node Address:", info.Swarm.NodeAddr)
	if len(info.Swarm.RemoteManagers) > 0 {
		managers := make([]string, 0, len(info.Swarm.RemoteManagers))
		for _, m := range info.Swarm.RemoteManagers {
			managers = append(managers, m.Addr)
		}
		sort.Strings(managers)
		fmt.Fprintln(out, "  Manager Addresses:")
		for _, m := range managers {
			fmt.Fprintf(out, "   %s\n", m)
		}
	}
}

func printlnNonEmpty(w io.Writer, label, value string) {
	if value != "" {
		fmt.Fprintln(w, label, value)
	}
}
