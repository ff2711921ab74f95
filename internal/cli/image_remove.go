package cli

import (
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type rmiOptions struct {
	force     bool
	noPrune   bool
	platforms []string
}

func newRmiCommand(c *CLI) *cobra.Command {
	var opts rmiOptions
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRmi(cmd, c, args, &opts)
		},
		Annotations: map[string]string{"aliases": "berth image rm, berth image remove, berth rmi"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.force, "force", "f", false, "Force removal of the image")
	flags.BoolVar(&opts.noPrune, "no-prune", false, "Do not delete untagged parents")
	flags.StringSliceVar(&opts.platforms, "platform", nil, `Remove only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

func newImageRemoveCommand(c *CLI) *cobra.Command {
	cmd := newRmiCommand(c)
	cmd.Use = "rm [OPTIONS] IMAGE [IMAGE...]"
	cmd.Aliases = []string{"rmi", "remove"}
	return cmd
}

// runRmi removes each image in turn, printing "Untagged:" and "Deleted:"
// lines. With -f, images that do not exist are only reported; any other
// failure still fails the command.
func runRmi(cmd *cobra.Command, c *CLI, images []string, opts *rmiOptions) error {
	ro := client.ImageRemoveOptions{Force: opts.force, PruneChildren: !opts.noPrune}
	for _, s := range opts.platforms {
		p, err := parsePlatform(s)
		if err != nil {
			return err
		}
		ro.Platforms = append(ro.Platforms, p)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var errs []string
	fatal := false
	for _, img := range images {
		res, err := cl.ImageRemove(cmd.Context(), img, ro)
		if err != nil {
			if !errdefs.IsNotFound(err) {
				fatal = true
			}
			errs = append(errs, err.Error())
			continue
		}
		for _, del := range res.Items {
			if del.Deleted != "" {
				fmt.Fprintln(c.Out, "Deleted:", del.Deleted)
			} else {
				fmt.Fprintln(c.Out, "Untagged:", del.Untagged)
			}
		}
	}
	if len(errs) > 0 {
		msg := strings.Join(errs, "\n")
		if !opts.force || fatal {
			return StatusError{StatusCode: 1, Status: msg}
		}
		fmt.Fprintln(c.Err, msg)
	}
	return nil
}
