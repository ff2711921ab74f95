package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// addContainerFilesCommands adds diff, export, commit and cp, which read
// or write a container's filesystem, at top level and under "berth
// container".
func addContainerFilesCommands(c *CLI, g commandGroups) {
	for _, parent := range []*cobra.Command{g.root, g.container} {
		parent.AddCommand(newDiffCommand(c), newExportCommand(c), newCommitCommand(c), newCopyCommand(c))
	}
}

func newDiffCommand(c *CLI) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerDiff(cmd.Context(), args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				fmt.Fprintf(c.Out, "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
		Annotations: map[string]string{"aliases": "berth container diff, berth diff"},
	}
}

func newExportCommand(c *CLI) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return writeArchive(c, output, "failed to export container", func() (io.ReadCloser, error) {
				cl, err := c.Client()
				if err != nil {
					return nil, err
				}
				return cl.ContainerExport(cmd.Context(), args[0], client.ContainerExportOptions{})
			})
		},
		Annotations: map[string]string{"aliases": "berth container export, berth export"},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

func newCommitCommand(c *CLI) *cobra.Command {
	var (
		opts    client.ContainerCommitOptions
		changes stringsFlag
		pause   bool
	)
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				opts.Reference = args[1]
			}
			if cmd.Flag("pause").Changed {
				if cmd.Flag("no-pause").Changed {
					return errors.New("conflicting options: --no-pause and --pause cannot be used together")
				}
				opts.NoPause = !pause
			}
			opts.Changes = changes.values
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerCommit(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.Out, res.ID)
			return nil
		},
		Annotations: map[string]string{"aliases": "berth container commit, berth commit"},
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	flags.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	flags.BoolVar(&opts.NoPause, "no-pause", false, "Disable pausing container during commit")
	flags.StringVarP(&opts.Comment, "message", "m", "", "Commit message")
	flags.StringVarP(&opts.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	flags.VarP(&changes, "change", "c", "Apply Dockerfile instruction to the created image")
	return cmd
}
