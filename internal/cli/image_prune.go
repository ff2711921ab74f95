package cli

import (
	"github.com/spf13/cobra"
)

const (
	allImagesPruneWarning = `WARNING! This will remove all images without at least one container associated to them.
Are you sure you want to continue?`
	danglingPruneWarning = `WARNING! This will remove all dangling images.
Are you sure you want to continue?`
)

func newImagePruneCommand(c *CLI) *cobra.Command {
	opts := pruneOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImagePrune(cmd, c, &opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.force, "force", "f", false, "Do not prompt for confirmation")
	flags.BoolVarP(&opts.all, "all", "a", false, "Remove all unused images, not just dangling ones")
	flags.Var(opts.filter, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

func runImagePrune(cmd *cobra.Command, c *CLI, opts *pruneOptions) error {
	warning := danglingPruneWarning
	if opts.all {
		warning = allImagesPruneWarning
	}
	return runPrune(cmd.Context(), c, opts, warning, "image prune", pruneImages)
}
