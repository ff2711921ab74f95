package cli

import (
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type logsOptions struct {
	follow     bool
	since      string
	until      string
	timestamps bool
	details    bool
	tail       string
}

func newLogsCommand(c *CLI) *cobra.Command {
	var opts logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd, c, args[0], &opts)
		},
		Annotations: map[string]string{"aliases": "berth container logs, berth logs"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.follow, "follow", "f", false, "Follow log output")
	flags.StringVar(&opts.since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	flags.StringVar(&opts.until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	flags.BoolVarP(&opts.timestamps, "timestamps", "t", false, "Show timestamps")
	flags.BoolVar(&opts.details, "details", false, "Show extra details provided to logs")
	flags.StringVarP(&opts.tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// runLogs asks inspect first, as docker does: a container with a TTY has
// one raw stream, any other has stdout and stderr multiplexed.
func runLogs(cmd *cobra.Command, c *CLI, name string, opts *logsOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	ctr, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	rc, err := cl.ContainerLogs(ctx, ctr.Container.ID, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Since:      opts.since,
		Until:      opts.until,
		Timestamps: opts.timestamps,
		Follow:     opts.follow,
		Tail:       opts.tail,
		Details:    opts.details,
	})
	if err != nil {
		return err
	}
	defer rc.Close()
	if ctr.Container.Config != nil && ctr.Container.Config.Tty {
		_, err = io.Copy(c.Out, rc)
	} else {
		_, err = stdcopy.StdCopy(c.Out, c.Err, rc)
	}
	return err
}
