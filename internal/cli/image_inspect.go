package cli

import (
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func newImageInspectCommand(c *CLI) *cobra.Command {
	var format, platform string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] IMAGE [IMAGE...]",
		Short: "Display detailed information on one or more images",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []client.ImageInspectOption
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts = append(opts, client.ImageInspectWithPlatform(&p))
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return inspectAll(c.Out, args, format, inspectImage(cmd, cl, opts...))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&format, "format", "f", "", inspectFormatHelp)
	flags.StringVar(&platform, "platform", "", `Inspect a specific platform of the multi-platform image.
If the image or the server is not multi-platform capable, the command will error out if the platform does not match.
'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)`)
	return cmd
}
