package cli

import (
	"fmt"
	"io"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// addContainerFilesCommands adds diff and export, which read a container's
// filesystem, at top level and under "berth container".
func addContainerFilesCommands(c *CLI, g commandGroups) {
	for _, parent := range []*cobra.Command{g.root, g.container} {
		parent.AddCommand(newDiffCommand(c), newExportCommand(c))
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
