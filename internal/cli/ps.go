package cli

import (
	"fmt"
	"io"

	"github.com/berth-dev/berth/internal/cli/formatter"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// formatHelp and inspectFormatHelp are docker's --format help texts.
const (
	formatHelp = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`
	inspectFormatHelp = `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`
)

type psOptions struct {
	quiet       bool
	size        bool
	sizeChanged bool
	all         bool
	noTrunc     bool
	nLatest     bool
	last        int
	format      string
	filter      *filterFlag
}

func newPsCommand(c *CLI) *cobra.Command {
	opts := psOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.sizeChanged = cmd.Flags().Changed("size")
			return runPs(cmd, c, &opts)
		},
		Annotations: map[string]string{
			"aliases": "berth container ls, berth container list, berth container ps, berth ps",
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Only display container IDs")
	flags.BoolVarP(&opts.size, "size", "s", false, "Display total file sizes")
	flags.BoolVarP(&opts.all, "all", "a", false, "Show all containers (default shows just running)")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	flags.BoolVarP(&opts.nLatest, "latest", "l", false, "Show the latest created container (includes all states)")
	flags.IntVarP(&opts.last, "last", "n", -1, "Show n last created containers (includes all states)")
	flags.StringVar(&opts.format, "format", "", formatHelp)
	flags.VarP(opts.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func newContainerListCommand(c *CLI) *cobra.Command {
	cmd := newPsCommand(c)
	cmd.Use = "ls [OPTIONS]"
	cmd.Aliases = []string{"ps", "list"}
	return cmd
}

// psListOptions builds the API request. A --format template is run once on
// an empty row first, both to report template errors before any request
// and to learn whether it shows .Size, which the daemon computes only on
// request because it is costly.
func psListOptions(opts *psOptions) (client.ContainerListOptions, error) {
	lo := client.ContainerListOptions{
		All:     opts.all,
		Limit:   opts.last,
		Size:    opts.size,
		Filters: opts.filter.Value(),
	}
	if opts.nLatest && opts.last == -1 {
		lo.Limit = 1
	}
	if opts.format != "" {
		tmpl, err := formatter.ParseTemplate(opts.format)
		if err != nil {
			return lo, fmt.Errorf("failed to parse template: %w", err)
		}
		probe := formatter.NewContainerContext()
		if err := tmpl.Execute(io.Discard, probe); err != nil {
			return lo, fmt.Errorf("failed to execute template: %w", err)
		}
		if !opts.quiet && !lo.Size && !opts.sizeChanged {
			if _, ok := probe.FieldsUsed["Size"]; ok {
				lo.Size = true
			}
		}
	}
	return lo, nil
}

func runPs(cmd *cobra.Command, c *CLI, opts *psOptions) error {
	if opts.format == "" {
		opts.format = c.ConfigFile().PsFormat
	} else if opts.quiet {
		fmt.Fprintln(c.Err, "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	lo, err := psListOptions(opts)
	if err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerList(cmd.Context(), lo)
	if err != nil {
		return err
	}
	ctx := formatter.Context{
		Output: c.Out,
		Format: formatter.NewContainerFormat(opts.format, opts.quiet, lo.Size),
		Trunc:  !opts.noTrunc,
	}
	return formatter.ContainerWrite(ctx, res.Items)
}
