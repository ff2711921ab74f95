package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const (
	allImagesPruneWarning = `WARNING! This will remove all images without at least one container associated to them.
Are you sure you want to continue?`
	danglingPruneWarning = `WARNING! This will remove all dangling images.
Are you sure you want to continue?`
)

type imagePruneOptions struct {
	force  bool
	all    bool
	filter *filterFlag
}

func newImagePruneCommand(c *CLI) *cobra.Command {
	opts := imagePruneOptions{filter: newFilterFlag()}
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

func runImagePrune(cmd *cobra.Command, c *CLI, opts *imagePruneOptions) error {
	filters := opts.filter.Value().Clone()
	// Defaults from config.json's pruneFilters, unless the command line
	// says the opposite for a label.
	for _, f := range c.ConfigFile().PruneFilters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch {
		case k == "label" && filters["label!"][v], k == "label!" && filters["label"][v]:
			continue
		}
		filters.Add(k, v)
	}
	filters.Add("dangling", strconv.FormatBool(!opts.all))

	warning := danglingPruneWarning
	if opts.all {
		warning = allImagesPruneWarning
	}
	if !opts.force {
		ok, err := confirm(cmd.Context(), c.In, c.Out, warning)
		if err != nil {
			return err
		}
		if !ok {
			return promptCancelled{errors.New("image prune has been cancelled")}
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImagePrune(cmd.Context(), client.ImagePruneOptions{Filters: filters})
	if err != nil {
		return err
	}
	if len(res.Report.ImagesDeleted) > 0 {
		var sb strings.Builder
		sb.WriteString("Deleted Images:\n")
		for _, st := range res.Report.ImagesDeleted {
			if st.Untagged != "" {
				sb.WriteString("untagged: " + st.Untagged + "\n")
			} else {
				sb.WriteString("deleted: " + st.Deleted + "\n")
			}
		}
		fmt.Fprintln(c.Out, sb.String())
	}
	fmt.Fprintln(c.Out, "Total reclaimed space:", units.HumanSize(float64(res.Report.SpaceReclaimed)))
	return nil
}
