package cli

import (
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

type importOptions struct {
	changes  stringsFlag
	message  string
	platform string
}

func newImportCommand(c *CLI) *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) > 1 {
				ref = args[1]
			}
			return runImport(cmd, c, args[0], ref, &opts)
		},
		Annotations: map[string]string{"aliases": "berth image import, berth import"},
	}
	flags := cmd.Flags()
	flags.VarP(&opts.changes, "change", "c", "Apply Dockerfile instruction to the created image")
	flags.StringVarP(&opts.message, "message", "m", "", "Set commit message for imported image")
	flags.StringVar(&opts.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	return cmd
}

// runImport sends a tarball from a file or stdin, or has the daemon fetch
// a URL, and prints the daemon's answer: the new image ID.
func runImport(cmd *cobra.Command, c *CLI, source, ref string, opts *importOptions) error {
	var src client.ImageImportSource
	switch {
	case source == "-":
		src = client.ImageImportSource{Source: c.In, SourceName: "-"}
	case strings.HasPrefix(source, "https://"), strings.HasPrefix(source, "http://"):
		src = client.ImageImportSource{SourceName: source}
	default:
		f, err := os.Open(source)
		if err != nil {
			return err
		}
		defer f.Close()
		src = client.ImageImportSource{Source: f, SourceName: "-"}
	}
	var io client.ImageImportOptions
	io.Message = opts.message
	io.Changes = opts.changes.values
	if opts.platform != "" {
		p, err := parsePlatform(opts.platform)
		if err != nil {
			return err
		}
		io.Platform = p
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ImageImport(cmd.Context(), src, ref, io)
	if err != nil {
		return err
	}
	defer body.Close()
	return displayJSONStream(cmd.Context(), body, c.Out)
}
