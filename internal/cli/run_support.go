package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Flags that need a minimum API version, a daemon OS or an experimental
// daemon carry pflag annotations, as in docker's CLI, and are refused
// with docker's messages when used against a daemon without them.
const (
	annotationVersion      = "version"
	annotationOSType       = "ostype"
	annotationExperimental = "experimental"
)

func setFlagVersion(flags *pflag.FlagSet, name, version string) {
	_ = flags.SetAnnotation(name, annotationVersion, []string{version})
}

func setFlagOSType(flags *pflag.FlagSet, name, osType string) {
	_ = flags.SetAnnotation(name, annotationOSType, []string{osType})
}

func setFlagExperimental(flags *pflag.FlagSet, name string) {
	_ = flags.SetAnnotation(name, annotationExperimental, nil)
}

// checkFlagSupport is docker's check of the flags given: it pings the
// daemon only when an annotated flag was used.
func checkFlagSupport(ctx context.Context, cmd *cobra.Command, apiClient *client.Client) error {
	var (
		pinged bool
		ping   client.PingResult
	)
	info := func() client.PingResult {
		if !pinged {
			pinged = true
			ping, _ = apiClient.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
		}
		return ping
	}
	var errs []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Changed || len(f.Annotations) == 0 {
			return
		}
		if v, ok := f.Annotations[annotationVersion]; ok && len(v) == 1 {
			info()
			if current := apiClient.ClientVersion(); current != "" && versions.LessThan(current, v[0]) {
				errs = append(errs, fmt.Sprintf(`"--%s" requires API version %s, but the Docker daemon API version is %s`, f.Name, v[0], current))
				return
			}
		}
		if osTypes, ok := f.Annotations[annotationOSType]; ok {
			if osType := info().OSType; osType != "" && !slices.Contains(osTypes, osType) {
				errs = append(errs, fmt.Sprintf(`"--%s" is only supported on a Docker daemon running on %s, but the Docker daemon is running on %s`, f.Name, strings.Join(osTypes, ", "), osType))
				return
			}
		}
		if _, ok := f.Annotations[annotationExperimental]; ok && !info().Experimental {
			errs = append(errs, fmt.Sprintf(`"--%s" is only supported on a Docker daemon with experimental features enabled`, f.Name))
		}
	})
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// annotateContainerFlags marks run's and create's flags as docker does.
func annotateContainerFlags(flags *pflag.FlagSet) {
	for name, version := range map[string]string{
		"gpus":                  "1.40",
		"stop-timeout":          "1.25",
		"cgroupns":              "1.41",
		"health-start-period":   "1.29",
		"health-start-interval": "1.44",
		"cpu-rt-period":         "1.25",
		"cpu-rt-runtime":        "1.25",
		"cpus":                  "1.25",
		"init":                  "1.25",
		"annotation":            "1.43",
		"platform":              "1.32",
	} {
		setFlagVersion(flags, name, version)
	}
	for _, name := range []string{"cpu-count", "cpu-percent", "io-maxbandwidth", "io-maxiops"} {
		setFlagOSType(flags, name, "windows")
	}
}

// checkedRunE runs checkFlagSupport before the command, where docker's
// root command does it for every command.
func checkedRunE(c *CLI, run func(cmd *cobra.Command, args []string) error) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		apiClient, err := c.Client()
		if err != nil {
			return err
		}
		if err := checkFlagSupport(cmd.Context(), cmd, apiClient); err != nil {
			return err
		}
		return run(cmd, args)
	}
}
