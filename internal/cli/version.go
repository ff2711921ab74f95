package cli

import (
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/berth-dev/berth/internal/cli/formatter/system"
	"github.com/berth-dev/berth/internal/cli/formatter/types"
	apisystem "github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Version is berth's version, the same as the daemon's; GitCommit is the
// build, set by release builds with
// -ldflags "-X github.com/berth-dev/berth/internal/cli.GitCommit=...".
var (
	Version   = "28.3.0"
	GitCommit = "berth"
	// PlatformName heads the Client section of "version" and "info",
	// where docker's official builds print "Docker Engine - Community".
	PlatformName = "berth"
)

// buildTime is when the binary's commit was made, from Go's VCS stamp,
// else when the binary was written.
func buildTime() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				return s.Value
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			return st.ModTime().UTC().Format(time.RFC3339)
		}
	}
	return ""
}

func (c *CLI) clientVersion(apiVersion string) system.ClientVersion {
	return system.ClientVersion{
		PlatformName:      PlatformName,
		Version:           Version,
		APIVersion:        apiVersion,
		DefaultAPIVersion: client.MaxAPIVersion,
		GitCommit:         GitCommit,
		GoVersion:         runtime.Version(),
		Os:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		BuildTime:         buildTime(),
		Context:           "default",
	}
}

func newVersionCommand(c *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tmpl, err := system.NewVersionTemplate(format)
			if err != nil {
				return StatusError{StatusCode: 64, Status: err.Error()}
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var server *types.Version
			sv, err := cl.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
			if err == nil {
				server = system.ServerVersion(apisystem.VersionResponse{
					Platform:      apisystem.PlatformInfo{Name: sv.Platform.Name},
					Version:       sv.Version,
					APIVersion:    sv.APIVersion,
					MinAPIVersion: sv.MinAPIVersion,
					Os:            sv.Os,
					Arch:          sv.Arch,
					Experimental:  sv.Experimental, //nolint:staticcheck // still sent by older daemons
					Components:    sv.Components,
				})
			}
			// The client's API version is known once a request negotiated it.
			if err2 := system.WriteVersion(c.Out, tmpl, c.clientVersion(cl.ClientVersion()), server); err == nil {
				err = err2
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}
