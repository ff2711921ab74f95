package cli

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/cli/formatter/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newInfoCommand(c *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInfo(cmd, c, format)
		},
		Annotations: map[string]string{"aliases": "berth system info, berth info"},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func runInfo(cmd *cobra.Command, c *CLI, format string) error {
	info := system.NewInfo(c.clientVersion(""), c.debug)
	var connErr error
	if info.NeedsServer(format) {
		connErr = c.addServerInfo(cmd, format, info)
	}
	if format == "" {
		info.SetUserName(c.indexUserName())
		if cl, err := c.Client(); err == nil {
			info.SetClientAPIVersion(cl.ClientVersion())
		}
		return errors.Join(info.Print(c.Out, c.Err), connErr)
	}
	err := info.Format(c.Out, format)
	var te system.ErrTemplate
	if errors.As(err, &te) {
		err = StatusError{StatusCode: 64, Status: te.Error()}
	}
	return errors.Join(connErr, err)
}

// addServerInfo asks the daemon. An unreachable daemon is an error; any
// other failure is reported in the output and the command goes on.
func (c *CLI) addServerInfo(cmd *cobra.Command, format string, info *system.Info) error {
	cl, err := c.Client()
	if err == nil {
		var res client.SystemInfoResult
		res, err = cl.Info(cmd.Context(), client.InfoOptions{})
		if err == nil {
			info.SetServer(&res.Info)
			return nil
		}
	}
	if format == "" {
		info.SetServer(nil)
	}
	if !client.IsErrConnectionFailed(err) {
		info.AddServerError(err)
		if format != "" {
			fmt.Fprintln(c.Err, err)
		}
		return nil
	}
	return err
}

// indexUserName is the Docker Hub user logged in with "docker login", if any.
func (c *CLI) indexUserName() string {
	ac, ok := c.ConfigFile().AuthConfigs["https://index.docker.io/v1/"]
	if !ok {
		return ""
	}
	if ac.Username != "" {
		return ac.Username
	}
	if raw, err := base64.StdEncoding.DecodeString(ac.Auth); err == nil {
		u, _, _ := strings.Cut(string(raw), ":")
		return u
	}
	return ""
}
