package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/cli/formatter"
)

// newVolumeCommand is "berth volume": create, inspect, ls, prune, rm,
// with docker's flags and output.
func newVolumeCommand(c *CLI) *cobra.Command {
	cmd := newGroupCommand("volume", "Manage volumes")
	cmd.Use = "volume COMMAND"
	cmd.AddCommand(newVolumeCreateCommand(c), newVolumeInspectCommand(c), newVolumeListCommand(c),
		newVolumeRemoveCommand(c), newVolumePruneCommand(c))
	return cmd
}

func newVolumeCreateCommand(c *CLI) *cobra.Command {
	var (
		name, driver string
		driverOpts   = newMapOpts(nil)
		labels       = newListOpts(validateLabel)
	)
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				name = args[0]
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.VolumeCreate(cmd.Context(), client.VolumeCreateOptions{
				Name: name, Driver: driver, DriverOpts: driverOpts.GetAll(),
				Labels: convertKVStringsToMap(labels.GetSlice()),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, res.Volume.Name)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	flags.StringVar(&name, "name", "", "Specify volume name")
	_ = flags.MarkHidden("name")
	flags.VarP(driverOpts, "opt", "o", "Set driver specific options")
	flags.Var(&labels, "label", "Set metadata for a volume")
	return cmd
}

func newVolumeInspectCommand(c *CLI) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return inspectAll(c.Out, args, format, inspectVolume(cmd, cl))
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func newVolumeListCommand(c *CLI) *cobra.Command {
	var (
		quiet  bool
		format string
		filter = newFilterFlag()
	)
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.VolumeList(cmd.Context(), client.VolumeListOptions{Filters: filter.Value()})
			if err != nil {
				return err
			}
			if format == "" {
				if f := c.ConfigFile().VolumesFormat; f != "" && !quiet {
					format = f
				} else {
					format = formatter.TableFormatKey
				}
			}
			vols := res.Items
			sort.Slice(vols, func(i, j int) bool { return naturalLess(vols[i].Name, vols[j].Name) })
			ctx := formatter.Context{Output: c.Out, Format: formatter.NewVolumeFormat(format, quiet)}
			return formatter.VolumeWrite(ctx, vols)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	flags.StringVar(&format, "format", "", formatHelp)
	flags.VarP(filter, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	return cmd
}

func newVolumeRemoveCommand(c *CLI) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				if _, err := cl.VolumeRemove(cmd.Context(), name, client.VolumeRemoveOptions{Force: force}); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(c.Out, name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

const (
	anonymousVolumesPruneWarning = `WARNING! This will remove anonymous local volumes not used by at least one container.
Are you sure you want to continue?`
	allVolumesPruneWarning = `WARNING! This will remove all local volumes not used by at least one container.
Are you sure you want to continue?`
)

func newVolumePruneCommand(c *CLI) *cobra.Command {
	opts := pruneOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			if _, err := cl.Ping(cmd.Context(), client.PingOptions{NegotiateAPIVersion: true}); err != nil {
				return err
			}
			warning := anonymousVolumesPruneWarning
			switch {
			case versions.LessThan(cl.ClientVersion(), "1.42"):
				// Older daemons prune named volumes too, and know no -a.
				warning = allVolumesPruneWarning
				if opts.all {
					return fmt.Errorf(`"--all" requires API version 1.42, but the Docker daemon API version is %s`, cl.ClientVersion())
				}
			case opts.all:
				if _, ok := opts.filter.Value()["all"]; ok {
					return errors.New("conflicting options: cannot specify both --all and --filter all=1")
				}
				warning = allVolumesPruneWarning
			}
			return runPrune(cmd.Context(), c, &opts, warning, "volume prune", pruneAllVolumes)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	flags.BoolVarP(&opts.force, "force", "f", false, "Do not prompt for confirmation")
	flags.Var(opts.filter, "filter", `Provide filter values (e.g. "label=<label>")`)
	return cmd
}

// pruneAllVolumes is pruneVolumes with -a: named volumes too.
func pruneAllVolumes(ctx context.Context, cl *client.Client, all bool, filters client.Filters) (uint64, string, error) {
	if all {
		filters = filters.Clone().Add("all", "true")
	}
	return pruneVolumes(ctx, cl, all, filters)
}
