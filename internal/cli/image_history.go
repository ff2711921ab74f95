package cli

import (
	"fmt"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type historyOptions struct {
	platform string
	human    bool
	quiet    bool
	noTrunc  bool
	format   string
}

func newHistoryCommand(c *CLI) *cobra.Command {
	var opts historyOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHistory(cmd, c, args[0], &opts)
		},
		Annotations: map[string]string{"aliases": "berth image history, berth history"},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.human, "human", "H", true, "Print sizes and dates in human readable format")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Only show image IDs")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	flags.StringVar(&opts.format, "format", "", formatHelp)
	flags.StringVar(&opts.platform, "platform", "", `Show history for the given platform. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

func runHistory(cmd *cobra.Command, c *CLI, image string, opts *historyOptions) error {
	var ho []client.ImageHistoryOption
	if opts.platform != "" {
		p, err := parsePlatform(opts.platform)
		if err != nil {
			return fmt.Errorf("invalid platform: %w", err)
		}
		ho = append(ho, client.ImageHistoryWithPlatform(p))
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageHistory(cmd.Context(), image, ho...)
	if err != nil {
		return err
	}
	format := opts.format
	if format == "" {
		format = formatter.TableFormatKey
	}
	ctx := formatter.Context{
		Output: c.Out,
		Format: formatter.NewHistoryFormat(format, opts.quiet, opts.human),
		Trunc:  !opts.noTrunc,
	}
	return formatter.HistoryWrite(ctx, opts.human, res.Items)
}
