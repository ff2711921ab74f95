package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newTopCommand(c *CLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerTop(cmd.Context(), args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.Out, 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(res.Titles, "\t"))
			for _, proc := range res.Processes {
				fmt.Fprintln(w, strings.Join(proc, "\t"))
			}
			return w.Flush()
		},
		Annotations: map[string]string{"aliases": "berth container top, berth top"},
	}
	// Everything after the container name belongs to ps: "top web -o pid,args".
	cmd.Flags().SetInterspersed(false)
	return cmd
}
