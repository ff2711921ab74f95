package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type loadOptions struct {
	input    string
	quiet    bool
	platform string
}

func newLoadCommand(c *CLI) *cobra.Command {
	var opts loadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoad(cmd, c, &opts)
		},
		Annotations: map[string]string{"aliases": "berth image load, berth load"},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	flags.BoolVarP(&opts.quiet, "quiet", "q", false, "Suppress the load output")
	flags.StringVar(&opts.platform, "platform", "", `Load only the given platform variant. Formatted as "os[/arch[/variant]]" (e.g., "linux/amd64")`)
	return cmd
}

// runLoad streams the archive to the daemon. Progress bars are asked for
// only when they can be drawn: -q, or an output that is not a terminal,
// get the daemon's quiet "Loaded image: ..." lines.
func runLoad(cmd *cobra.Command, c *CLI, opts *loadOptions) error {
	var input io.Reader = c.In
	if opts.input == "" {
		if c.InIsTerminal() {
			return errors.New("requested load from stdin, but stdin is empty")
		}
	} else {
		f, err := os.Open(opts.input)
		if err != nil {
			return err
		}
		defer f.Close()
		input = f
	}
	var lo []client.ImageLoadOption
	if opts.quiet || !c.OutIsTerminal() {
		lo = append(lo, client.ImageLoadWithQuiet(true))
	}
	platforms, err := parsePlatforms(opts.platform)
	if err != nil {
		return fmt.Errorf("invalid platform: %w", err)
	}
	if len(platforms) > 0 {
		lo = append(lo, client.ImageLoadWithPlatforms(platforms...))
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageLoad(cmd.Context(), input, lo...)
	if err != nil {
		return err
	}
	defer res.Close()
	return displayJSONStream(cmd.Context(), res, c.Out)
}
